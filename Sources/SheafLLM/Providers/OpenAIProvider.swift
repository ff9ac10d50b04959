import SheafCore

/// Any OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, llama.cpp's server, LM Studio,
/// OpenRouter, Ollama's /v1): streaming SSE with usage in the last chunk.
public struct OpenAIProvider: Provider {
  /// The parameters passed through from `llm`.
  static let passed = [
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "reasoning_effort", "seed",
    "stop", "presence_penalty", "frequency_penalty", "response_format",
  ]

  public let name = "openai"
  public let keyVariable: String? = "OPENAI_API_KEY"

  public func defaultBaseURL(environment: [String: String]) -> String {
    environment["OPENAI_BASE_URL"] ?? "https://api.openai.com/v1"
  }

  public func request(_ call: LLMCall, baseURL: String, apiKey: String?) -> HTTPRequest {
    let body = JSON.object()
    body["model"] = JSON(call.settings.model)
    body["messages"] = ProviderErrors.messagesJSON(call.messages)
    body["stream"] = JSON(true)
    body["stream_options"] = .object(["include_usage": JSON(true)])
    for key in Self.passed { if let value = call.settings.parameter(key) { body[key] = value } }
    // Reasoning models take max_completion_tokens and refuse max_tokens: never both.
    if body["max_completion_tokens"] != nil { body["max_tokens"] = nil }
    // A JSON section: structured output with its schema, else JSON mode, unless the plan chose.
    if call.brief.wantsJSON, body["response_format"] == nil {
      let schema = StructuredSchema.schema(call)
      switch call.settings.structured {
      case .native where schema != nil:
        let object = StructuredSchema.objectSchema(schema ?? JSON.object())
        body["response_format"] = .object([
          "type": JSON("json_schema"),
          "json_schema": .object([
            "name": JSON(StructuredSchema.name(call)), "schema": object,
            "strict": JSON(StructuredSchema.isStrict(object)),
          ]),
        ])
      case .native, .jsonMode:
        // JSON mode answers an object: only for a schema whose root is one.
        if schema.map(StructuredSchema.isObject) ?? true {
          body["response_format"] = .object(["type": JSON("json_object")])
        }
      case .promptOnly: break
      }
    }
    var headers = ["Content-Type: application/json", "Accept: text/event-stream"]
    if let apiKey, !apiKey.isEmpty { headers.append("Authorization: Bearer \(apiKey)") }
    return HTTPRequest(
      url: ProviderErrors.join(baseURL, "/chat/completions"), headers: headers,
      body: call.settings.withExtra(body).compactText)
  }

  /// A `chat.completion` object: the first choice's message, its finish reason, and the usage.
  public func wholeAnswer(_ body: JSON) -> [StreamPiece] {
    var out: [StreamPiece] = []
    if let choice = body["choices"]?.array?.first {
      let message = choice["message"]
      if let reasoning = message?["reasoning_content"]?.string ?? message?["reasoning"]?.string,
        !reasoning.isEmpty
      {
        out.append(.reasoning(reasoning))
      }
      if let text = message?["content"]?.string, !text.isEmpty { out.append(.text(text)) }
      out.append(.finish(choice["finish_reason"]?.string ?? "stop"))
    }
    if let usage = body["usage"], usage.kind == .object { out += Self.usagePieces(usage) }
    return out
  }

  /// `usage`: prompt and completion tokens, and the prompt tokens served from the cache.
  static func usagePieces(_ usage: JSON) -> [StreamPiece] {
    var out: [StreamPiece] = [
      .usage(input: usage["prompt_tokens"]?.int, output: usage["completion_tokens"]?.int)
    ]
    if let cached = usage["prompt_tokens_details"]?["cached_tokens"]?.int {
      out.append(.cached(read: cached, written: nil))
    }
    return out
  }

  public func makeDecoder() -> any StreamDecoder { Decoder() }

  public func wrapsSchema(_ call: LLMCall) -> Bool {
    guard call.settings.structured == .native, call.settings.parameter("response_format") == nil,
      let schema = StructuredSchema.schema(call)
    else { return false }
    return !StructuredSchema.isObject(schema)
  }

  public func unreachable(_ detail: String, baseURL: String) -> SheafError {
    SheafError(
      .network, "cannot reach \(baseURL): \(detail)", retryable: true,
      hint: "is the server at \(baseURL) running? (--base-url or SHEAF_BASE_URL)")
  }

  /// Decodes `data: {…}` chunks up to `data: [DONE]`.
  struct Decoder: SSEStreamDecoder {
    var sse = SSEParser()

    func pieces(_ event: SSEEvent) -> [StreamPiece] {
      if event.data == "[DONE]" { return [] }
      guard let chunk = try? JSON.parse(event.data) else { return [] }
      if let error = chunk["error"] {
        let message = error["message"]?.string ?? error.string ?? error.compactText
        return [.error(SheafError(.provider, "openai stream error: \(message)", retryable: true))]
      }
      var out: [StreamPiece] = []
      if let choice = chunk["choices"]?.array?.first {
        let delta = choice["delta"]
        if let reasoning = delta?["reasoning_content"]?.string ?? delta?["reasoning"]?.string,
          !reasoning.isEmpty
        {
          out.append(.reasoning(reasoning))
        }
        if let text = delta?["content"]?.string, !text.isEmpty { out.append(.text(text)) }
        if let reason = choice["finish_reason"]?.string { out.append(.finish(reason)) }
      }
      if let usage = chunk["usage"], usage.kind == .object {
        out += OpenAIProvider.usagePieces(usage)
      }
      return out
    }
  }
}
