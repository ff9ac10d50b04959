import ArgumentParser
import SheafCore

/// `build-prompt`: turns planned records into messages from Mustache templates. Not built yet: it says so and exits 2.
@main
struct BuildPrompt: FilterCommand {
  static let configuration = Placeholder.configuration(
    "build-prompt", does: "turns planned records into messages from Mustache templates", issue: 4)

  mutating func execute() throws -> ExitStatus {
    throw Placeholder.notYetBuilt(issue: 4)
  }
}
