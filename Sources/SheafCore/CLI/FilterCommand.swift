import ArgumentParser
import Foundation

/// A sheaf tool: an argument-parser command whose `execute()` returns an exit status, run by a
/// shared `main()` that is the tool's one exit point.
public protocol FilterCommand: ParsableCommand {
  /// Does the work and says how it ended.
  /// - Throws: `ToolFailure` for what stops the tool (usage, malformed input, output closed).
  mutating func execute() throws -> ExitStatus
}

extension FilterCommand {
  /// Not used: `main()` calls `execute()`.
  public mutating func run() throws {
    _ = try execute()
  }

  /// The tool's name, as it prefixes every message.
  public static var toolName: String {
    configuration.commandName ?? String(describing: Self.self)
  }

  /// Parses the arguments, runs the tool, prints any error once as `TOOL: message`, and exits
  /// with the contract's status (argument-parser's usage errors become 2, not 64).
  public static func main() {
    main(Array(CommandLine.arguments.dropFirst()))
  }

  /// `main()` with explicit arguments.
  public static func main(_ arguments: [String]) -> Never {
    // A closed pipe is reported by the writer as EPIPE, instead of killing the process.
    signal(SIGPIPE, SIG_IGN)
    let status: ExitStatus
    do {
      var command = try parseAsRoot(arguments)
      if var filter = command as? any FilterCommand {
        // The root command or one of its subcommands.
        status = try filter.execute()
      } else {
        try command.run()
        status = .completed
      }
    } catch let failure as ToolFailure {
      Diagnostics.say(toolName, failure.message)
      status = failure.status
    } catch {
      let code = exitCode(for: error)
      if code == .success {
        // --help and --version
        print(fullMessage(for: error))
        Foundation.exit(0)
      }
      var message = message(for: error)
      if let firstLine = message.split(separator: "\n").first { message = String(firstLine) }
      if message.hasPrefix("Error: ") { message = String(message.dropFirst(7)) }
      if let first = message.first, first.isUppercase,
        message.dropFirst().first.map({ $0.isLowercase }) ?? false
      {
        message = first.lowercased() + message.dropFirst()
      }
      Diagnostics.say(toolName, "\(message) (see '\(toolName) --help')")
      status = .usage
    }
    Foundation.exit(status.rawValue)
  }
}
