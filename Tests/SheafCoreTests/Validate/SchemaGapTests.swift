import Foundation
import Testing

@testable import SheafCore
@testable import SheafMerge
@testable import SheafValidate

/// A small random generator for the examples (any seed gives a valid value).
struct TestGenerator: RandomNumberGenerator {
  var state: UInt64
  mutating func next() -> UInt64 {
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return state
  }
}

struct SchemaGapTests {
  @Test func anInvalidPatternIsReportedWithItsPlace() throws {
    let schema = try JSON.parse(#"{"properties":{"code":{"type":"string","pattern":"([a-z"}}}"#)
    #expect {
      _ = try JSONSchema(schema)
    } throws: { error in
      (error as? JSONSchema.SchemaError)?.message
        == "#/properties/code/pattern: '([a-z' is not a valid regular expression"
    }
  }

  @Test func eachViolationNamesItsKeyword() throws {
    let schema = try JSONSchema(
      try JSON.parse(
        #"{"type":"object","required":["a"],"properties":{"b":{"type":"integer","maximum":3},"c":{"type":"string","minLength":2}}}"#
      ))
    let rules = schema.validate(try JSON.parse(#"{"b":7,"c":"x"}"#)).map(\.rule).sorted()
    #expect(rules == ["maximum", "minLength", "required"])
  }

  @Test func formatsAreAssertedWhenTheFormatAsks() throws {
    let text =
      #"{"type":"object","properties":{"d":{"format":"date"},"t":{"format":"date-time"},"e":{"format":"email"},"u":{"format":"uri"},"i":{"format":"uuid"}}}"#
    let good = try JSON.parse(
      #"{"d":"2026-11-21","t":"2026-11-21T15:00:00Z","e":"a@b.io","u":"https://x.io/a","i":"123e4567-e89b-12d3-a456-426614174000"}"#
    )
    let bad = try JSON.parse(
      #"{"d":"21/11/2026","t":"tomorrow","e":"nobody","u":"not a uri","i":"1234"}"#)
    let asserting = try JSONSchema(try JSON.parse(text), assertFormats: true)
    #expect(asserting.validate(good).isEmpty)
    #expect(
      asserting.validate(bad).map(\.rule) == ["format", "format", "format", "format", "format"])
    #expect(try JSONSchema(try JSON.parse(text)).validate(bad).isEmpty, "an annotation otherwise")
  }

  static let schemas = [
    #"{"type":"array","minItems":3,"maxItems":5,"uniqueItems":true,"items":{"type":"object","required":["task","owner","due","priority"],"properties":{"task":{"type":"string","minLength":5,"maxLength":40},"owner":{"type":"string","format":"email"},"due":{"type":"string","format":"date"},"priority":{"enum":["must","should","could"]},"hours":{"type":"integer","minimum":1,"maximum":40,"multipleOf":2}},"additionalProperties":false}}"#,
    ##"{"type":"object","properties":{"title":{"type":"string"},"scenes":{"type":"array","items":{"$ref":"#/$defs/scene"},"minItems":2}},"required":["title","scenes"],"$defs":{"scene":{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"at":{"type":"string","format":"date-time"},"score":{"type":"number","exclusiveMinimum":0,"maximum":1},"ok":{"type":"boolean"},"link":{"type":"string","format":"uri"}},"required":["id","at","score"]}}}"##,
    #"{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"n":{"type":"integer","minimum":5,"maximum":5}},"required":["kind","n"]},{"type":"string"}]}"#,
    #"{"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"null"}},"required":["b"]}]}"#,
    #"{"type":"array","prefixItems":[{"type":"integer"},{"type":"string","maxLength":3}],"items":{"type":"boolean"},"minItems":4}"#,
    #"{"type":"object","properties":{"a":{"type":"integer","maximum":0},"b":{"type":"integer","exclusiveMaximum":1},"c":{"type":"integer","maximum":9223372036854775807},"d":{"type":"number","maximum":-5},"e":{"type":"number","multipleOf":2.5,"minimum":1}},"required":["a","b","c","d","e"]}"#,
    #"{"type":"object","properties":{"pick":{"type":"array","uniqueItems":true,"items":{"enum":["x","y"]}},"flags":{"type":"array","uniqueItems":true,"items":{"type":"boolean"}},"pair":{"type":"array","items":[{"type":"string"},{"type":"integer"}]}},"required":["pick","flags","pair"]}"#,
    ##"{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#"}}},"required":["name","children"]}"##,
  ]

  @Test func examplesAreValidAgainstTheirSchemas() throws {
    for text in Self.schemas {
      let schema = try JSON.parse(text)
      let validator = try JSONSchema(schema, assertFormats: true)
      for seed in 1...40 {
        var example = SchemaExample(
          schema: schema, words: ["launch", "owner", "ledger", "route"],
          rng: TestGenerator(state: UInt64(seed)))
        let value = example.value()
        #expect(validator.validate(value).isEmpty, "\(text) seed \(seed): \(value.compactText)")
      }
    }
  }

  @Test func jsonIsShownAsMarkdown() throws {
    #expect(
      JSONMarkdown.render(
        try JSON.parse(#"[{"task":"Ship","due_date":"2026-12-01"},{"task":"A|B"}]"#))
        == "| Task | Due date |\n| --- | --- |\n| Ship | 2026-12-01 |\n| A\\|B |  |")
    #expect(
      JSONMarkdown.render(
        try JSON.parse(#"{"title":"Plan","steps":["one","two"],"owner":{"name":"Ada","ok":true}}"#))
        == "- **Title**: Plan\n- **Steps**:\n  - one\n  - two\n- **Owner**:\n  - **Name**: Ada\n  - **Ok**: yes"
    )
    #expect(JSONMarkdown.render(try JSON.parse(#"["a","b"]"#)) == "- a\n- b")
    #expect(JSONMarkdown.render(try JSON.parse(#""plain""#)) == "plain")
  }
}
