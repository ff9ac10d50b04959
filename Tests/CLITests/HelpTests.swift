import Foundation
import Testing

/// Every `--help` renders: no Swift interpolation left as text, no line that ends in a backslash,
/// the exit-status table, and a working example (issue 10).
struct HelpTests {
  static let tools = [
    "plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc", "sheaf-run",
  ]
  static let steps = ["prepare", "deps", "save", "keep", "status", "watch", "info"]

  static func check(_ text: String, _ name: String) {
    #expect(!text.contains("\\("), "\(name): a literal \\( in the help")
    for line in text.split(separator: "\n") {
      #expect(!line.hasSuffix("\\"), "\(name): a line ends in a backslash: \(line)")
    }
  }

  @Test(arguments: tools)
  func everyHelpRenders(_ tool: String) throws {
    let result = try Harness.run("\(tool) --help")
    #expect(result.status == 0)
    Self.check(result.out, tool)
    #expect(
      result.out.contains("EXIT STATUS") && result.out.contains("130  interrupted"),
      "\(tool): no exit-status table")
    #expect(result.out.contains(tool), "\(tool): no example")
  }

  @Test(arguments: steps)
  func everyStepOfSheafRunRenders(_ step: String) throws {
    let result = try Harness.run("sheaf-run \(step) --help")
    #expect(result.status == 0)
    Self.check(result.out, "sheaf-run \(step)")
  }
}
