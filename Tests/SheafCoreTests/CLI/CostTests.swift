import Foundation
import Testing

@testable import SheafCore
@testable import SheafPrompt

/// What tokens cost, and why a section is stale.
struct CostTests {
  @Test func costWithAndWithoutCachedInput() throws {
    let price = try #require(
      Price(try JSON.parse(#"{"input": 3, "output": 15, "cached_input": 0.3}"#)))
    // 2,000 in, 500 out: 2000 × 3 + 500 × 15 = 13,500 per million.
    #expect(price.cost(input: 2000, output: 500) == 0.0135)
    // 1,500 of the 2,000 read from the cache: 500 × 3 + 1500 × 0.3 + 500 × 15 = 9,450.
    #expect(price.cost(input: 2000, output: 500, cached: 1500) == 0.00945)
    // More cached than input is capped; no cached price means the input price.
    #expect(price.cost(input: 100, output: 0, cached: 400) == 0.00003)
    let plain = try #require(Price(try JSON.parse(#"{"input": 1, "output": 2}"#)))
    #expect(plain.cost(input: 1_000_000, output: 0, cached: 1_000_000) == 1)
    #expect(Price(try JSON.parse(#"{"input": 1}"#)) == nil, "no output price, no price")
    #expect(Price(try JSON.parse(#"{"input": -1, "output": 2}"#)) == nil)
  }

  @Test func aPriceComesFromTheRecordThenTheListNeverFromNowhere() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "prices-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let path = folder + "/prices.json"
    try #"{"openai/gpt-x": {"input": 2, "output": 8}, "gpt-x": {"input": 9, "output": 9}}"#.write(
      toFile: path, atomically: true, encoding: .utf8)
    let list = try PriceList(path: path)
    #expect(list.price(llm: nil, provider: "openai", model: "gpt-x")?.input == 2)
    #expect(list.price(llm: nil, provider: "ollama", model: "gpt-x")?.input == 9)
    #expect(list.price(llm: nil, provider: "openai", model: "other") == nil)
    let own = try JSON.parse(#"{"price": {"input": 1, "output": 1}}"#)
    #expect(list.price(llm: own, provider: "openai", model: "gpt-x")?.input == 1)
    try "{\"gpt-x\": 3}".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: ToolFailure.self) { try PriceList(path: path) }
  }

  @Test func reasonsNameWhatChanged() throws {
    func fingerprint(_ text: String) throws -> JSON { try JSON.parse(text) }
    let old = try fingerprint(
      #"{"value":"a","prompt":"p","llm":"l","format":"f","inputs":"i","section":"s","outline":"o","templates":{"t.mustache":"1"},"context":{"x":"c1","y":null}}"#
    )
    let new = try fingerprint(
      #"{"value":"b","prompt":"q","llm":"l2","format":"f","inputs":"i","section":"s","outline":"o","templates":{"t.mustache":"2"},"context":{"x":"c1","y":"c2"}}"#
    )
    #expect(
      Fingerprint.reasons(stored: old, current: new) == [
        "template t.mustache changed", "context 'y' completed after this section was written",
        "the llm settings changed",
      ])
    #expect(Fingerprint.reasons(stored: old, current: old).isEmpty)
    #expect(Fingerprint.hash("a") != Fingerprint.hash("b"))
    #expect(Fingerprint.hash("").count == 32)
  }
}
