import ArgumentParser
import SheafCore

/// `validate-format`: checks each record's content against its format. Not built yet: it says so and exits 2.
@main
struct ValidateFormat: FilterCommand {
  static let configuration = Placeholder.configuration(
    "validate-format", does: "checks each record's content against its format", issue: 5)

  mutating func execute() throws -> ExitStatus {
    throw Placeholder.notYetBuilt(issue: 5)
  }
}
