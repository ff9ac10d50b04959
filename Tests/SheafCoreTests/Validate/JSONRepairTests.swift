import Foundation
import Testing

@testable import SheafCore
@testable import SheafValidate

/// JSON as models really write it (Fixtures/json-repair.json): each case with the value its
/// repair must give, or the refusal it must get instead of a guess.
struct JSONRepairTests {
  static func corpus() -> [JSON] {
    guard let bytes = try? fixture("json-repair.json"),
      let parsed = try? bytes.withUnsafeBytes({ try JSON.parse($0) })
    else { return [] }
    return parsed.array ?? []
  }

  static let names: [String] = corpus().compactMap { $0["name"]?.string }

  /// The slips models make, one group each (Fixtures/json-repair-slips.json, written from ten
  /// base documents: each case must repair to its document).
  static func slips() -> [JSON] {
    guard let bytes = try? fixture("json-repair-slips.json"),
      let parsed = try? bytes.withUnsafeBytes({ try JSON.parse($0) })
    else { return [] }
    return parsed.array ?? []
  }

  static let slipNames: [String] = slips().compactMap { $0["name"]?.string }

  @Test func theCorpusIsLargeEnough() {
    #expect(Self.corpus().count >= 60)
    #expect(Self.corpus().filter { $0["refuse"] != nil }.count >= 5)
    #expect(Self.slips().count >= 300)
    let groups = Set(Self.slips().compactMap { $0["group"]?.string })
    #expect(groups.count >= 15, "\(groups.sorted())")
  }

  @Test(arguments: slipNames)
  func repairsEachSlip(_ name: String) throws {
    let entry = try #require(Self.slips().first { $0["name"]?.string == name })
    let input = try #require(entry["input"]?.string)
    let expected = try #require(entry["expected"])
    do {
      let result = try JSONRepair.parse(input)
      #expect(
        result.value.isEqual(to: expected),
        "\(name): got \(result.value.compactText), want \(expected.compactText)")
    } catch {
      Issue.record("\(name): refused: \(error.message)")
    }
  }

  @Test func truncationAtEveryPositionRepairsOrRefusesCleanly() throws {
    let documents = [
      #"{"title": "Launch \u2014 plan", "steps": [{"n": 1, "say": "draft it"}, {"n": -2.5e3, "ok": true}], "none": null}"#,
      #"[{"q": "Why \"now\"?", "a": ["costs", "time"]}, 42, "tail"]"#,
    ]
    for document in documents {
      let scalars = Array(document.unicodeScalars)
      for cut in 1..<scalars.count {
        let prefix = String(String.UnicodeScalarView(scalars[..<cut]))
        do {
          let result = try JSONRepair.parse(prefix)
          #expect(result.value.kind == .object || result.value.kind == .array, "\(prefix)")
        } catch {
          #expect(!error.message.isEmpty)
        }
      }
    }
  }

  @Test(arguments: names)
  func repairsOrRefuses(_ name: String) throws {
    let entry = try #require(Self.corpus().first { $0["name"]?.string == name })
    let input = try #require(entry["input"]?.string)
    if let expected = entry["expected"] {
      let result = try JSONRepair.parse(input)
      #expect(
        result.value.isEqual(to: expected),
        "\(name): got \(result.value.compactText), want \(expected.compactText)")
      let strictlyValid = (try? JSON.parse(input.trimmed)) != nil
      #expect(result.repaired == !strictlyValid)
    } else {
      let refusal = try #require(entry["refuse"]?.string)
      do {
        let result = try JSONRepair.parse(input)
        Issue.record("\(name): repaired to \(result.value.compactText), but it must be refused")
      } catch {
        #expect(error.message.contains(refusal), "\(name): \(error.message)")
      }
    }
  }
}

struct JSONSchemaMessagesTests {
  func violations(_ schema: String, _ instance: String) throws -> [String] {
    try JSONSchema(try JSON.parse(schema)).validate(try JSON.parse(instance)).map(\.message)
  }

  @Test func messagesNameThePathAndWhatToDo() throws {
    let schema =
      #"{"type":"object","required":["title","items"],"additionalProperties":false,"properties":{"title":{"type":"string","minLength":3,"maxLength":10,"pattern":"^[A-Z]"},"status":{"enum":["draft","final"]},"items":{"type":"array","minItems":1,"uniqueItems":true,"items":{"type":"object","required":["price"],"properties":{"price":{"type":"number","minimum":0,"multipleOf":0.01}}}}}}"#
    #expect(try violations(schema, #"{"title":"Ok Title","items":[{"price":1.25}]}"#).isEmpty)
    #expect(
      try violations(
        schema,
        #"{"title":"lower case title","status":"wip","items":[{"price":"3"},{"price":-1},{"cost":2},{"price":0.005}],"extra":1}"#
      ) == [
        "$.title: is 16 characters long; at most 10 allowed",
        "$.title: \"lower case title\" does not match the pattern ^[A-Z]",
        #"$.status: must be one of "draft", "final" (got "wip")"#,
        "$.items[0].price: expected number, got string",
        "$.items[1].price: -1 is less than the minimum 0",
        "$.items[2]: missing required property 'price'",
        "$.items[3].price: 0.005 is not a multiple of 0.01",
        "$: property 'extra' is not allowed",
      ])
    #expect(
      try violations(schema, #"{"title":"Ab"}"#) == [
        "$.title: is 2 characters long; at least 3 required",
        "$: missing required property 'items'",
      ])
  }

  @Test func the2020Spellings() throws {
    let schema =
      ##"{"$defs":{"point":{"type":"array","prefixItems":[{"type":"number"},{"type":"number"}],"items":false}},"type":"object","properties":{"at":{"$ref":"#/$defs/point"}}}"##
    #expect(try violations(schema, #"{"at":[1,2]}"#).isEmpty)
    #expect(try violations(schema, #"{"at":[1,"2"]}"#) == ["$.at[1]: expected number, got string"])
    #expect(try violations(schema, #"{"at":[1,2,3]}"#) == ["$.at[2]: no value is allowed here"])
  }

  @Test func oddKeysAreQuotedInPaths() throws {
    #expect(
      try violations(#"{"properties":{"a b":{"type":"integer"}}}"#, #"{"a b":1.5}"#) == [
        #"$["a b"]: expected integer, got number"#
      ])
  }

  @Test func aDocumentWhoseQuotesAreHTMLEntitiesIsRead() throws {
    let result = try JSONRepair.parse("{&quot;a&quot;: [1, &quot;x &amp; y&quot;]}")
    #expect(result.value.compactText == #"{"a":[1,"x & y"]}"#)
    #expect(result.repaired)
  }
}
