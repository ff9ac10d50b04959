import Foundation
import SheafCore
import Testing

/// The run is one noun: one type names every file of a run directory, the README's table is that
/// list, and a run leaves no file the type does not name.
struct RunLayoutTests {
  let scratch = Harness.scratch("layout")

  /// The names in the run-directory table (docs/run-directory.md), in order.
  static func readmeEntries() throws -> [String] {
    let readme = try String(
      contentsOf: Harness.root.appendingPathComponent("docs/run-directory.md"), encoding: .utf8)
    let lines = readme.components(separatedBy: "\n")
    guard let start = lines.firstIndex(of: "| file | what it holds |") else { return [] }
    return lines[(start + 2)...].prefix { $0.hasPrefix("| `") }.compactMap { line in
      line.components(separatedBy: "`").dropFirst().first
    }
  }

  @Test func theReadmeTableIsTheLayout() throws {
    let names = try Self.readmeEntries()
    #expect(names == RunLayout.entries.map(\.name))
    #expect(Set(names).count == names.count)
  }

  /// Whether a path relative to the run directory is one the layout names.
  static func named(_ path: String, doc: String) -> Bool {
    RunLayout.entries.contains { entry in
      if entry.name.hasSuffix("/") { return path.hasPrefix(entry.name) }
      let pattern =
        "^"
        + NSRegularExpression.escapedPattern(for: entry.name)
        .replacingOccurrences(of: "<doc>", with: NSRegularExpression.escapedPattern(for: doc))
        .replacingOccurrences(of: "<id>", with: "[a-z0-9][a-z0-9_-]*")
        .replacingOccurrences(of: "<n>", with: "[0-9]+")
        // versions/<id>/<n>.json and revised/<id>.json come with their .md
        .replacingOccurrences(of: "\\.json", with: "\\.(json|md)") + "$"
      return path.range(of: pattern, options: .regularExpression) != nil
    }
  }

  @Test func aRunLeavesOnlyFilesTheLayoutNames() throws {
    let make =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' CALL_FLAGS='--cache \(scratch)/cache'"
    let first = try Harness.run("\(make) doc PLAN=pipelines/prd/plan.json J=2")
    #expect(first.status == 0, "\(first.err)")
    let regen = try Harness.run(
      "\(make) regen DOC=prd SECTION=goals_objectives NOTE='shorter' CASCADE=no")
    #expect(regen.status == 0, "\(regen.err)")
    let pause = try Harness.run(
      "\(Harness.products.path)/sheaf-run pause --run '\(scratch)/runs/prd'")
    #expect(pause.status == 0, "\(pause.err)")
    let root = scratch + "/runs/prd"
    let files = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
    var isDirectory: ObjCBool = false
    let plain = files.filter {
      FileManager.default.fileExists(atPath: root + "/" + $0, isDirectory: &isDirectory)
        && !isDirectory.boolValue
    }
    #expect(plain.count > 30)
    for path in plain {
      #expect(Self.named(path, doc: "prd"), "\(path) is not in RunLayout.entries")
    }
  }

  @Test func buildPromptLinksNoLibcurl() throws {
    let ldd = try Harness.run("ldd \(Harness.products.path)/build-prompt")
    #expect(ldd.status == 0, "\(ldd.err)")
    #expect(!ldd.out.contains("libcurl"), "\(ldd.out)")
    let call = try Harness.run("ldd \(Harness.products.path)/call-llm")
    #expect(call.out.contains("libcurl"), "the check sees libcurl where it is: \(call.out)")
  }
}
