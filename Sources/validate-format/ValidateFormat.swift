import ArgumentParser
import SheafCore

/// `validate-format`: checks each record's content against its format. Not built yet: it says so and exits 2.
@main
struct ValidateFormat: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate-format",
    abstract: "sheaf: checks each record's content against its format (not yet built).",
    discussion: """
      This tool is a placeholder until its issue (#5) lands: it reads nothing and exits 2.

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  mutating func execute() throws -> ExitStatus {
    throw ToolFailure.usage("not yet built (issue #5); see README.md for what works today")
  }
}
