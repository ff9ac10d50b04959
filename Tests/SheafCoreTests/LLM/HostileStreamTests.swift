import Foundation
import Testing

@testable import SheafCore
@testable import SheafLLM

/// Streams and texts from a hostile or broken server, and keys in what sheaf writes (issue 9).
struct HostileStreamTests {
  @Test func anSSELineOverTheLimitStopsTheParser() {
    var parser = SSEParser(limit: 1024)
    var events = parser.feed("data: {\"a\":1}\n\n")
    #expect(events.count == 1 && !parser.overflowed)
    let long = "data: " + String(repeating: "x", count: 600)
    events = parser.feed(long)
    #expect(events.isEmpty && !parser.overflowed, "under the limit so far")
    events = parser.feed(String(repeating: "y", count: 600))
    #expect(events.isEmpty && parser.overflowed)
    #expect(parser.feed("\n\ndata: more\n\n").isEmpty, "nothing more is parsed")
  }

  @Test func manyDataLinesCountTowardsOneEvent() {
    var parser = SSEParser(limit: 1024)
    for _ in 0..<30 { _ = parser.feed("data: " + String(repeating: "z", count: 50) + "\n") }
    #expect(parser.overflowed, "an event of 30 data lines is over 1 KiB")
  }

  @Test func eachDecoderReportsTheOverflowAsAProviderError() {
    let huge = "data: " + String(repeating: "x", count: StreamLimits.defaultMaxEventBytes + 10)
    var decoders: [any StreamDecoder] = [
      OpenAIProvider().makeDecoder(), AnthropicProvider().makeDecoder(),
      OllamaProvider().makeDecoder(),
    ]
    for index in decoders.indices {
      let pieces = Array(huge.utf8).withUnsafeBytes { decoders[index].feed($0) }
      guard case .error(let error)? = pieces.last else {
        Issue.record("no error from decoder \(index): \(pieces)")
        continue
      }
      #expect(error.type == .provider)
      #expect(error.message.contains("longer than \(StreamLimits.defaultMaxEventBytes) bytes"))
    }
  }

  @Test func aLineFramerKeepsLinesAcrossReadsAndCountsThem() {
    var framer = LineFramer()
    func feed(_ text: String) -> [String] { Array(text.utf8).withUnsafeBytes { framer.feed($0) } }
    #expect(feed("{\"a\":").isEmpty)
    #expect(feed("1}\n{\"b\":2}\r\n\n").count == 2)
    #expect(framer.finish().isEmpty)
    #expect(framer.lineCount == 2)
  }

  @Test func keysAreMaskedWhereverTheyStand() {
    let environment = [
      "OPENAI_API_KEY": "sk-abcdefgh12345", "MY_SERVICE_TOKEN": "tok-987654321",
      "SHORT_API_KEY": "abc", "HOME": "/root",
    ]
    func redact(_ text: String) -> String { Secrets.redact(text, environment: environment) }
    #expect(
      redact("Incorrect API key provided: sk-abcdefgh12345.")
        == "Incorrect API key provided: [redacted OPENAI_API_KEY].")
    #expect(
      redact("a tok-987654321 b sk-abcdefgh12345 c sk-abcdefgh12345")
        == "a [redacted MY_SERVICE_TOKEN] b [redacted OPENAI_API_KEY] c [redacted OPENAI_API_KEY]")
    #expect(
      redact("abc and /root stay") == "abc and /root stay",
      "short values and other variables are not keys")
    #expect(redact("sk-abcdefgh12345") == "[redacted OPENAI_API_KEY]")
    // A key that overlaps another's match is masked with it: no byte of either stays in clear.
    let overlapping = ["A_API_KEY": "abcdefgh1234", "B_TOKEN": "1234zyxwvuts"]
    #expect(
      Secrets.redact("x abcdefgh1234zyxwvuts y", environment: overlapping)
        == "x [redacted A_API_KEY] y")
  }

  @Test func onlyTheProvidersOwnOriginIsTheSame() {
    #expect(BaseURLPolicy.sameOrigin("https://api.openai.com/v1/", "https://api.openai.com/v1"))
    #expect(BaseURLPolicy.sameOrigin("https://API.openai.com:443/x", "https://api.openai.com/v1"))
    #expect(
      !BaseURLPolicy.sameOrigin(
        "https://api.openai.com.evil.example/v1", "https://api.openai.com/v1"))
    #expect(!BaseURLPolicy.sameOrigin("http://api.openai.com/v1", "https://api.openai.com/v1"))
    #expect(!BaseURLPolicy.sameOrigin("not a url", "https://api.openai.com/v1"))
  }
}
