import Foundation
import SheafCore

/// The model settings of one call, resolved from flags, environment and the record's `llm`.
public struct LLMSettings: Sendable {
  /// Provider name (`openai`, `anthropic`, `ollama`, `offline`).
  public var provider: String
  /// Model name.
  public var model: String
  /// Base URL (`nil`: the provider's default).
  public var baseURL: String?
  /// Sampling and length parameters that go into the request, in order (`temperature`,
  /// `max_tokens`, `top_p`, `seed`, `stop` …), as JSON text.
  public var parameters: [(key: String, value: String)]
  /// How a JSON section's structure is asked for: natively (the provider's structured output),
  /// as JSON mode, or by the prompt alone (after a server refused the others).
  public var structured = StructuredOutput.native

  /// The `llm` keys that shape a request (the contract's list).
  public static let requestKeys = ProviderNames.requestKeys

  /// The parameter `key` as JSON.
  func parameter(_ key: String) -> JSON? {
    parameters.first { $0.key == key }.flatMap { try? JSON.parse($0.value) }
  }

  /// The settings with `key` set to `value` (replaced where it was, else added).
  func setting(_ key: String, _ value: JSON) -> LLMSettings {
    var copy = self
    if let index = copy.parameters.firstIndex(where: { $0.key == key }) {
      copy.parameters[index].value = value.compactText
    } else {
      copy.parameters.append((key, value.compactText))
    }
    return copy
  }

  /// The request body with `llm.extra` merged into it (its keys win; objects nest).
  func withExtra(_ body: JSON) -> JSON {
    guard let extra = parameter("extra"), extra.kind == .object else { return body }
    return JSON.merged([body, extra])
  }
}

/// How a JSON section is asked for.
public enum StructuredOutput: Int, Sendable, Comparable {
  /// The provider's structured output with the schema (OpenAI `json_schema`, Ollama `format`,
  /// Anthropic a forced tool).
  case native
  /// JSON without the schema (OpenAI `json_object`, Ollama `format: "json"`).
  case jsonMode
  /// The prompt alone.
  case promptOnly

  public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

  /// In words, for the message that says a server refused one.
  public var words: String {
    switch self {
    case .native: return "structured output with the schema"
    case .jsonMode: return "JSON mode"
    case .promptOnly: return "the prompt alone"
    }
  }
}

/// One message of a conversation.
public struct Message: Sendable {
  /// `system`, `user` or `assistant`.
  public var role: String
  /// The text.
  public var content: String
}

/// What a section is about, for the offline provider (which writes from it) and for messages.
public struct SectionBrief: Sendable {
  /// The section's title.
  public var title: String
  /// What it should say.
  public var description: String
  /// Extra instructions, if any.
  public var instructions: String?
  /// The document's title.
  public var docTitle: String?
  /// The word range its format asks for.
  public var targetWords: ClosedRange<Int>?
  /// Whether its format is JSON, and the JSON Schema it gives (compact text), if any.
  public var wantsJSON = false
  public var jsonSchema: String?
}

/// What a provider needs to make a request.
public struct LLMCall: Sendable {
  /// Section id (for messages).
  public var id: String
  /// The conversation.
  public var messages: [Message]
  /// Resolved settings.
  public var settings: LLMSettings
  /// The section the call is for.
  public var brief: SectionBrief
}

/// An HTTP request, ready for libcurl.
public struct HTTPRequest: Sendable {
  /// Full URL.
  public var url: String
  /// Header lines (`Name: value`); the ones that carry a key are never logged.
  public var headers: [String]
  /// JSON body.
  public var body: String
}

/// A piece of a streamed answer, whatever the wire format.
public enum StreamPiece: Equatable, Sendable {
  /// Answer text.
  case text(String)
  /// Thinking sent in its own field.
  case reasoning(String)
  /// Token counts as the provider reported them (either may come alone).
  case usage(input: Int?, output: Int?)
  /// Input tokens read from the provider's prompt cache, and written to it.
  case cached(read: Int?, written: Int?)
  /// The provider's reason for stopping.
  case finish(String?)
  /// An error inside the stream.
  case error(SheafError)
}

/// Turns a provider's response bytes into pieces.
public protocol StreamDecoder {
  /// Feeds bytes, split anywhere.
  mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [StreamPiece]
  /// Ends the stream.
  mutating func finish() -> [StreamPiece]
  /// How many events (or lines) the stream held so far, answer or not.
  var eventCount: Int { get }
}

/// A provider: it builds requests, decodes streams and maps errors.
///
/// The transport (libcurl, or
/// the offline writer) is the engine's; this is the only seam between sheaf and a wire format.
public protocol Provider: Sendable {
  /// The name users give.
  var name: String { get }
  /// The environment variable the API key comes from, if the provider uses one.
  var keyVariable: String? { get }
  /// The base URL when none is given.
  func defaultBaseURL(environment: [String: String]) -> String
  /// The request for a call.
  func request(_ call: LLMCall, baseURL: String, apiKey: String?) -> HTTPRequest
  /// A decoder for one response stream.
  func makeDecoder() -> any StreamDecoder
  /// The error for a non-2xx response.
  func error(status: Int, body: String, retryAfter: Double?, baseURL: String, model: String)
    -> SheafError
  /// The error for a connection that could not be made.
  func unreachable(_ detail: String, baseURL: String) -> SheafError
  /// Whether its requests go over the network (`false`: the offline transport writes them).
  var usesNetwork: Bool { get }
  /// The pieces of a whole (non-streamed) JSON answer, for servers that answer a streamed request
  /// with one body.
  func wholeAnswer(_ body: JSON) -> [StreamPiece]
  /// Whether a last assistant message is continued by the model (Anthropic's prefill), so a
  /// truncated answer is continued without a user turn asking for it.
  var continuesAssistant: Bool { get }
  /// Whether the request wraps a JSON section's schema under `value` (its answer is unwrapped).
  func wrapsSchema(_ call: LLMCall) -> Bool
}

extension Provider {
  public var usesNetwork: Bool { true }
  public var continuesAssistant: Bool { false }
  public func wrapsSchema(_ call: LLMCall) -> Bool { false }
  public func wholeAnswer(_ body: JSON) -> [StreamPiece] { [] }

  /// The error for a non-2xx response: the provider's own message and code from its body (every
  /// provider's error body has one of the shapes `ProviderErrors.parseBody` reads), mapped to the
  /// contract's types.
  public func error(status: Int, body: String, retryAfter: Double?, baseURL: String, model: String)
    -> SheafError
  {
    let (message, code) = ProviderErrors.parseBody(body)
    return ProviderErrors.map(
      status: status, message: message, code: code, provider: name, keyVariable: keyVariable,
      retryAfter: retryAfter, model: model)
  }
}

/// The providers sheaf knows, by name (the offline provider is built in and needs no HTTP).
public enum ProviderRegistry {
  /// Every name, for messages.
  public static let names = ProviderNames.all

  /// The provider called `name` (the offline one answers with `seed`), or `nil` when unknown.
  public static func provider(_ name: String, seed: UInt64 = 0) -> (any Provider)? {
    switch name {
    case "openai": return OpenAIProvider()
    case "anthropic": return AnthropicProvider()
    case "ollama": return OllamaProvider()
    case "offline": return OfflineProvider(seed: seed)
    default: return nil
    }
  }
}

/// How HTTP failures map to the contract's error types, shared by every provider.
enum ProviderErrors {
  /// Words in a provider's message that mean the prompt was too long.
  static let contextWords = [
    "context_length", "context length", "maximum context", "too many tokens", "prompt is too long",
    "context window", "reduce the length", "input is too long",
  ]

  /// Maps a status and the provider's own message.
  static func map(
    status: Int, message: String, code: String?, provider: String, keyVariable: String?,
    retryAfter: Double?, model: String
  ) -> SheafError {
    let said = message.isEmpty ? "HTTP \(status)" : message
    let text = "\(provider) answered \(status): \(said)"
    let lower = (message + " " + (code ?? "")).lowercased()
    if [400, 402, 403, 429].contains(status)
      && ["credit balance", "insufficient_quota", "billing", "quota"].contains(
        where: lower.contains)
    {
      return SheafError(
        .quota, text,
        hint:
          "the account is out of credit or quota: add credit or raise the limit in the provider's billing settings, then run again",
        httpStatus: status)
    }
    if [400, 413, 422].contains(status) && contextWords.contains(where: lower.contains) {
      return SheafError(
        .contextLength, text,
        hint: "shorten the requirements or the context, or raise the model's context size",
        httpStatus: status)
    }
    switch status {
    case 401, 403:
      let hint =
        keyVariable.map { "set \($0) (or pass --api-key-env NAME)" }
        ?? "check the server's credentials"
      return SheafError(.auth, text, hint: hint, httpStatus: status)
    case 402:
      return SheafError(
        .quota, text, hint: "check the account's plan and billing", httpStatus: status)
    case 429:
      return SheafError(
        .rateLimited, text, retryable: true, hint: "wait, or lower -j", httpStatus: status,
        retryAfterS: retryAfter)
    case 404 where lower.contains("model"):
      let hint = provider == "ollama" ? "ollama pull \(model)" : "check the model name ('\(model)')"
      return SheafError(.badRequest, text, hint: hint, httpStatus: status)
    case 400, 404, 405, 413, 422:
      return SheafError(
        .badRequest, text, hint: "check the model name and the llm settings", httpStatus: status)
    case 408:
      return SheafError(
        .timeout, text, retryable: true, hint: "the server timed out; it is retried",
        httpStatus: status, retryAfterS: retryAfter)
    case 409, 500...599:
      let overloaded = status == 529 || lower.contains("overloaded")
      return SheafError(
        .provider, text, retryable: true,
        hint: overloaded
          ? "the provider is overloaded; try later or lower -j" : "a server error; it is retried",
        httpStatus: status, retryAfterS: retryAfter)
    default:
      return SheafError(.provider, text, retryable: false, httpStatus: status)
    }
  }

  /// The provider's message and code from an error body (`{"error":{"message","type","code"}}`,
  /// `{"error":"…"}`, or text).
  static func parseBody(_ body: String) -> (message: String, code: String?) {
    guard let json = try? JSON.parse(body) else {
      return (String(body.trimmed.prefix(300)), nil)
    }
    if let error = json["error"] {
      if let text = error.string { return (text, nil) }
      let code = error["code"]?.string ?? error["type"]?.string
      return (error["message"]?.string ?? error.compactText, code)
    }
    return (json["message"]?.string ?? String(body.prefix(300)), json["type"]?.string)
  }

  /// Joins a base URL and a path without doubling or losing the slash.
  static func join(_ base: String, _ path: String) -> String {
    var base = base
    while base.hasSuffix("/") { base.removeLast() }
    return base + path
  }

  /// The JSON array of messages.
  static func messagesJSON(_ messages: [Message]) -> JSON {
    .array(messages.map { .object(["role": JSON($0.role), "content": JSON($0.content)]) })
  }
}
