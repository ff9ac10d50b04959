import Foundation

/// A file that lines are appended to (`events.ndjson`, call-llm's `--log`): opened with O_APPEND,
/// and each line written with one `write(2)`, so several processes can append to the same file
/// without their lines interleaving. Owns its descriptor.
final class AppendFile {
  private let fd: Int32
  private let path: String

  /// Opens (creating it if need be) `path` for appending.
  /// - Throws: `ToolFailure` naming the path and the system's reason.
  init(path: String) throws {
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw ToolFailure.usage("\(path): cannot open for appending: \(String(cString: strerror(errno)))") }
    self.path = path
  }

  deinit {
    close(fd)
  }

  /// Appends one line (the newline is added).
  /// - Throws: `ToolFailure` when the write fails.
  func append(_ line: String) throws {
    var text = line + "\n"
    try text.withUTF8 { try RecordWriter.writeAll(UnsafeRawBufferPointer($0), to: fd, name: path) }
  }
}

/// The events file of a run (`runs/<doc>/events.ndjson`).
public enum EventLog {
  /// Appends one event.
  /// - Throws: `ToolFailure` when the file cannot be opened or written.
  public static func append(_ event: JSON, to path: String) throws {
    try AppendFile(path: path).append(event.compactText)
  }
}
