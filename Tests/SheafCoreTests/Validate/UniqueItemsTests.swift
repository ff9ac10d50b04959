import Testing

@testable import SheafCore
@testable import SheafValidate

/// `uniqueItems` by canonical form: equal as JSON Schema says (1 and 1.0, keys in any order),
/// the first pair named, in about n log n.
struct UniqueItemsTests {
  func pair(_ text: String) throws -> (Int, Int)? {
    JSONSchema.firstEqualPair(try JSON.parse(text).array ?? [])
  }

  @Test func equalAsTheSchemaSays() throws {
    #expect(try pair("[1, 2, 1.0]")! == (0, 2))
    #expect(try pair(#"[{"a":1,"b":2}, {"c":3}, {"b":2,"a":1}]"#)! == (0, 2))
    #expect(try pair(#"[[1,{"x":[]}], "1", [1,{"x":[]}]]"#)! == (0, 2))
    #expect(try pair(#"[1, "1", true, null, [1], {"1":1}]"#) == nil)
  }

  @Test func theFirstPairIsTheOneALoopWouldFind() throws {
    // Pairs (1,3) and (0,4): the lowest first index wins, then the lowest second.
    #expect(try pair(#"["a","b","c","b","a","a"]"#)! == (0, 4))
  }

  @Test func manyItemsStayFast() throws {
    let items = (0..<50_000).map { JSON.object(["n": JSON($0), "w": JSON("x\($0)")]) }
    #expect(JSONSchema.firstEqualPair(items) == nil)
    #expect(JSONSchema.firstEqualPair(items + [items[7].copy()])! == (7, 50_000))
  }
}
