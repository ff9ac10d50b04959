import Foundation

/// Reads lines from a file descriptor in constant memory: a buffer as large as the longest line,
/// whatever the input's size.
///
/// `\n` and `\r\n` both end a line; a last line without one counts.
public final class LineReader {
  /// How messages name this input: `stdin` or the file's path.
  public let name: String
  /// The number of the line last returned (1-based; blank lines count).
  public private(set) var lineNumber = 0

  private let fd: Int32
  private let ownsDescriptor: Bool
  private var buffer: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  private var start = 0
  private var end = 0
  private var scanned = 0
  private var atEnd = false

  /// Reads standard input.
  public convenience init(standardInputChunk chunk: Int = 256 * 1024) {
    self.init(fd: 0, name: "stdin", owns: false, chunk: chunk)
  }

  /// Opens a file (`-` is standard input).
  /// - Throws: `ToolFailure` (usage) when the file cannot be opened.
  public convenience init(path: String, chunk: Int = 256 * 1024) throws {
    if path == "-" {
      self.init(fd: 0, name: "stdin", owns: false, chunk: chunk)
      return
    }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw ToolFailure.usage("\(path): cannot open: \(String(cString: strerror(errno)))")
    }
    self.init(fd: fd, name: path, owns: true, chunk: chunk)
  }

  /// Reads `fd`, naming it `name` in messages; `chunk` is the size of one read.
  public init(fd: Int32, name: String, owns: Bool, chunk: Int) {
    self.fd = fd
    self.name = name
    ownsDescriptor = owns
    capacity = max(chunk, 16)
    buffer = .allocate(capacity: capacity)
  }

  deinit {
    buffer.deallocate()
    if ownsDescriptor { close(fd) }
  }

  /// What a read gave.
  public enum Next {
    /// A line without its line ending, valid until the next call.
    case line(UnsafeRawBufferPointer)
    /// No whole line yet, and a read would wait (only when not waiting).
    case wouldBlock
    /// The input is done.
    case end
  }

  /// The descriptor it reads, for waiting on with poll(2).
  public var descriptor: Int32 { fd }

  /// The next line without its line ending, valid until the next call; `nil` at the end.
  /// - Throws: `ToolFailure` when reading fails.
  public func next() throws -> UnsafeRawBufferPointer? {
    if case .line(let line) = try next(waiting: true) { return line }
    return nil
  }

  /// The next line; with `waiting: false`, `.wouldBlock` instead of waiting for input, so one
  /// thread can read records and run transfers (call-llm).
  /// - Throws: `ToolFailure` when reading fails.
  public func next(waiting: Bool) throws -> Next {
    while true {
      if scanned < end,
        let newline = memchr(buffer + scanned, 0x0A, end - scanned)
      {
        let lineEnd = buffer.distance(to: newline.assumingMemoryBound(to: UInt8.self))
        return .line(take(upTo: lineEnd, consuming: lineEnd + 1))
      }
      scanned = end
      if atEnd {
        return start < end ? .line(take(upTo: end, consuming: end)) : .end
      }
      if !waiting {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&entry, 1, 0) <= 0 { return .wouldBlock }
      }
      try fill()
    }
  }

  private func take(upTo lineEnd: Int, consuming next: Int) -> UnsafeRawBufferPointer {
    var length = lineEnd - start
    if length > 0 && buffer[start + length - 1] == 0x0D { length -= 1 }
    let line = UnsafeRawBufferPointer(start: buffer + start, count: length)
    start = next
    scanned = next
    lineNumber += 1
    return line
  }

  /// Reads more bytes, first moving the unfinished line to the front or growing the buffer.
  private func fill() throws {
    if start > 0 {
      let pending = end - start
      if pending > 0 { memmove(buffer, buffer + start, pending) }
      end = pending
      scanned -= start
      start = 0
    }
    if end == capacity {
      let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
      larger.update(from: buffer, count: end)
      buffer.deallocate()
      buffer = larger
      capacity *= 2
    }
    while true {
      let count = read(fd, buffer + end, capacity - end)
      if count > 0 {
        end += count
        return
      }
      if count == 0 {
        atEnd = true
        return
      }
      if errno == EINTR { continue }
      throw ToolFailure.usage("\(name): read error: \(String(cString: strerror(errno)))")
    }
  }
}
