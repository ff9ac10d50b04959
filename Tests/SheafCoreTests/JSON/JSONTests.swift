import Testing

@testable import SheafCore

struct JSONTests {
  /// Parses and writes back, as every tool does.
  func roundTrip(_ text: String) throws -> String {
    try JSON.parse(text).compactText
  }

  @Test func keepsKeyOrder() throws {
    let text = #"{"zeta":1,"alpha":2,"mid":{"y":1,"b":2,"a":3},"list":[{"z":0,"a":1}]}"#
    #expect(try roundTrip(text) == text)
  }

  @Test(arguments: [
    "0", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
    "-9223372036854775809", "123456789012345678901234567890", "-0", "0.1", "0.7", "1.50",
    "1e5", "1E+400", "-2.5e-10", "3.141592653589793238462643383279", "1.0", "100e-2",
  ])
  func keepsNumbersExactly(_ literal: String) throws {
    let text = #"{"n":\#(literal),"list":[\#(literal),{"deep":\#(literal)}]}"#
    #expect(try roundTrip(text) == text)
    let value = try JSON.parse(text)
    #expect(value["n"]?.kind == .number)
    #expect(value["n"]?.numberLiteral == literal)
  }

  @Test func typedNumberAccess() throws {
    let value = try JSON.parse(#"{"i":42,"r":0.7,"big":123456789012345678901234567890,"w":3.0}"#)
    #expect(value["i"]?.int == 42)
    #expect(value["r"]?.double == 0.7)
    #expect(value["r"]?.int == nil)
    #expect(value["w"]?.int == 3)
    #expect(value["big"]?.int == nil)
    #expect(value["big"]?.double == 1.2345678901234568e29)
    #expect(value["r"]?.string == nil, "a number is not a string")
  }

  @Test func stringsWithAnyUnicodeAndNul() throws {
    let text =
      #"{"s":"nul\u0000mid","e":"é 日本 😀","esc":"quote \" back \\ tab \t nl \n","ctl":"\u0001"}"#
    let value = try JSON.parse(text)
    #expect(value["s"]?.string == "nul\u{0}mid")
    #expect(value["e"]?.string == "é 日本 😀")
    #expect(value["esc"]?.string == "quote \" back \\ tab \t nl \n")
    #expect(try roundTrip(text) == text.replacingOccurrences(of: #"\u00e9"#, with: "é"))
  }

  @Test func stringsMadeInSwift() {
    #expect(JSON("").compactText == #""""#)
    #expect(JSON("a\u{0}b \"q\" \u{1F}").compactText == #""a\u0000b \"q\" \u001F""#)
    #expect(JSON("a\u{0}b").string == "a\u{0}b")
  }

  @Test func unknownFieldsSurviveChanges() throws {
    let value = try JSON.parse(
      #"{"doc":"d","custom":{"x":[1.50,2]},"id":"a","status":"pending","zz":null}"#)
    value["status"] = JSON("completed")
    value["content"] = JSON("Text.")
    #expect(
      value.compactText
        == #"{"doc":"d","custom":{"x":[1.50,2]},"id":"a","status":"completed","zz":null,"content":"Text."}"#
    )
    value["custom"] = nil
    #expect(value.keys == ["doc", "id", "status", "zz", "content"])
  }

  @Test func aUserStringThatLooksLikeTheMarkerStaysAString() throws {
    // Without the per-process token, this cannot be taken for a marked number.
    let text = #"{"s":"\u0000#n0000000000000000#1.5"}"#
    let value = try JSON.parse(text)
    #expect(value["s"]?.kind == .string)
    #expect(try roundTrip(text) == text)
  }

  @Test func numbersMadeInSwift() {
    let object = JSON.object([
      "d": JSON(0.7), "w": JSON(2.0), "i": JSON(-3), "nan": JSON(Double.nan),
      "lit": JSON(numberLiteral: "1.250"), "t": JSON(true), "n": .null,
    ])
    #expect(
      object.compactText == #"{"d":0.7,"w":2.0,"i":-3,"nan":null,"lit":1.250,"t":true,"n":null}"#)
  }

  @Test func equalityComparesValues() throws {
    let a = try JSON.parse(#"{"a":1,"b":[1.0,"x"]}"#)
    let b = try JSON.parse(#"{"b":[1,"x"],"a":1.00}"#)
    let c = try JSON.parse(#"{"b":[1,"y"],"a":1}"#)
    #expect(a.isEqual(to: b))
    #expect(!a.isEqual(to: c))
  }

  @Test func copyIsIndependent() throws {
    let a = try JSON.parse(#"{"a":{"b":1}}"#)
    let b = a.copy()
    b["a"]?["b"] = JSON(2)
    #expect(a.compactText == #"{"a":{"b":1}}"#)
    #expect(b.compactText == #"{"a":{"b":2}}"#)
  }

  @Test(arguments: [
    (#"{"a":1,}"#, "column 8"),
    (#"{"a":NaN}"#, "invalid token"),
    (#"{"a":1} x"#, "end of file expected"),
    (#"{"a":"\ud800"}"#, "invalid Unicode"),
    (#"{"a":1.5, "b": 2.5, "c": x}"#, "column 26"),
  ])
  func syntaxErrorsSayWhere(_ text: String, _ expected: String) {
    #expect(throws: JSONSyntaxError.self) { try JSON.parse(text) }
    do {
      _ = try JSON.parse(text)
    } catch {
      #expect(error.description.contains(expected), "\(error.description)")
    }
  }

  @Test func errorsInMultiLineTextsNameTheLine() {
    do {
      _ = try JSON.parse("{\n  \"a\": 1.5,\n  \"b\": ]\n}")
      Issue.record("parsed")
    } catch {
      #expect(error.line == 3)
      #expect(error.column == 8)
    }
  }
}
