import SheafCore

/// Ollama's native `/api/chat`: an NDJSON stream ending with an object that has `done`,
/// `done_reason`, `prompt_eval_count` and `eval_count`; `thinking` where the server sends it.
public struct OllamaProvider: Provider {
  public let name = "ollama"
  public let keyVariable: String? = nil

  public func defaultBaseURL(environment: [String: String]) -> String {
    guard var host = environment["OLLAMA_HOST"], !host.isEmpty else {
      return "http://localhost:11434"
    }
    if !host.contains("://") { host = "http://" + host }
    return host
  }

  public func request(_ call: LLMCall, baseURL: String, apiKey: String?) -> HTTPRequest {
    let body = JSON.object()
    body["model"] = JSON(call.settings.model)
    body["messages"] = ProviderErrors.messagesJSON(call.messages)
    body["stream"] = JSON(true)
    let options = JSON.object()
    for (key, option) in [
      ("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("seed", "seed"),
      ("max_tokens", "num_predict"), ("max_completion_tokens", "num_predict"),
      ("context_window", "num_ctx"), ("num_ctx", "num_ctx"), ("stop", "stop"),
    ] where options[option] == nil {
      if let value = call.settings.parameter(key) { options[option] = value }
    }
    if options.count > 0 { body["options"] = options }
    // A JSON section: the schema as `format` (any root), else "json".
    if call.brief.wantsJSON, call.settings.structured != .promptOnly {
      let schema = StructuredSchema.schema(call)
      body["format"] =
        call.settings.structured == .native ? (schema ?? JSON("json")) : JSON("json")
    }
    var headers = ["Content-Type: application/json"]
    if let apiKey, !apiKey.isEmpty { headers.append("Authorization: Bearer \(apiKey)") }
    return HTTPRequest(
      url: ProviderErrors.join(baseURL, "/api/chat"), headers: headers,
      body: call.settings.withExtra(body).compactText)
  }

  /// One `/api/chat` object with `done: true`, as `"stream": false` gives.
  public func wholeAnswer(_ body: JSON) -> [StreamPiece] {
    Decoder().pieces(body.compactText)
  }

  public func makeDecoder() -> any StreamDecoder { Decoder() }

  public func unreachable(_ detail: String, baseURL: String) -> SheafError {
    SheafError(
      .network, "cannot reach \(baseURL): \(detail)", retryable: true,
      hint: "is `ollama serve` running at \(baseURL)? (OLLAMA_HOST or --base-url)")
  }

  /// Decodes one JSON object per line.
  struct Decoder: StreamDecoder {
    var lines = LineFramer()

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [StreamPiece] {
      lines.feed(bytes).flatMap(pieces)
        + (lines.overflowed ? [.error(StreamLimits.tooLong("a line"))] : [])
    }

    var eventCount: Int { lines.lineCount }

    mutating func finish() -> [StreamPiece] { lines.finish().flatMap(pieces) }

    func pieces(_ line: String) -> [StreamPiece] {
      guard let object = try? JSON.parse(line) else { return [] }
      if let message = object["error"]?.string {
        let notFound = message.lowercased().contains("not found")
        return [
          .error(
            SheafError(
              notFound ? .badRequest : .provider, "ollama stream error: \(message)",
              retryable: !notFound))
        ]
      }
      var out: [StreamPiece] = []
      if let thinking = object["message"]?["thinking"]?.string, !thinking.isEmpty {
        out.append(.reasoning(thinking))
      }
      if let text = object["message"]?["content"]?.string, !text.isEmpty { out.append(.text(text)) }
      if object["done"]?.bool == true {
        out.append(
          .usage(input: object["prompt_eval_count"]?.int, output: object["eval_count"]?.int))
        out.append(.finish(object["done_reason"]?.string ?? "stop"))
      }
      return out
    }
  }
}
