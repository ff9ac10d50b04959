import ArgumentParser
import SheafCore

/// `build-prompt`: turns planned records into messages from Mustache templates. Not built yet: it says so and exits 2.
@main
struct BuildPrompt: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "build-prompt",
    abstract: "sheaf: turns planned records into messages from Mustache templates (not yet built).",
    discussion: """
      This tool is a placeholder until its issue (#4) lands: it reads nothing and exits 2.

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  mutating func execute() throws -> ExitStatus {
    throw ToolFailure.usage("not yet built (issue #4); see README.md for what works today")
  }
}
