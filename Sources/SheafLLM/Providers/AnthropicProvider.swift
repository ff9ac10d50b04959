import SheafCore

/// Anthropic's Messages API, streaming: `message_start`, `content_block_delta` (text and
/// thinking), `message_delta` (usage, stop reason), `ping`, and `error` events mid-stream.
public struct AnthropicProvider: Provider {
  public let name = "anthropic"
  public let keyVariable: String? = "ANTHROPIC_API_KEY"

  public func defaultBaseURL(environment: [String: String]) -> String {
    environment["ANTHROPIC_BASE_URL"] ?? "https://api.anthropic.com"
  }

  public func request(_ call: LLMCall, baseURL: String, apiKey: String?) -> HTTPRequest {
    let body = JSON.object()
    body["model"] = JSON(call.settings.model)
    let system = call.messages.filter { $0.role == "system" }.map(\.content).joined(
      separator: "\n\n")
    if !system.isEmpty {
      // What every section of a document shares comes first (the system message: the document
      // and its inputs), marked for the prompt cache unless llm.prompt_cache is false.
      if call.settings.parameter("prompt_cache")?.bool == false {
        body["system"] = JSON(system)
      } else {
        body["system"] = .array([
          .object([
            "type": JSON("text"), "text": JSON(system),
            "cache_control": .object(["type": JSON("ephemeral")]),
          ])
        ])
      }
    }
    body["messages"] = ProviderErrors.messagesJSON(call.messages.filter { $0.role != "system" })
    var maxTokens =
      call.settings.parameter("max_tokens")?.int
      ?? call.settings.parameter("max_completion_tokens")?.int ?? 4096
    let budget = call.settings.parameter("thinking_budget")?.int ?? 0
    // Thinking counts against max_tokens, which must stay above the budget; and the API takes
    // no sampling settings with thinking on.
    if budget > 0 && maxTokens <= budget { maxTokens += budget }
    body["max_tokens"] = JSON(maxTokens)
    if budget > 0 {
      body["thinking"] = .object(["type": JSON("enabled"), "budget_tokens": JSON(budget)])
    } else {
      for key in ["temperature", "top_p", "top_k"] {
        if let value = call.settings.parameter(key) { body[key] = value }
      }
    }
    // A JSON section: a forced tool whose input is the schema (not with thinking, which the API
    // does not allow with a forced tool); its input is the answer.
    if usesTool(call), let schema = StructuredSchema.schema(call) {
      body["tools"] = .array([
        .object([
          "name": JSON("answer"),
          "description": JSON("Give the answer for the section, as the schema says."),
          "input_schema": StructuredSchema.objectSchema(schema),
        ])
      ])
      body["tool_choice"] = .object(["type": JSON("tool"), "name": JSON("answer")])
    }
    if let stop = call.settings.parameter("stop") {
      body["stop_sequences"] = stop.kind == .string ? .array([stop]) : stop
    }
    body["stream"] = JSON(true)
    var headers = [
      "Content-Type: application/json", "Accept: text/event-stream",
      "anthropic-version: 2023-06-01",
    ]
    if let apiKey, !apiKey.isEmpty { headers.append("x-api-key: \(apiKey)") }
    var base = baseURL
    while base.hasSuffix("/") { base.removeLast() }
    let url = base.hasSuffix("/v1") ? base + "/messages" : base + "/v1/messages"
    return HTTPRequest(url: url, headers: headers, body: call.settings.withExtra(body).compactText)
  }

  public var continuesAssistant: Bool { true }

  private func usesTool(_ call: LLMCall) -> Bool {
    call.settings.structured == .native && StructuredSchema.schema(call) != nil
      && (call.settings.parameter("thinking_budget")?.int ?? 0) == 0
  }

  public func wrapsSchema(_ call: LLMCall) -> Bool {
    guard usesTool(call), let schema = StructuredSchema.schema(call) else { return false }
    return !StructuredSchema.isObject(schema)
  }

  /// `usage`: Anthropic counts cached input apart from `input_tokens`; sheaf's `input_tokens` is
  /// all of it, with the part read from the cache said apart.
  static func usagePieces(_ usage: JSON?) -> [StreamPiece] {
    let read = usage?["cache_read_input_tokens"]?.int
    let written = usage?["cache_creation_input_tokens"]?.int
    let input = usage?["input_tokens"]?.int.map { $0 + (read ?? 0) + (written ?? 0) }
    var out: [StreamPiece] = [.usage(input: input, output: usage?["output_tokens"]?.int)]
    if read != nil || written != nil { out.append(.cached(read: read, written: written)) }
    return out
  }

  /// A `message` object: its thinking and text blocks, stop reason and usage.
  public func wholeAnswer(_ body: JSON) -> [StreamPiece] {
    var out: [StreamPiece] = []
    for block in body["content"]?.array ?? [] {
      if let thinking = block["thinking"]?.string, !thinking.isEmpty {
        out.append(.reasoning(thinking))
      }
      if block["type"]?.string == "text", let text = block["text"]?.string, !text.isEmpty {
        out.append(.text(text))
      }
      if block["type"]?.string == "tool_use", let input = block["input"] {
        out.append(.text(input.compactText))
      }
    }
    out += Self.usagePieces(body["usage"])
    out.append(.finish(body["stop_reason"]?.string ?? "end_turn"))
    return out
  }

  public func makeDecoder() -> any StreamDecoder { Decoder() }

  public func unreachable(_ detail: String, baseURL: String) -> SheafError {
    SheafError(
      .network, "cannot reach \(baseURL): \(detail)", retryable: true,
      hint: "check the network and --base-url")
  }

  /// Decodes the named events.
  struct Decoder: SSEStreamDecoder {
    var sse = SSEParser()

    func pieces(_ event: SSEEvent) -> [StreamPiece] {
      guard let data = try? JSON.parse(event.data) else { return [] }
      let type = data["type"]?.string ?? event.name
      switch type {
      case "message_start":
        return AnthropicProvider.usagePieces(data["message"]?["usage"])
      case "content_block_start":
        // A block may start with text already in it.
        if let text = data["content_block"]?["text"]?.string, !text.isEmpty { return [.text(text)] }
        if let thinking = data["content_block"]?["thinking"]?.string, !thinking.isEmpty {
          return [.reasoning(thinking)]
        }
        return []
      case "content_block_delta":
        let delta = data["delta"]
        switch delta?["type"]?.string {
        case "text_delta": return delta?["text"]?.string.map { [.text($0)] } ?? []
        // A forced tool's input, streamed as JSON text: the answer.
        case "input_json_delta": return delta?["partial_json"]?.string.map { [.text($0)] } ?? []
        case "thinking_delta": return delta?["thinking"]?.string.map { [.reasoning($0)] } ?? []
        default: return []
        }
      case "message_delta":
        var out: [StreamPiece] = []
        if let output = data["usage"]?["output_tokens"]?.int {
          out.append(.usage(input: nil, output: output))
        }
        if let reason = data["delta"]?["stop_reason"]?.string { out.append(.finish(reason)) }
        return out
      case "error":
        let kind = data["error"]?["type"]?.string ?? "error"
        let message = data["error"]?["message"]?.string ?? event.data
        let text = "anthropic stream error (\(kind)): \(message)"
        switch kind {
        case "overloaded_error":
          return [
            .error(
              SheafError(
                .provider, text, retryable: true,
                hint: "the provider is overloaded; try later or lower -j", httpStatus: 529))
          ]
        case "rate_limit_error":
          return [
            .error(
              SheafError(
                .rateLimited, text, retryable: true, hint: "wait, or lower -j", httpStatus: 429))
          ]
        case "api_error":
          return [.error(SheafError(.provider, text, retryable: true, httpStatus: 500))]
        default:
          return [.error(SheafError(.provider, text, retryable: false))]
        }
      default:
        return []  // ping, content_block_stop, message_stop
      }
    }
  }
}
