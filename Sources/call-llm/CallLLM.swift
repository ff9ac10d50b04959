import ArgumentParser
import SheafCore

/// `call-llm`: sends each record's messages to a model and fills in the answer. Not built yet: it says so and exits 2.
@main
struct CallLLM: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "call-llm",
    abstract: "sheaf: sends each record's messages to a model and fills in the answer (not yet built).",
    discussion: """
      This tool is a placeholder until its issue (#3) lands: it reads nothing and exits 2.

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  mutating func execute() throws -> ExitStatus {
    throw ToolFailure.usage("not yet built (issue #3); see README.md for what works today")
  }
}
