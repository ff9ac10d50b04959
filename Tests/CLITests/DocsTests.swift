import Foundation
import Testing

/// Every shell block marked `<!-- runnable -->` in docs/ runs as written (issue 26), in a fresh
/// folder beside the checkout's example plans, with the built tools and the offline provider:
/// `make` there is the checkout's driver (`make -f pipelines/sheaf.mk` with the built tools).
struct DocsTests {
  /// Each page of docs/ with its runnable blocks, in order.
  static func pages() -> [String] {
    let folder = Harness.root.appendingPathComponent("docs").path
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasSuffix(".md") }.sorted()
      .filter { !blocks(in: $0).isEmpty }
  }

  /// The runnable blocks of a page.
  static func blocks(in page: String) -> [String] {
    let path = Harness.root.appendingPathComponent("docs/\(page)").path
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    var blocks: [String] = []
    var lines = text.components(separatedBy: "\n")[...]
    while let marker = lines.firstIndex(of: "<!-- runnable -->") {
      lines = lines[(marker + 1)...]
      guard lines.first?.hasPrefix("```") == true else { continue }
      lines = lines.dropFirst()
      let end = lines.firstIndex { $0.hasPrefix("```") } ?? lines.endIndex
      blocks.append(lines[..<end].joined(separator: "\n"))
      lines = lines[end...]
    }
    return blocks
  }

  @Test(arguments: pages())
  func theRunnableExamplesRun(page: String) throws {
    let scratch = Harness.scratch("docs")
    let root = Harness.root.path
    try FileManager.default.createSymbolicLink(
      atPath: "\(scratch)/pipelines", withDestinationPath: "\(root)/pipelines")
    for (index, block) in Self.blocks(in: page).enumerated() {
      let script = """
        set -euo pipefail
        cd '\(scratch)'
        export PATH='\(Harness.products.path)':"$PATH" SHEAF_BIN='\(Harness.products.path)'
        make() { command make --no-print-directory -f '\(root)/pipelines/sheaf.mk' SHEAF_TOOLS= "$@"; }
        \(block)
        """
      try Harness.write(script, to: "\(scratch)/block-\(index).sh")
      let result = try Harness.run("bash '\(scratch)/block-\(index).sh'")
      #expect(
        result.status == 0,
        "docs/\(page), block \(index + 1) failed:\n\(block)\n\(result.out.suffix(600))\n\(result.err.suffix(1200))"
      )
    }
  }

  @Test func everyPageHasRunnableExamplesAndTheReadmeIsShort() throws {
    for page in [
      "staged-runs.md", "plans.md", "prompts.md", "providers.md", "formats.md", "records.md",
      "run-directory.md",
    ] {
      #expect(!Self.blocks(in: page).isEmpty, "\(page)")
    }
    #expect(Self.pages().count >= 7)
    let readme = try String(
      contentsOf: Harness.root.appendingPathComponent("README.md"), encoding: .utf8)
    #expect(readme.components(separatedBy: "\n").count < 250)
    for link in readme.components(separatedBy: "](docs/").dropFirst() {
      let page = String(link.prefix { $0 != ")" })
      #expect(
        FileManager.default.fileExists(
          atPath: Harness.root.appendingPathComponent("docs/\(page)").path), "\(page)")
    }
  }
}
