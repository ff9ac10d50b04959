import Foundation
import Testing

/// sheaf installed into a prefix and used with nothing but that prefix's `bin` on PATH, far from
/// the checkout: a bare outline, and a scaffold.
struct InstallTests {
  let scratch: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "install-\(UUID().uuidString)"
    ).path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }()

  @Test func installedSheafWritesDocumentsAnywhere() throws {
    let prefix = scratch + "/prefix"
    // The built tools are installed (stripped) with the driver, prompt sets and examples.
    let install = try Harness.run(
      "make --no-print-directory install PREFIX='\(prefix)' RELEASE_BIN='\(Harness.products.path)'"
    )
    #expect(install.status == 0, "\(install.err)")
    for tool in [
      "plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc", "sheaf-run",
    ] {
      #expect(FileManager.default.isExecutableFile(atPath: "\(prefix)/bin/\(tool)"), "\(tool)")
    }
    #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/sheaf/pipelines/sheaf.mk"))
    #expect(
      FileManager.default.fileExists(
        atPath: "\(prefix)/share/sheaf/prompts/default/default.mustache"))
    let work = scratch + "/work"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let only = ["PATH": "\(prefix)/bin:/usr/bin:/bin", "SHEAF_BIN": "", "SHEAF_PROMPTS": ""]
    // A three-heading outline, no prompt files: the default set writes it.
    try Harness.write(
      "# Remote Work Policy\nFor a ten-person company.\n\n## Why\nWhy we allow it.\n\n## Rules\nWhat everyone follows.\n\n## Tools\nWhat we use.\n",
      to: work + "/outline.md")
    let bare = try Harness.run(
      "cd '\(work)' && env -u SHEAF_BIN -u SHEAF_PROMPTS make --no-print-directory -f '\(prefix)/share/sheaf/pipelines/sheaf.mk' doc PLAN=outline.md PROVIDER=offline",
      environment: only)
    #expect(bare.status == 0, "\(bare.err)")
    let document = try String(contentsOfFile: work + "/runs/outline/outline.md", encoding: .utf8)
    #expect(document.split(separator: "\n").filter { $0.hasPrefix("## ") }.count == 3)
    #expect(!document.contains("Not generated"), "\(document)")
    // A scaffold: make doc with no arguments.
    let scaffold = try Harness.run(
      "cd '\(work)' && env -u SHEAF_BIN -u SHEAF_PROMPTS sheaf-run init my-prd --from prd && cd my-prd && env -u SHEAF_BIN -u SHEAF_PROMPTS make --no-print-directory doc",
      environment: only)
    #expect(scaffold.status == 0, "\(scaffold.err)")
    #expect(
      FileManager.default.fileExists(atPath: work + "/my-prd/prompts/prd/shared_context.mustache"))
    let summary = try String(
      contentsOfFile: work + "/my-prd/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""status":"ready""#))
    // And it all goes.
    let uninstall = try Harness.run("make --no-print-directory uninstall PREFIX='\(prefix)'")
    #expect(uninstall.status == 0)
    #expect(!FileManager.default.fileExists(atPath: "\(prefix)/bin/sheaf-run"))
    #expect(!FileManager.default.fileExists(atPath: "\(prefix)/share/sheaf"))
  }
}
