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

  /// Writes text to standard error as it is (for a progress line that redraws itself).
  public static func raw(_ text: String) {
    var text = text
    text.withUTF8 { try? RecordWriter.writeAll(UnsafeRawBufferPointer($0), to: 2, name: "stderr") }
  }

  /// Whether standard error is a terminal.
  public static var stderrIsTerminal: Bool { isatty(2) != 0 }
}
