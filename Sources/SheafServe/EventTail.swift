import Foundation

/// The run's `events.ndjson` followed from a byte offset, a whole line at a time.
///
/// Each line comes with the offset where it ends, which is its event id on the page's stream. The log only grows, so an
/// offset names the same place for as long as the run directory lives, and a viewer that comes
/// back with the last id it saw (`Last-Event-ID`) goes on from the next line: none missed, none
/// twice.
struct EventTail {
  /// The log.
  let path: String
  /// Where the lines handed out so far end.
  private(set) var offset: UInt64
  /// Bytes read past `offset` that are not a whole line yet.
  private var pending: [UInt8] = []

  /// Follows `path` from `offset` (the end of a line, or 0).
  init(path: String, offset: UInt64) {
    self.path = path
    self.offset = offset
  }

  /// What `next()` found.
  enum Read {
    /// Whole lines (without their newline), each with the offset where it ends.
    case lines([(text: ArraySlice<UInt8>, end: UInt64)])
    /// The log is shorter than where it was followed from: it was replaced (the run directory
    /// removed and made again); the viewer starts over.
    case replaced
  }

  /// The whole lines written since the last call (at most about `limit` bytes of them).
  mutating func next(limit: Int = 1 << 20) -> Read {
    var info = stat()
    guard stat(path, &info) == 0 else { return .lines([]) }
    let size = UInt64(info.st_size)
    if size < offset + UInt64(pending.count) {
      offset = 0
      pending = []
      return .replaced
    }
    guard size > offset + UInt64(pending.count),
      let handle = FileHandle(forReadingAtPath: path)
    else { return .lines([]) }
    defer { try? handle.close() }
    try? handle.seek(toOffset: offset + UInt64(pending.count))
    guard let data = try? handle.read(upToCount: limit), !data.isEmpty else { return .lines([]) }
    pending.append(contentsOf: data)
    var lines: [(text: ArraySlice<UInt8>, end: UInt64)] = []
    var start = 0
    for index in pending.indices where pending[index] == 0x0A {
      if index > start {
        lines.append((pending[start..<index], offset + UInt64(index + 1)))
      }
      start = index + 1
    }
    if start > 0 {
      let kept = Array(pending[start...])
      // The slices handed out are copies of what they cover before `pending` is cut.
      lines = lines.map { (Array($0.text)[...], $0.end) }
      offset += UInt64(start)
      pending = kept
    }
    return .lines(lines)
  }

  /// Where a viewer starts, always at the start of a line.
  ///
  /// The `Last-Event-ID` it sent (an offset it was given), else `from`, else `fallback`.
  /// `beyond`: it asked for a place past the end of the log (the log was made again since it
  /// last saw it), so it starts over at 0.
  static func start(lastEventID: String?, from: String?, fallback: UInt64, path: String)
    -> (offset: UInt64, beyond: Bool)
  {
    var info = stat()
    let size = stat(path, &info) == 0 ? UInt64(info.st_size) : 0
    let asked = [lastEventID, from].lazy.compactMap {
      $0.flatMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    }.first
    if let asked, asked > size { return (0, true) }
    return (lineStart(min(asked ?? fallback, size), path: path), false)
  }

  /// `wanted`, or the start of the line it falls in.
  private static func lineStart(_ wanted: UInt64, path: String) -> UInt64 {
    guard wanted > 0 else { return 0 }
    // An id the server never gave (a hand-made one) is moved back to the start of its line.
    guard let handle = FileHandle(forReadingAtPath: path) else { return 0 }
    defer { try? handle.close() }
    try? handle.seek(toOffset: wanted - 1)
    if let byte = try? handle.read(upToCount: 1), byte.first == 0x0A { return wanted }
    var position = wanted
    while position > 0 {
      let step = min(position, 4096)
      try? handle.seek(toOffset: position - step)
      guard let block = try? handle.read(upToCount: Int(step)), !block.isEmpty else { return 0 }
      if let newline = block.lastIndex(of: 0x0A) {
        return position - step + UInt64(newline - block.startIndex) + 1
      }
      position -= step
    }
    return 0
  }
}
