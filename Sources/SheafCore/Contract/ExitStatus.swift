/// The exit statuses every tool uses (DESIGN.md section 9).
public enum ExitStatus: Int32, Sendable {
  /// Every record completed.
  case completed = 0
  /// The stream is complete but some records failed.
  case someFailed = 1
  /// A usage or configuration error: nothing was processed.
  case usage = 2
  /// Malformed input: every good record before it was written.
  case malformedInput = 3
  /// Interrupted (SIGINT or SIGTERM).
  case interrupted = 130

  /// The table shown in every `--help` and in the README.
  public static let helpText = """
    EXIT STATUS
      0    all records completed
      1    the stream is complete but some records failed
      2    usage or configuration error (nothing processed)
      3    malformed input (every good record before it was written)
      130  interrupted
    """
}

/// An error that stops a tool: printed once as `TOOL: message`, then the tool exits with `status`.
public struct ToolFailure: Error, Sendable {
  /// The exit status it ends with.
  public var status: ExitStatus
  /// One line: where, then what (`stdin:12: …`, `plan.json: …`).
  public var message: String

  /// A failure with this status and message.
  public init(_ status: ExitStatus, _ message: String) {
    self.status = status
    self.message = message
  }

  /// A usage or configuration error (exit 2).
  public static func usage(_ message: String) -> ToolFailure { ToolFailure(.usage, message) }
}
