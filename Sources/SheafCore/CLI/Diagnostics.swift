import Foundation

/// Messages for people, on standard error, each prefixed with the tool's name.
public enum Diagnostics {
  /// Writes `tool: message` and a newline to standard error; each line of a message that lists
  /// several problems gets the prefix.
  public static func say(_ tool: String, _ message: String) {
    var line = message.split(separator: "\n", omittingEmptySubsequences: false)
      .map { "\(tool): \($0)\n" }.joined()
    line.withUTF8 { bytes in
      try? RecordWriter.writeAll(UnsafeRawBufferPointer(bytes), to: 2, name: "stderr")
    }
  }

  /// Whether standard error is a terminal.
  public static var stderrIsTerminal: Bool { isatty(2) != 0 }
}
