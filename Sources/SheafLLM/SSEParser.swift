import SheafCore

/// How long one line or event of a response stream may be: a server that sends more is not an
/// LLM server (or is broken), and is stopped with a clear error instead of eating memory.
public enum StreamLimits {
  /// 8 MiB.
  public static let defaultMaxEventBytes = 8 << 20
  /// The limit in force (call-llm's `--max-event-bytes`).
  nonisolated(unsafe) public static var maxEventBytes = defaultMaxEventBytes

  /// The error for a stream that went past the limit.
  static func tooLong(_ what: String) -> SheafError {
    SheafError(
      .provider,
      "the response stream sent \(what) longer than \(maxEventBytes) bytes; it was stopped",
      hint:
        "is the base URL an LLM server? raise --max-event-bytes if it really sends such long events"
    )
  }
}

/// One server-sent event.
public struct SSEEvent: Equatable, Sendable {
  /// The `event:` field (`message` when none was given).
  public var name: String
  /// The `data:` lines joined with newlines.
  public var data: String
}

/// Server-sent events framing, as the HTML standard defines it: lines end with CR, LF or CRLF
/// (a CR at the end of one read may pair with an LF at the start of the next), `data:` lines
/// accumulate, lines starting with `:` are comments, a blank line dispatches.
///
/// Bytes may be split
/// anywhere, inside a UTF-8 sequence too: lines are cut at ASCII bytes only, and decoded whole.
public struct SSEParser {
  private var line: [UInt8] = []
  private var afterCR = false
  private var eventName = ""
  private var data: [String] = []
  private var dataBytes = 0
  private var hasData = false
  private let limit: Int
  /// Whether a line or an event went past the limit (then nothing more is parsed).
  public private(set) var overflowed = false
  /// How many events were dispatched.
  public private(set) var eventCount = 0

  /// A parser at the start of a stream, with the limit in force.
  public init(limit: Int = StreamLimits.maxEventBytes) {
    self.limit = limit
  }

  /// Feeds bytes; returns the events they complete.
  public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [SSEEvent] {
    var events: [SSEEvent] = []
    var index = 0
    let count = bytes.count
    while index < count && !overflowed {
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
      if line.count + (end - index) > limit || dataBytes + line.count + (end - index) > limit {
        overflowed = true
        line = []
        data = []
        break
      }
      if end > index {
        line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
      }
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
      let event = SSEEvent(
        name: eventName.isEmpty ? "message" : eventName, data: data.joined(separator: "\n"))
      eventName = ""
      data.removeAll()
      dataBytes = 0
      hasData = false
      eventCount += 1
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
      dataBytes += value.count
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
  private let limit: Int
  /// Whether a line went past the limit (then nothing more is read).
  public private(set) var overflowed = false
  /// How many lines were returned.
  public private(set) var lineCount = 0

  /// A framer at the start of a stream, with the limit in force.
  public init(limit: Int = StreamLimits.maxEventBytes) {
    self.limit = limit
  }

  /// Feeds bytes; returns the complete, non-blank lines.
  public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [String] {
    var lines: [String] = []
    var index = 0
    while index < bytes.count && !overflowed {
      var end = index
      while end < bytes.count && bytes[end] != 0x0A { end += 1 }
      if line.count + (end - index) > limit {
        overflowed = true
        line = []
        break
      }
      line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
      guard end < bytes.count else { break }
      if let text = take() { lines.append(text) }
      index = end + 1
    }
    lineCount += lines.count
    return lines
  }

  /// The last line, when the stream did not end with a newline.
  public mutating func finish() -> [String] {
    guard !overflowed, let last = take() else { return [] }
    lineCount += 1
    return [last]
  }

  private mutating func take() -> String? {
    defer { line.removeAll(keepingCapacity: true) }
    var slice = line[...]
    if slice.last == 0x0D { slice = slice.dropLast() }
    let text = String(decoding: slice, as: UTF8.self)
    return text.allSatisfy(\.isWhitespace) ? nil : text
  }
}

/// A decoder over server-sent events: each event becomes pieces; the framing, the length limit
/// and the count are shared.
protocol SSEStreamDecoder: StreamDecoder {
  /// The framing.
  var sse: SSEParser { get set }
  /// The pieces one event holds.
  func pieces(_ event: SSEEvent) -> [StreamPiece]
}

extension SSEStreamDecoder {
  mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [StreamPiece] {
    sse.feed(bytes).flatMap(pieces)
      + (sse.overflowed ? [.error(StreamLimits.tooLong("an event"))] : [])
  }

  mutating func finish() -> [StreamPiece] { sse.finish().flatMap(pieces) }

  var eventCount: Int { sse.eventCount }
}

/// A response that is one JSON body although a stream was asked for (some servers and proxies
/// answer so): read whole, then read by the provider as a non-streamed answer.
struct WholeBodyDecoder: StreamDecoder {
  let provider: any Provider
  private var buffer: [UInt8] = []
  private var overflowed = false
  private(set) var eventCount = 0

  init(provider: any Provider) {
    self.provider = provider
  }

  mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [StreamPiece] {
    guard !overflowed else { return [] }
    if buffer.count + bytes.count > StreamLimits.maxEventBytes {
      overflowed = true
      return [.error(StreamLimits.tooLong("a JSON body"))]
    }
    buffer.append(contentsOf: bytes)
    return []
  }

  mutating func finish() -> [StreamPiece] {
    guard !overflowed, !buffer.isEmpty else { return [] }
    guard let body = try? buffer.withUnsafeBytes({ try JSON.parse($0) }), body.kind == .object
    else {
      // Labelled JSON but not one value (a stream under the wrong type): read as the stream.
      var stream = provider.makeDecoder()
      let pieces = buffer.withUnsafeBytes { stream.feed($0) } + stream.finish()
      eventCount = stream.eventCount
      return pieces
    }
    eventCount = 1
    if let error = body["error"], !error.isNull {
      // An error in a 200 body (a proxy's way): classified as the status it stands for.
      let (message, code) = ProviderErrors.parseBody(body.compactText)
      let lower = (message + " " + (code ?? "")).lowercased()
      let status =
        lower.contains("rate")
        ? 429
        : lower.contains("overload")
          ? 529
          : ["quota", "credit", "billing"].contains(where: lower.contains) ? 402 : 500
      return [
        .error(
          ProviderErrors.map(
            status: status, message: message, code: code, provider: provider.name,
            keyVariable: provider.keyVariable, retryAfter: nil, model: ""))
      ]
    }
    return provider.wholeAnswer(body)
  }
}
