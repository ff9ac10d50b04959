import Foundation
import Testing

/// Bad lines as they really occur, each fed in the middle of a stream: no crash, exit 3, one
/// message that names line 3, and every record before it written.
struct MalformedCorpusTests {
  static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

  static let corpus: [(name: String, line: [UInt8])] = [
    ("truncated object", bytes(#"{"a":"#)),
    ("truncated string", bytes(#"{"a":"abc"#)),
    ("truncated array", bytes(#"{"a":[1,2"#)),
    ("truncated literal", bytes(#"{"a":tru}"#)),
    ("number without fraction digits", bytes(#"{"a":1.}"#)),
    ("lone minus", bytes(#"{"a":-}"#)),
    ("leading zero", bytes(#"{"a":01}"#)),
    ("exponent without digits", bytes(#"{"a":1e}"#)),
    ("bad escape", bytes(#"{"a":"\x"}"#)),
    ("short unicode escape", bytes(#"{"a":"\u12"}"#)),
    ("non-hex unicode escape", bytes(#"{"a":"\uZZZZ"}"#)),
    ("lone high surrogate", bytes(#"{"a":"\ud800"}"#)),
    ("lone low surrogate", bytes(#"{"a":"\udc00"}"#)),
    ("high surrogate then letter", bytes(#"{"a":"\ud800\u0041"}"#)),
    ("trailing garbage", bytes(#"{"a":1}x"#)),
    ("two objects on a line", bytes(#"{"a":1}{"b":2}"#)),
    ("trailing comma after object", bytes(#"{"a":1},"#)),
    ("trailing comma in object", bytes(#"{"a":1,}"#)),
    ("NaN", bytes(#"{"a":NaN}"#)),
    ("Infinity", bytes(#"{"a":Infinity}"#)),
    ("minus Infinity", bytes(#"{"a":-Infinity}"#)),
    ("single quotes", bytes("{'a':1}")),
    ("unquoted key", bytes("{a:1}")),
    ("comment", bytes(#"{"a":1 /* note */}"#)),
    ("python literals", bytes(#"{"a":True,"b":None}"#)),
    ("invalid UTF-8 byte", bytes(#"{"a":""#) + [0xFF] + bytes(#""}"#)),
    ("invalid UTF-8 sequence", bytes(#"{"a":""#) + [0xC3, 0x28] + bytes(#""}"#)),
    ("overlong UTF-8", bytes(#"{"a":""#) + [0xC0, 0xAF] + bytes(#""}"#)),
    ("UTF-8 encoded surrogate", bytes(#"{"a":""#) + [0xED, 0xA0, 0x80] + bytes(#""}"#)),
    ("truncated UTF-8 at end", bytes(#"{"a":""#) + [0xF0, 0x9F, 0x98]),
    ("invalid UTF-8 outside strings", bytes(#"{"a":1"#) + [0xFE] + bytes("}")),
    ("control character in string", bytes(#"{"a":"x"#) + [0x01] + bytes(#""}"#)),
    ("raw tab in string", bytes(#"{"a":"x"#) + [0x09] + bytes(#""}"#)),
    ("raw NUL in string", bytes(#"{"a":"x"#) + [0x00] + bytes(#""}"#)),
    ("raw NUL outside strings", bytes(#"{"a":1}"#) + [0x00]),
    (
      "10,000-deep arrays",
      bytes(
        #"{"a":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
          + "}")
    ),
    (
      "10,000-deep objects",
      bytes(
        String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000))
    ),
    ("top-level array", bytes(#"[{"id":"a"}]"#)),
    ("top-level number", bytes("42")),
    ("top-level real", bytes("4.5")),
    ("top-level huge number", bytes("1e999")),
    ("top-level string", bytes(#""id""#)),
    ("top-level null", bytes("null")),
    ("top-level true", bytes("true")),
    ("mismatched bracket", bytes(#"{"a":[1}"#)),
    ("closing brace only", bytes("}")),
    ("missing colon", bytes(#"{"a" 1}"#)),
    ("missing comma", bytes(#"{"a":1 "b":2}"#)),
  ]

  static let good1 =
    #"{"doc":"d","id":"first","title":"First","order":1,"status":"completed","content":"One."}"#
  static let event = #"{"event":"chunk","ts":"2026-11-21T08:00:00.000Z","id":"first","text":"One"}"#
  static let good2 =
    #"{"doc":"d","id":"second","title":"Second","order":2,"status":"completed","content":"Two."}"#

  static func stream(_ bad: [UInt8]) -> Data {
    Data(bytes(good1 + "\n" + event + "\n") + bad + bytes("\n" + good2 + "\n"))
  }

  @Test(arguments: corpus.map(\.name))
  func passThroughKeepsEveryRecordBefore(_ name: String) throws {
    let bad = try #require(Self.corpus.first { $0.name == name }).line
    let result = try Harness.run("sheaf-bench cat", stdin: Self.stream(bad))
    #expect(result.status == 3, "\(name): \(result.err)")
    #expect(result.out == Self.good1 + "\n" + Self.event + "\n")
    let lines = result.err.split(separator: "\n")
    #expect(lines.count == 1, "\(name): one line, got: \(result.err)")
    #expect(result.err.hasPrefix("sheaf-bench: stdin:3: "), "\(name): \(result.err)")
    #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack"))
  }

  @Test(arguments: corpus.map(\.name))
  func mergeDocStopsWithTheLineNumber(_ name: String) throws {
    let bad = try #require(Self.corpus.first { $0.name == name }).line
    let result = try Harness.run(
      "merge-doc -o $TMP/doc.md; s=$?; test -e $TMP/doc.md && echo written; exit $s",
      stdin: Self.stream(bad))
    #expect(result.status == 3, "\(name): \(result.err)")
    #expect(result.out.isEmpty, "no document is written on malformed input")
    #expect(
      result.err.hasPrefix("merge-doc: stdin:3: ") && result.err.split(separator: "\n").count == 1,
      "\(name): \(result.err)")
  }

  @Test(arguments: [
    "truncated object", "NaN", "invalid UTF-8 byte", "top-level array", "10,000-deep arrays",
  ])
  func callLLMFinishesTheRecordsBeforeAndStops(_ name: String) throws {
    let bad = try #require(Self.corpus.first { $0.name == name }).line
    let result = try Harness.run(
      "timeout 20 call-llm --no-cache --provider offline", stdin: Self.stream(bad))
    #expect(result.status == 3, "\(name): \(result.err)")
    let lines = result.out.split(separator: "\n")
    #expect(lines.count == 2, "the record and the event before the bad line")
    #expect(
      lines.last?.contains(#""status":"completed""#) == true
        || lines.first?.contains(#""status":"completed""#) == true)
    #expect(
      result.err.hasPrefix("call-llm: stdin:3: ") && result.err.split(separator: "\n").count == 1,
      "\(name): \(result.err)")
  }

  @Test func namedFilesAreNamedInTheMessage() throws {
    let result = try Harness.run(
      "printf '%s\\n' '{\"id\":\"a\"}' '{\"id\":' > $TMP/records.ndjson && merge-doc $TMP/records.ndjson 2>&1 | sed \"s|$TMP/||\""
    )
    #expect(result.out.hasPrefix("merge-doc: records.ndjson:2: invalid JSON: "))
  }
}
