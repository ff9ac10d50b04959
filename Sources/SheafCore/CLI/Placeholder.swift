import ArgumentParser

/// For the tools whose issue has not landed: a real target that says so and exits 2.
public enum Placeholder {
  /// The configuration of a tool that is not built yet.
  public static func configuration(_ name: String, does abstract: String, issue: Int) -> CommandConfiguration {
    CommandConfiguration(
      commandName: name,
      abstract: "sheaf: \(abstract) (not yet built).",
      discussion: """
        This tool is a placeholder until its issue (#\(issue)) lands: it reads nothing and exits 2.

        \(ExitStatus.helpText)
        """,
      version: SheafVersion.current)
  }

  /// The failure a placeholder ends with.
  public static func notYetBuilt(issue: Int) -> ToolFailure {
    .usage("not yet built (issue #\(issue)); see README.md for what works today")
  }
}
