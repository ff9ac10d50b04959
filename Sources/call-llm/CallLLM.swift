import ArgumentParser
import SheafCore

/// `call-llm`: sends each record's messages to a model and fills in the answer. Not built yet: it says so and exits 2.
@main
struct CallLLM: FilterCommand {
  static let configuration = Placeholder.configuration(
    "call-llm", does: "sends each record's messages to a model and fills in the answer", issue: 3)

  mutating func execute() throws -> ExitStatus {
    throw Placeholder.notYetBuilt(issue: 3)
  }
}
