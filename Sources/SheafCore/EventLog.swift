import Foundation

/// An append-only NDJSON file of events (`runs/<doc>/events.ndjson`): each event is one
/// `write(2)` of one whole line with O_APPEND, so several processes can append at once.
public enum EventLog {
  /// Appends one event.
  /// - Throws: `ToolFailure` when the file cannot be opened or written.
  public static func append(_ event: JSON, to path: String) throws {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw ToolFailure.usage("\(path): cannot open for appending: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var line = event.compactText + "\n"
    try line.withUTF8 { try RecordWriter.writeAll(UnsafeRawBufferPointer($0), to: fd, name: path) }
  }
}
