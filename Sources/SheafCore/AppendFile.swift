import Foundation

/// A file that lines are appended to (`events.ndjson`, call-llm's `--log`).
///
/// Each append holds an
/// exclusive `flock` on the file, so several processes can share it, and is one whole line or
/// nothing: a write cut short (a full disk) is cut back to where it started, and a line left torn
/// by a writer that was killed mid-write is ended before the next line, so it stays one bad line
/// that readers skip instead of spoiling the next one. Owns its descriptor.
public final class AppendFile {
  private let fd: Int32
  private let path: String

  /// Opens (creating it if need be) `path` for appending.
  /// - Throws: `ToolFailure` naming the path and the system's reason.
  public init(path: String) throws {
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ToolFailure.usage(
        "\(path): cannot open for appending: \(String(cString: strerror(errno)))")
    }
    self.path = path
  }

  deinit {
    close(fd)
  }

  /// Appends one line (the newline is added).
  /// - Throws: `ToolFailure` when the write fails; the file is then as it was before.
  public func append(_ line: String) throws {
    while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
    defer { _ = flock(fd, LOCK_UN) }
    let size = lseek(fd, 0, SEEK_END)
    var text = Secrets.redact(line) + "\n"
    if size > 0 {
      var last: UInt8 = 0
      if pread(fd, &last, 1, size - 1) == 1 && last != 0x0A { text = "\n" + text }
    }
    do {
      try text.withUTF8 {
        try RecordWriter.writeAll(UnsafeRawBufferPointer($0), to: fd, name: path)
      }
    } catch {
      if size >= 0 { _ = ftruncate(fd, size) }
      throw error
    }
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
