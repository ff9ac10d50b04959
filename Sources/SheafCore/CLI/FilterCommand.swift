import ArgumentParser
import Foundation

/// A sheaf tool: an argument-parser command whose `execute()` returns an exit status, run by a
/// shared `main()` that is the tool's one exit point.
public protocol FilterCommand: ParsableCommand {
  /// Does the work and says how it ended.
  /// - Throws: `ToolFailure` for what stops the tool (usage, malformed input, output closed).
  mutating func execute() throws -> ExitStatus
}

/// A tool that, in a pipeline, finishes its input when it is told to stop.
///
/// Ctrl-C, SIGTERM or SIGHUP to the run's processes: what comes after call-llm must write the
/// records call-llm cancels, so nothing is lost. It then exits with the signal's status.
public protocol FinishesInputOnSignal {}

/// The stop signal a filter put off until its input ended (0: none).
nonisolated(unsafe) private var deferredSignal: Int32 = 0

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

  /// Ends the tool for an argument error: `--help` and `--version` print and exit 0; anything else
  /// is one line that points at `--help`, exit 2.
  private static func argumentError(_ error: Error) -> Never {
    let code = exitCode(for: error)
    if code == .success {
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
    Foundation.exit(ExitStatus.usage.rawValue)
  }

  /// `main()` with explicit arguments.
  public static func main(_ arguments: [String]) -> Never {
    // A closed pipe is reported by the writer as EPIPE, instead of killing the process.
    signal(SIGPIPE, SIG_IGN)
    var filter: any FilterCommand
    do {
      var command = try parseAsRoot(arguments)
      guard let found = command as? any FilterCommand else {
        // --help and the like: argument-parser's own commands, which end by throwing.
        try command.run()
        Foundation.exit(0)
      }
      // The root command or one of its subcommands.
      filter = found
    } catch {
      argumentError(error)
    }
    // Reading a pipe, a filter that writes what call-llm cancels finishes its input first; one
    // reading a terminal stops at once (its input would never end).
    if filter is FinishesInputOnSignal, isatty(STDIN_FILENO) == 0 {
      let putOff: @convention(c) (Int32) -> Void = { number in
        if deferredSignal == 0 { deferredSignal = number }
      }
      for number in [SIGINT, SIGTERM, SIGHUP] { signal(number, putOff) }
    }
    var status: ExitStatus
    do {
      status = try filter.execute()
    } catch let failure as ToolFailure {
      Diagnostics.say(toolName, failure.message)
      status = failure.status
    } catch {
      // Anything else the work threw (a file the system refused): one line with the path and the
      // system's reason, never a dump of the error and never "see --help".
      Diagnostics.say(toolName, SystemReason.line(for: error))
      status = .usage
    }
    if deferredSignal != 0 { Foundation.exit(128 + deferredSignal) }
    Foundation.exit(status.rawValue)
  }
}
