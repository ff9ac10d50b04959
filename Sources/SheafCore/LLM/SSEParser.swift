/// One server-sent event.
public struct SSEEvent: Equatable, Sendable {
  /// The `event:` field (`message` when none was given).
  public var name: String
  /// The `data:` lines joined with newlines.
  public var data: String
}

/// Server-sent events framing, as the HTML standard defines it: lines end with CR, LF or CRLF
/// (a CR at the end of one read may pair with an LF at the start of the next), `data:` lines
/// accumulate, lines starting with `:` are comments, a blank line dispatches. Bytes may be split
/// anywhere, inside a UTF-8 sequence too: lines are cut at ASCII bytes only, and decoded whole.
public struct SSEParser {
  private var line: [UInt8] = []
  private var afterCR = false
  private var eventName = ""
  private var data: [String] = []
  private var hasData = false

  /// A parser at the start of a stream.
  public init() {}

  /// Feeds bytes; returns the events they complete.
  public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [SSEEvent] {
    var events: [SSEEvent] = []
    var index = 0
    let count = bytes.count
    while index < count {
      if afterCR {
        afterCR = false
        if bytes[index] == 0x0A {
          index += 1
          continue
        }
      }
      // Copy the run up to the next line ending in one go.
      var end = index
      while end < count && bytes[end] != 0x0A && bytes[end] != 0x0D { end += 1 }
      if end > index { line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<end])) }
      guard end < count else { break }
      afterCR = bytes[end] == 0x0D
      if let event = endLine() { events.append(event) }
      index = end + 1
    }
    return events
  }

  /// Feeds a string (for tests).
  public mutating func feed(_ text: String) -> [SSEEvent] {
    Array(text.utf8).withUnsafeBytes { feed($0) }
  }

  /// Ends the stream: a last event without its blank line is not dispatched (as the standard says).
  public mutating func finish() -> [SSEEvent] {
    if !line.isEmpty { _ = endLine() }
    return []
  }

  private mutating func endLine() -> SSEEvent? {
    defer { line.removeAll(keepingCapacity: true) }
    if line.isEmpty {
      guard hasData else {
        eventName = ""
        return nil
      }
      let event = SSEEvent(name: eventName.isEmpty ? "message" : eventName, data: data.joined(separator: "\n"))
      eventName = ""
      data.removeAll()
      hasData = false
      return event
    }
    if line.first == UInt8(ascii: ":") { return nil }
    let field: String
    var value: ArraySlice<UInt8>
    if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
      field = String(decoding: line[..<colon], as: UTF8.self)
      value = line[(colon + 1)...]
      if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
    } else {
      field = String(decoding: line, as: UTF8.self)
      value = []
    }
    switch field {
    case "data":
      data.append(String(decoding: value, as: UTF8.self))
      hasData = true
    case "event":
      eventName = String(decoding: value, as: UTF8.self)
    default:
      break  // id, retry and unknown fields do not matter here
    }
    return nil
  }
}

/// Newline-delimited framing (Ollama's stream): whole lines, split anywhere across reads.
public struct LineFramer {
  private var line: [UInt8] = []

  /// A framer at the start of a stream.
  public init() {}

  /// Feeds bytes; returns the complete, non-blank lines.
  public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [String] {
    var lines: [String] = []
    for byte in bytes {
      if byte == 0x0A {
        if let text = take() { lines.append(text) }
      } else {
        line.append(byte)
      }
    }
    return lines
  }

  /// The last line, when the stream did not end with a newline.
  public mutating func finish() -> [String] {
    take().map { [$0] } ?? []
  }

  private mutating func take() -> String? {
    defer { line.removeAll(keepingCapacity: true) }
    var slice = line[...]
    if slice.last == 0x0D { slice = slice.dropLast() }
    let text = String(decoding: slice, as: UTF8.self)
    return text.allSatisfy(\.isWhitespace) ? nil : text
  }
}
