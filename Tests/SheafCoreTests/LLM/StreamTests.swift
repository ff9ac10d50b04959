import Foundation
import Testing

@testable import SheafCore
@testable import SheafLLM

/// What a decoder makes of a whole stream.
struct Decoded: Equatable {
  var text = ""
  var reasoning = ""
  var input: Int?
  var output: Int?
  var cached: Int?
  var finish: String?
  var errors: [SheafError] = []
}

func fixture(_ name: String) throws -> [UInt8] {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/\(name)")
  return Array(try Data(contentsOf: url))
}

/// Decodes `bytes` fed in two pieces split at `split` (every split point is tried by callers).
func decode(_ provider: any Provider, _ bytes: [UInt8], split: Int) -> Decoded {
  var decoder = provider.makeDecoder()
  var pieces: [StreamPiece] = []
  bytes.withUnsafeBytes { raw in
    pieces += decoder.feed(UnsafeRawBufferPointer(rebasing: raw[..<split]))
    pieces += decoder.feed(UnsafeRawBufferPointer(rebasing: raw[split...]))
  }
  pieces += decoder.finish()
  var result = Decoded()
  for piece in pieces {
    switch piece {
    case .text(let text): result.text += text
    case .reasoning(let text): result.reasoning += text
    case .usage(let input, let output):
      if let input { result.input = input }
      if let output { result.output = output }
    case .cached(let read, _): if let read { result.cached = read }
    case .finish(let reason): result.finish = reason
    case .error(let error): result.errors.append(error)
    }
  }
  return result
}

struct ProviderConformanceTests {
  static let cases: [(file: String, provider: String, expected: Decoded)] = [
    (
      "openai-stream.sse", "openai",
      Decoded(text: "Hello wörld 👋", input: 9, output: 3, finish: "stop")
    ),
    (
      "openai-reasoning.sse", "openai",
      Decoded(
        text: "Answer.", reasoning: "Let me think. Two parts.", input: 20, output: 9,
        finish: "length")
    ),
    (
      "anthropic-stream.sse", "anthropic",
      Decoded(text: "Hello!", input: 25, output: 15, finish: "end_turn")
    ),
    (
      "anthropic-thinking.sse", "anthropic",
      Decoded(
        text: "The GCD is 21.", reasoning: "I need to find the GCD of 1071 and 462.", input: 40,
        output: 230, finish: "end_turn")
    ),
    (
      "ollama-stream.ndjson", "ollama",
      Decoded(text: "The sky is blue.", input: 26, output: 282, finish: "stop")
    ),
    (
      "ollama-thinking.ndjson", "ollama",
      Decoded(
        text: "There are three.", reasoning: "Counting letters.", input: 18, output: 40,
        finish: "length")
    ),
  ]

  @Test(arguments: cases.map(\.file))
  func decodesTheDocumentedStreamSplitAnywhere(_ file: String) throws {
    let entry = try #require(Self.cases.first { $0.file == file })
    let provider = try #require(ProviderRegistry.provider(entry.provider))
    let bytes = try fixture(file)
    for split in 0...bytes.count {
      let got = decode(provider, bytes, split: split)
      #expect(got == entry.expected, "split at byte \(split)")
      if got != entry.expected { break }
    }
  }

  @Test(arguments: [
    ("openai-error.sse", "openai", ErrorType.provider, true),
    ("anthropic-error.sse", "anthropic", .provider, true),
    ("ollama-error.ndjson", "ollama", .provider, true),
  ])
  func midStreamErrorsBecomeErrors(
    _ file: String, _ name: String, _ type: ErrorType, _ retryable: Bool
  ) throws {
    let provider = try #require(ProviderRegistry.provider(name))
    let got = decode(provider, try fixture(file), split: 10)
    #expect(got.text == "Part")
    #expect(got.errors.count == 1)
    #expect(got.errors.first?.type == type)
    #expect(got.errors.first?.retryable == retryable)
  }

  @Test func errorBodiesMapToTypesWithHints() {
    let openai = OpenAIProvider()
    let auth = openai.error(
      status: 401,
      body:
        #"{"error":{"message":"Incorrect API key provided: sk-abc***","type":"invalid_request_error","code":"invalid_api_key"}}"#,
      retryAfter: nil, baseURL: "u", model: "m")
    #expect(
      auth.type == .auth && auth.hint == "set OPENAI_API_KEY (or pass --api-key-env NAME)"
        && !auth.retryable)
    let quota = openai.error(
      status: 429,
      body:
        #"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
      retryAfter: nil, baseURL: "u", model: "m")
    #expect(quota.type == .quota && !quota.retryable)
    let limited = openai.error(
      status: 429,
      body: #"{"error":{"message":"Rate limit reached","code":"rate_limit_exceeded"}}"#,
      retryAfter: 20, baseURL: "u", model: "m")
    #expect(limited.type == .rateLimited && limited.retryable && limited.retryAfterS == 20)
    let context = openai.error(
      status: 400,
      body:
        #"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#,
      retryAfter: nil, baseURL: "u", model: "m")
    #expect(context.type == .contextLength && !context.retryable)
    let bad = openai.error(
      status: 400, body: #"{"error":{"message":"Invalid value for 'temperature'"}}"#,
      retryAfter: nil, baseURL: "u", model: "m")
    #expect(
      bad.type == .badRequest && !bad.retryable
        && bad.message.contains("Invalid value for 'temperature'"))
    let overloaded = AnthropicProvider().error(
      status: 529,
      body: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
      retryAfter: nil, baseURL: "u", model: "m")
    #expect(
      overloaded.type == .provider && overloaded.retryable
        && overloaded.hint?.contains("overloaded") == true)
    let tooLong = AnthropicProvider().error(
      status: 400,
      body:
        #"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
      retryAfter: nil, baseURL: "u", model: "m")
    #expect(tooLong.type == .contextLength)
    let missing = OllamaProvider().error(
      status: 404, body: #"{"error":"model 'llama9' not found, try pulling it first"}"#,
      retryAfter: nil, baseURL: "u", model: "llama9")
    #expect(missing.type == .badRequest && missing.hint == "ollama pull llama9")
    for status in [408, 409, 500, 502, 503, 504, 529] {
      #expect(
        openai.error(status: status, body: "", retryAfter: nil, baseURL: "u", model: "m").retryable,
        "\(status) is retryable")
    }
    for status in [400, 401, 403, 404] {
      #expect(
        !openai.error(status: status, body: "", retryAfter: nil, baseURL: "u", model: "m")
          .retryable, "\(status) is not retryable")
    }
  }

  @Test func requestsCarryTheProvidersShape() throws {
    let call = LLMCall(
      id: "a",
      messages: [
        Message(role: "system", content: "Be brief."), Message(role: "user", content: "Hi"),
      ],
      settings: LLMSettings(
        provider: "x", model: "m", baseURL: nil,
        parameters: [("temperature", "0.7"), ("max_tokens", "100")]),
      brief: SectionBrief(
        title: "A", description: "", instructions: nil, docTitle: nil, targetWords: nil))
    let openai = OpenAIProvider().request(call, baseURL: "http://h/v1/", apiKey: "k1")
    #expect(openai.url == "http://h/v1/chat/completions")
    #expect(
      openai.body
        == #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true,"stream_options":{"include_usage":true},"temperature":0.7,"max_tokens":100}"#
    )
    #expect(openai.headers.contains("Authorization: Bearer k1"))
    let anthropic = AnthropicProvider().request(call, baseURL: "http://h", apiKey: "k2")
    #expect(anthropic.url == "http://h/v1/messages")
    #expect(
      anthropic.body
        == #"{"model":"m","system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"Hi"}],"max_tokens":100,"temperature":0.7,"stream":true}"#
    )
    #expect(
      anthropic.headers.contains("x-api-key: k2")
        && anthropic.headers.contains("anthropic-version: 2023-06-01"))
    let ollama = OllamaProvider().request(call, baseURL: "http://h:11434", apiKey: nil)
    #expect(ollama.url == "http://h:11434/api/chat")
    #expect(
      ollama.body
        == #"{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"stream":true,"options":{"temperature":0.7,"num_predict":100}}"#
    )
    #expect(
      OllamaProvider().defaultBaseURL(environment: ["OLLAMA_HOST": "0.0.0.0:9999"])
        == "http://0.0.0.0:9999")
  }
}

struct SSEParserTests {
  @Test func followsTheStandard() {
    var parser = SSEParser()
    let events = parser.feed(
      ": comment\r\nevent: update\r\ndata: one\r\ndata:two\r\nid: 7\r\n\r\ndata\n\ndata: x\rdata: y\r\r"
    )
    #expect(
      events == [
        SSEEvent(name: "update", data: "one\ntwo"), SSEEvent(name: "message", data: ""),
        SSEEvent(name: "message", data: "x\ny"),
      ])
  }

  @Test func aCRAtTheEndOfOneReadPairsWithAnLFInTheNext() {
    var parser = SSEParser()
    var events = parser.feed("data: a\r")
    events += parser.feed("\n\r")
    events += parser.feed("\n")
    #expect(events == [SSEEvent(name: "message", data: "a")])
  }

  @Test func utf8SplitAcrossReads() {
    let bytes = Array("data: é👋\n\n".utf8)
    for split in 0...bytes.count {
      var parser = SSEParser()
      var events: [SSEEvent] = []
      bytes.withUnsafeBytes { raw in
        events += parser.feed(UnsafeRawBufferPointer(rebasing: raw[..<split]))
        events += parser.feed(UnsafeRawBufferPointer(rebasing: raw[split...]))
      }
      #expect(events == [SSEEvent(name: "message", data: "é👋")], "split \(split)")
    }
  }

  @Test func anEventWithoutItsBlankLineIsNotDispatched() {
    var parser = SSEParser()
    #expect(parser.feed("data: partial").isEmpty)
    #expect(parser.finish().isEmpty)
  }
}

struct ThinkFilterTests {
  @Test(arguments: [1, 2, 3, 5, 8, 100])
  func removesThinkBlocksSplitAnywhere(_ size: Int) {
    let text =
      "Intro <think>plan it</think>Answer with <b>bold</b> and < 3.<think>more</think> End."
    var filter = ThinkFilter()
    var shown = ""
    var index = text.startIndex
    while index < text.endIndex {
      let end = text.index(index, offsetBy: size, limitedBy: text.endIndex) ?? text.endIndex
      shown += filter.feed(String(text[index..<end]))
      index = end
    }
    filter.finish()
    #expect(filter.content == "Intro Answer with <b>bold</b> and < 3. End.")
    #expect(filter.reasoning == "plan itmore")
    #expect(shown == filter.content)
    #expect(!filter.isInsideThink)
  }

  @Test func anUnclosedBlockIsReported() {
    var filter = ThinkFilter()
    filter.feed("Start <think>never ends")
    filter.finish()
    #expect(filter.isInsideThink)
    #expect(filter.content == "Start ")
    #expect(filter.reasoning == "never ends")
  }

  @Test func aTrailingPartialTagIsText() {
    var filter = ThinkFilter()
    filter.feed("a < b and <thi")
    filter.finish()
    #expect(filter.content == "a < b and <thi")
  }
}

struct RetryAndHashTests {
  @Test func sha256KnownVectors() {
    #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      SHA256.hex(String(repeating: "a", count: 1_000))
        == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
  }

  @Test func retryAfterForms() {
    let now = Date(timeIntervalSince1970: 1_700_000_000)
    #expect(RetryPolicy.retryAfter(milliseconds: "1500", header: "9", now: now) == 1.5)
    #expect(RetryPolicy.retryAfter(milliseconds: nil, header: "20", now: now) == 20)
    #expect(
      RetryPolicy.retryAfter(milliseconds: nil, header: "Tue, 14 Nov 2023 22:13:40 GMT", now: now)
        == 20)
    #expect(RetryPolicy.retryAfter(milliseconds: nil, header: "soon", now: now) == nil)
    #expect(RetryPolicy.retryAfter(milliseconds: nil, header: nil, now: now) == nil)
  }

  @Test func backoffGrowsWithJitterAndIsRepeatable() {
    var a = RetryPolicy(base: 1, maximum: 30, seed: 42)
    var b = RetryPolicy(base: 1, maximum: 30, seed: 42)
    let first = (1...6).map { a.delay(afterAttempt: $0, retryAfter: nil) }
    #expect(first == (1...6).map { b.delay(afterAttempt: $0, retryAfter: nil) })
    for (attempt, delay) in zip(1..., first) {
      let full = min(30, pow(2, Double(attempt - 1)))
      #expect(delay >= full / 2 && delay <= full)
    }
    #expect(a.delay(afterAttempt: 1, retryAfter: 7) == 7)
    #expect(a.delay(afterAttempt: 1, retryAfter: 1000) == 30)
  }
}
