import Foundation
import Testing

@testable import SheafCore
@testable import SheafValidate

/// The official JSON Schema Test Suite (Debian's json-schema-test-suite), draft-07, read at test
/// time. `optional/` is excluded, and so is every test that needs a remote `$ref`:
/// - refRemote.json: every test fetches http://localhost:1234/…;
/// - definitions.json: both tests validate against the draft-07 meta-schema by its URL;
/// - ref.json, "remote ref, containing refs itself": the same meta-schema by its URL.
struct SchemaSuiteTests {
  static let directory = "/usr/share/json-schema-test-suite/tests/draft7"
  static let excludedFiles: [String: String] = [
    "refRemote.json": "remote $ref (fetches http://localhost:1234)",
    "definitions.json": "remote $ref to the draft-07 meta-schema",
  ]
  static let excludedGroups: [String: String] = [
    "remote ref, containing refs itself": "remote $ref to the draft-07 meta-schema"
  ]

  @Test func theSuiteIsInstalled() {
    #expect(
      FileManager.default.fileExists(atPath: Self.directory),
      "the JSON Schema Test Suite is missing: apt-get install json-schema-test-suite (make test installs it as root)"
    )
  }

  @Test func everyDraft7KeywordPassesAllItsTests() throws {
    let files = ((try? FileManager.default.contentsOfDirectory(atPath: Self.directory)) ?? [])
      .filter { $0.hasSuffix(".json") }.sorted()
    #expect(files.count >= 30)
    var report: [String] = []
    var failures: [String] = []
    var total = (passed: 0, run: 0, excluded: 0)
    for file in files {
      let data = try #require(FileManager.default.contents(atPath: "\(Self.directory)/\(file)"))
      let groups = try #require(try data.withUnsafeBytes { try JSON.parse($0) }.array)
      if let reason = Self.excludedFiles[file] {
        let count = groups.reduce(0) { $0 + ($1["tests"]?.count ?? 0) }
        total.excluded += count
        report.append("\(file): \(count) excluded (\(reason))")
        continue
      }
      var passed = 0
      var run = 0
      for group in groups {
        let description = group["description"]?.string ?? "?"
        let tests = group["tests"]?.array ?? []
        if let reason = Self.excludedGroups[description] {
          total.excluded += tests.count
          report.append("\(file): \(tests.count) excluded in '\(description)' (\(reason))")
          continue
        }
        let schema = try JSONSchema(try #require(group["schema"]))
        for test in tests {
          run += 1
          let expected = test["valid"]?.bool ?? false
          let got = schema.validate(try #require(test["data"])).isEmpty
          if got == expected {
            passed += 1
          } else {
            failures.append(
              "\(file) / \(description) / \(test["description"]?.string ?? "?"): expected \(expected ? "valid" : "invalid")"
            )
          }
        }
      }
      total.passed += passed
      total.run += run
      report.append("\(file): \(passed)/\(run)")
    }
    print(
      "JSON Schema Test Suite, draft-07:\n  " + report.joined(separator: "\n  ")
        + "\n  total: \(total.passed)/\(total.run) passed, \(total.excluded) excluded")
    #expect(failures.isEmpty, "\(failures.count) failures:\n\(failures.joined(separator: "\n"))")
    #expect(total.run >= 400)
  }
}
