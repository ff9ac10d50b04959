import Foundation

/// Lines from standard input or files, read only when a read will not block, so one thread can
/// both read records and run transfers. Each read takes what is there; complete lines come out.
final class InputLines {
  private var paths: [String]
  private var fd: Int32 = -1
  private var owns = false
  private(set) var name = "stdin"
  private var buffer: [UInt8] = []
  private var start = 0
  private(set) var lineNumber = 0
  /// Every source is read to its end.
  private(set) var finished = false

  /// Lines from `paths` in order (`-` or none: standard input).
  /// - Throws: `ToolFailure` when the first file cannot be opened.
  init(paths: [String]) throws {
    self.paths = paths.isEmpty ? ["-"] : paths
    try openNext()
  }

  deinit {
    if owns { close(fd) }
  }

  /// The descriptor to wait on, while there is one.
  var descriptor: Int32? { finished ? nil : fd }

  private func openNext() throws {
    if owns { close(fd) }
    guard !paths.isEmpty else {
      finished = true
      return
    }
    let path = paths.removeFirst()
    lineNumber = 0
    if path == "-" {
      (fd, owns, name) = (0, false, "stdin")
    } else {
      let opened = open(path, O_RDONLY | O_CLOEXEC)
      guard opened >= 0 else {
        throw ToolFailure.usage("\(path): cannot open: \(String(cString: strerror(errno)))")
      }
      (fd, owns, name) = (opened, true, path)
    }
  }

  /// Whether a read would return at once.
  var isReadable: Bool {
    guard !finished else { return false }
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return Foundation.poll(&entry, 1, 0) > 0
  }

  /// Reads once and returns the complete lines (each with its source and number).
  /// - Throws: `ToolFailure` when reading fails or the next file cannot be opened.
  func read() throws -> [(line: [UInt8], location: LineLocation)] {
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    let count = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
    if count < 0 {
      if errno == EINTR || errno == EAGAIN { return [] }
      throw ToolFailure.usage("\(name): read error: \(String(cString: strerror(errno)))")
    }
    var lines: [(line: [UInt8], location: LineLocation)] = []
    if count == 0 {
      if start < buffer.count { lines.append(take(upTo: buffer.count)) }
      buffer.removeAll()
      start = 0
      try openNext()
      return lines
    }
    let scanFrom = buffer.count
    buffer.append(contentsOf: chunk[0..<count])
    var index = scanFrom
    while index < buffer.count {
      if buffer[index] == 0x0A { lines.append(take(upTo: index)) }
      index += 1
    }
    if start > 0 && start >= buffer.count / 2 {
      buffer.removeSubrange(0..<start)
      start = 0
    }
    return lines
  }

  private func take(upTo end: Int) -> (line: [UInt8], location: LineLocation) {
    var line = Array(buffer[start..<end])
    if line.last == 0x0D { line.removeLast() }
    start = min(end + 1, buffer.count)
    lineNumber += 1
    return (line, LineLocation(source: name, line: lineNumber))
  }
}
