import Foundation

/// A long Markdown text cut into pieces that cmark parses one at a time, so that what a text costs
/// to parse stays bounded by the piece, not by the text.
///
/// cmark builds a node for every block and inline of the whole text before it returns: a million
/// one-line list items or headings cost it 75 to 100 times their size. A text longer than `limit`
/// bytes is cut before a line that starts a block of its own (after a blank line, or at column 0
/// where no setext underline follows), never inside a fenced code block or an HTML block; when no
/// such line comes within four times `limit`, the piece is cut at a line anyway and a fence or
/// HTML block left open is opened again at the top of the next piece. A single line longer than
/// `limit` is cut at spaces. What the rules read (words, headings, prose) is the same as for the
/// whole text, except for constructs that span a forced cut (a link cut in two, say), which only
/// a text with no block boundary in 256 KB has.
public struct MarkdownPieces {
  /// A piece: its text, and the number of lines of the whole text before its first line (a line
  /// of the piece is `line + lineOffset` in the whole; a reopened fence's line counts as 0).
  public typealias Piece = (text: String, lineOffset: Int)

  /// The text, as UTF-8.
  private let bytes: [UInt8]
  /// The size a piece grows to before it is cut at the next safe line.
  private let limit: Int

  /// Pieces of `markdown`, each about `limit` bytes (64 KiB by default).
  public init(_ markdown: String, limit: Int = 1 << 16) {
    bytes = Array(markdown.utf8)
    self.limit = max(limit, 64)
  }

  /// Calls `body` with each piece in order; one piece, the whole text, when it is within `limit`.
  public func visit(_ body: (Piece) -> Void) {
    guard bytes.count > limit else {
      body((String(decoding: bytes, as: UTF8.self), 0))
      return
    }
    withoutActuallyEscaping(body) { body in
      var cutter = Cutter(bytes: bytes, limit: limit, body: body)
      cutter.run()
    }
  }
}

/// What a line leaves open: nothing, a fenced code block, or an HTML block.
private enum OpenBlock {
  case none
  /// A fence of `count` `char`s, opened by the line `opener`.
  case fence(char: UInt8, count: Int, opener: Range<Int>)
  /// An HTML block that ends at a line holding `end` (or at a blank line when `end` is empty).
  case html(end: [UInt8], opener: Range<Int>)

  /// The line that opened the block, if one is open.
  var opener: Range<Int>? {
    switch self {
    case .none: nil
    case .fence(_, _, let opener), .html(_, let opener): opener
    }
  }
}

/// The walk over the lines that makes the pieces.
private struct Cutter {
  let bytes: [UInt8]
  let limit: Int
  let body: (MarkdownPieces.Piece) -> Void
  /// Where the piece being gathered starts, and the line it starts on (1-based).
  var pieceStart = 0
  var pieceLine = 1
  /// An opener line to put at the top of the piece being gathered (a forced cut inside a block).
  var carried: Range<Int>?
  var open = OpenBlock.none

  init(bytes: [UInt8], limit: Int, body: @escaping (MarkdownPieces.Piece) -> Void) {
    self.bytes = bytes
    self.limit = limit
    self.body = body
  }

  mutating func run() {
    var line = 1
    var previousBlank = false
    for range in ByteLines(bytes) where range.lowerBound < bytes.count {
      let (lineStart, lineEnd) = (range.lowerBound, range.upperBound)
      let size = lineStart - pieceStart
      if size >= limit, lineStart > pieceStart {
        let isOpen = open.opener != nil
        // Text at column 0 followed by a setext underline belongs to the paragraph before it.
        let safe =
          !isOpen
          && (previousBlank
            || (startsBlock(lineStart..<lineEnd) && !isUnderline(nextLine(after: lineEnd))))
        if safe || size >= 4 * limit {
          emit(upTo: lineStart)
          carried = open.opener
          pieceStart = lineStart
          pieceLine = line
        }
      }
      if lineEnd - lineStart > limit {
        cutLongLine(lineStart..<lineEnd, line: line)
      }
      update(with: lineStart..<lineEnd)
      previousBlank = isBlank(lineStart..<lineEnd)
      line += 1
    }
    emit(upTo: bytes.count)
  }

  /// Emits the piece gathered so far, ending before `end`.
  mutating func emit(upTo end: Int) {
    guard end > pieceStart else { return }
    var text: [UInt8] = []
    var offset = pieceLine - 1
    if let carried {
      text.append(contentsOf: bytes[carried])
      text.append(0x0A)
      offset -= 1
    }
    text.append(contentsOf: bytes[pieceStart..<max(end, pieceStart)])
    body((String(decoding: text, as: UTF8.self), offset))
  }

  /// A line over `limit` bytes: the piece before it is emitted, then the line in spans cut at
  /// spaces (or at a character boundary when it has none), each a piece of its own.
  mutating func cutLongLine(_ range: Range<Int>, line: Int) {
    emit(upTo: range.lowerBound)
    carried = open.opener
    var start = range.lowerBound
    while range.upperBound - start > limit {
      var cut = start + limit
      var back = cut
      while back > start + limit / 2, bytes[back] != 0x20 { back -= 1 }
      if bytes[back] == 0x20 { cut = back }
      while cut < range.upperBound, bytes[cut] & 0xC0 == 0x80 { cut += 1 }
      pieceStart = start
      pieceLine = line
      emit(upTo: cut)
      start = cut
    }
    pieceStart = start
    pieceLine = line
  }

  /// Whether a line starts a block cmark would start there anyway: text at column 0 that is not a
  /// setext underline, a block quote's line (it may go on a quote's paragraph), an HTML block or a
  /// fence.
  func startsBlock(_ range: Range<Int>) -> Bool {
    guard let first = range.first.map({ bytes[$0] }), first != 0x20, first != 0x09, first != 0x0D
    else { return false }
    if first == 0x3C || first == 0x60 || first == 0x7E || first == 0x3E { return false }
    return !isUnderline(range)
  }

  /// Whether a line is a setext heading's underline (`===` or `---`, spaces around).
  func isUnderline(_ range: Range<Int>?) -> Bool {
    guard let range else { return false }
    let text = bytes[range].drop { $0 == 0x20 }
    guard let first = text.first, first == 0x3D || first == 0x2D else { return false }
    return text.allSatisfy { $0 == first || $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
  }

  /// The line after the one ending at `end`, if there is one.
  func nextLine(after end: Int) -> Range<Int>? {
    guard end < bytes.count else { return nil }
    var stop = end + 1
    while stop < bytes.count, bytes[stop] != 0x0A { stop += 1 }
    return (end + 1)..<stop
  }

  /// Where a line's text starts after the markers of the containers it is in (`>`, `-`, `*`,
  /// `+`, `1.`, `1)` and the spaces after them), so a fence in a list item or a quote is seen.
  func afterContainers(_ range: Range<Int>) -> Int {
    var index = ByteLines.firstNonSpace(bytes, in: range)
    while index < range.upperBound {
      var next = index
      if bytes[next] == 0x3E {
        next += 1
      } else if [0x2D, 0x2A, 0x2B].contains(bytes[next]), next + 1 < range.upperBound,
        bytes[next + 1] == 0x20
      {
        next += 1
      } else {
        var digits = next
        while digits < range.upperBound, digits - next < 9, bytes[digits] >= 0x30,
          bytes[digits] <= 0x39
        {
          digits += 1
        }
        guard digits > next, digits + 1 < range.upperBound,
          bytes[digits] == 0x2E || bytes[digits] == 0x29, bytes[digits + 1] == 0x20
        else { break }
        next = digits + 1
      }
      while next < range.upperBound, bytes[next] == 0x20 { next += 1 }
      index = next
    }
    return index
  }

  func isBlank(_ range: Range<Int>) -> Bool {
    bytes[range].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
  }

  /// Follows the fenced code and HTML blocks a line opens or closes.
  mutating func update(with range: Range<Int>) {
    let first = ByteLines.firstNonSpace(bytes, in: range)
    let indented = first - range.lowerBound > 3
    switch open {
    case .fence(let char, let count, _):
      // The closing fence, at the top level or after the markers of the quote it is in.
      for start in [first, afterContainers(range)] where !indented || start != first {
        let run = bytes[start..<range.upperBound].prefix(while: { $0 == char }).count
        if run >= count, isBlank((start + run)..<range.upperBound) {
          open = .none
          return
        }
      }
    case .html(let end, _):
      if end.isEmpty ? isBlank(range) : contains(end, in: range) { open = .none }
    case .none:
      guard !indented, first < range.upperBound else { return }
      let inner = afterContainers(range)
      if inner < range.upperBound, bytes[inner] == 0x60 || bytes[inner] == 0x7E {
        let char = bytes[inner]
        let run = bytes[inner..<range.upperBound].prefix(while: { $0 == char }).count
        if run >= 3 { open = .fence(char: char, count: run, opener: range) }
        return
      }
      let char = bytes[first]
      if char == 0x60 || char == 0x7E {
        let run = bytes[first..<range.upperBound].prefix(while: { $0 == char }).count
        if run >= 3 { open = .fence(char: char, count: run, opener: range) }
      } else if char == 0x3C {
        let end = htmlEnd(first..<range.upperBound)
        if end.isEmpty || !contains(end, in: (first + 1)..<range.upperBound) {
          open = .html(end: end, opener: range)
        }
      }
    }
  }

  /// What ends the HTML block a line starting with `<` opens (CommonMark's kinds 1 to 5); empty
  /// for the kinds a blank line ends.
  func htmlEnd(_ range: Range<Int>) -> [UInt8] {
    let head = String(decoding: bytes[range].prefix(12), as: UTF8.self).lowercased()
    for tag in ["script", "pre", "style", "textarea"] where head.hasPrefix("<" + tag) {
      return Array("</\(tag)>".utf8)
    }
    if head.hasPrefix("<!--") { return Array("-->".utf8) }
    if head.hasPrefix("<?") { return Array("?>".utf8) }
    if head.hasPrefix("<![cdata[") { return Array("]]>".utf8) }
    if head.hasPrefix("<!") { return Array(">".utf8) }
    return []
  }

  /// Whether `needle` occurs in the bytes of `range` (case-insensitive for ASCII letters).
  func contains(_ needle: [UInt8], in range: Range<Int>) -> Bool {
    guard range.count >= needle.count else { return false }
    var index = range.lowerBound
    while index + needle.count <= range.upperBound {
      var matched = true
      for (offset, byte) in needle.enumerated() where bytes[index + offset] | 0x20 != byte | 0x20 {
        matched = false
        break
      }
      if matched { return true }
      index += 1
    }
    return false
  }
}

/// The lines of UTF-8 text as byte ranges without their newline; what follows the last newline
/// is a line too, even when empty.
public struct ByteLines: Sequence, IteratorProtocol {
  /// The text.
  private let bytes: [UInt8]
  /// Where the next line starts; past the end when there is none.
  private var start = 0

  /// The lines of `bytes`.
  public init(_ bytes: [UInt8]) {
    self.bytes = bytes
  }

  /// The next line's range.
  public mutating func next() -> Range<Int>? {
    guard start <= bytes.count else { return nil }
    var end = start
    while end < bytes.count, bytes[end] != 0x0A { end += 1 }
    defer { start = end + 1 }
    return start..<end
  }

  /// Where the text of `line` starts after its leading spaces.
  public static func firstNonSpace(_ bytes: [UInt8], in line: Range<Int>) -> Int {
    var first = line.lowerBound
    while first < line.upperBound, bytes[first] == 0x20 { first += 1 }
    return first
  }
}
