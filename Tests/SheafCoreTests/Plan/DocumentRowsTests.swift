import Foundation
import Testing

@testable import SheafCore
@testable import SheafRun

/// The table of inputs of `make docs`: CSV and JSON lines, document ids, shards.
struct DocumentRowsTests {
  func table(_ text: String, name: String = "rows.csv") throws -> DocumentRows {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "rows-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let path = folder.appendingPathComponent(name).path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return try DocumentRows.read(path: path)
  }

  func failure(_ work: () throws -> Any) -> String {
    do {
      _ = try work()
      return ""
    } catch let failure as ToolFailure {
      return failure.message
    } catch {
      return "\(error)"
    }
  }

  @Test func csvTakesQuotesCommasNewlinesAndCRLF() throws {
    let rows = try table(
      "\u{FEFF}id,name,notes\r\n1,\"Ada, Countess\",\"said \"\"hi\"\"\"\r\n2,Bob,\"two\r\nlines\"\r\n\r\n3,,\n"
    )
    #expect(rows.header == ["id", "name", "notes"])
    #expect(rows.rows.count == 3)
    #expect(rows.rows[0]["name"] == "Ada, Countess")
    #expect(rows.rows[0]["notes"] == "said \"hi\"")
    #expect(rows.rows[1]["notes"] == "two\r\nlines")
    #expect(rows.rows[2]["name"] == "")
    #expect(rows.rows[2].line == 6, "a quoted newline counts as a line")
    #expect(try rows.documentIDs(template: nil, plan: "p") == ["1", "2", "3"])
  }

  @Test func jsonLinesTakeStringsAsTheyAreAndOtherValuesAsJSON() throws {
    let rows = try table(
      "{\"product\": \"Über Tool\", \"seats\": 12, \"tags\": [\"a\"], \"none\": null}\n\n{\"product\": \"Two\"}\n",
      name: "rows.jsonl")
    #expect(rows.rows.count == 2)
    #expect(rows.rows[0]["seats"] == "12")
    #expect(rows.rows[0]["tags"] == "[\"a\"]")
    #expect(rows.rows[0]["none"] == "")
    #expect(rows.rows[1].line == 3)
    #expect(
      try rows.documentIDs(template: "{{ row.product }}-{{n}}", plan: "p") == [
        "uber-tool-1", "two-2",
      ])
    #expect(try rows.documentIDs(template: nil, plan: "prd") == ["prd-1", "prd-2"])
    #expect(
      failure { try table("{\"a\": 1}\n[1]\n", name: "r.ndjson") }.contains(
        "r.ndjson:2: a row is a JSON object, got an array"))
  }

  @Test func idsAreSlugsAndTwoRowsWithOneIdAreNamed() throws {
    let rows = try table("product,team\nAcme Co,a\nACME co.,b\n")
    #expect(try rows.documentIDs(template: "team", plan: "p") == ["a", "b"])
    let both = failure { try rows.documentIDs(template: "product", plan: "p") }
    #expect(
      both.contains("rows 1 (line 2) and 2 (line 3) both give the document id 'acme-co'"), "\(both)"
    )
    #expect(
      failure { try rows.documentIDs(template: "colour", plan: "p") }.contains(
        "has no field 'colour' (the fields are: product, team)"))
    #expect(
      failure { try rows.documentIDs(template: "{{row.product", plan: "p") }.contains("not closed"))
  }

  @Test func shardsSplitEveryIdOnceAndKeepItsShardWhenRowsAreAdded() throws {
    let ids = (1...1000).map { "doc-\($0)" }
    let shards = (1...4).map { Shard(index: $0, count: 4) }
    var counts = [0, 0, 0, 0]
    for id in ids {
      let owners = shards.indices.filter { shards[$0].owns(id) }
      #expect(owners.count == 1, "\(id)")
      counts[owners.first ?? 0] += 1
    }
    #expect(counts.allSatisfy { $0 > 200 && $0 < 300 }, "\(counts)")
    #expect(try Shard(parsing: "2/4") == Shard(index: 2, count: 4))
    for bad in ["0/2", "3/2", "1", "a/b", "1/0", "-1/2"] {
      #expect(failure { try Shard(parsing: bad) }.contains("give i/N"), "\(bad)")
    }
  }
}
