import Foundation

/// Writes NDJSON to a file descriptor: one compact line per value, flushed as it is written (one
/// `write(2)` per line), so `tail -f` and a slow reader see each record as it comes.
public final class RecordWriter {
  private let fd: Int32
  private let name: String
  private let buffer = ByteBuffer()

  /// Writes to `fd` (standard output by default), naming it `name` in messages.
  public init(fd: Int32 = 1, name: String = "stdout") {
    self.fd = fd
    self.name = name
  }

  /// Writes one value as one line.
  /// - Throws: `ToolFailure` when the output is closed or full.
  public func write(_ value: JSON) throws {
    buffer.removeAll()
    value.serialize(into: buffer)
    buffer.append(0x0A)
    try flush()
  }

  /// Writes a line exactly as it came (the line ending is added).
  /// - Throws: `ToolFailure` when the output is closed or full.
  public func writeLine(_ line: UnsafeRawBufferPointer) throws {
    buffer.removeAll()
    buffer.append(line)
    buffer.append(0x0A)
    try flush()
  }

  /// Writes text as it is.
  /// - Throws: `ToolFailure` when the output is closed or full.
  public func writeText(_ text: String) throws {
    buffer.removeAll()
    buffer.append(text)
    try flush()
  }

  private func flush() throws {
    try buffer.withBytes { bytes in
      if let masked = Secrets.redact(bytes) {
        try masked.withUnsafeBytes { try Self.writeAll($0, to: fd, name: name) }
      } else {
        try Self.writeAll(bytes, to: fd, name: name)
      }
    }
  }

  /// Writes every byte, retrying short writes and interruptions.
  /// - Throws: `ToolFailure` naming the output and the system's reason (EPIPE, ENOSPC …).
  public static func writeAll(_ bytes: UnsafeRawBufferPointer, to fd: Int32, name: String) throws {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      let written = Foundation.write(fd, base + offset, bytes.count - offset)
      if written >= 0 {
        offset += written
        continue
      }
      if errno == EINTR { continue }
      let reason = errno == EPIPE ? "the reader closed the pipe" : String(cString: strerror(errno))
      throw ToolFailure(.usage, "\(name): write failed: \(reason)")
    }
  }
}
