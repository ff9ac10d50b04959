import Foundation
import SheafCore
import SheafMarkdown

/// What cmark sees in an answer: its prose words and its headings.
public struct MarkdownShape {
  /// Words of prose (text and inline code), not markup, code blocks or HTML.
  var words = 0
  /// Headings in order.
  var headings: [(level: Int, text: String, line: Int)] = []
  /// The text of the first block when it is a heading.
  var leadingHeading: String?
  /// Prose text, for phrase and placeholder checks (code blocks left out).
  var prose = ""

  /// Reads `markdown` a piece at a time (`MarkdownPieces`), so a long answer costs cmark no more
  /// than a piece of it.
  init(_ markdown: String) {
    var first = true
    MarkdownPieces(markdown).visit { piece in
      guard let document = MarkdownDocument(piece.text) else { return }
      if first, let block = document.node.firstChild, block.kind == .heading {
        leadingHeading = Self.text(of: block)
      }
      first = false
      read(document, lineOffset: piece.lineOffset)
    }
  }

  /// Adds one parsed piece's words, headings and prose.
  private mutating func read(_ document: MarkdownDocument, lineOffset: Int) {
    document.node.forEachEntered { node in
      let kind = node.kind
      if kind == .heading {
        headings.append((node.headingLevel, Self.text(of: node), node.startLine + lineOffset))
      } else if kind == .text || kind == .code, let literal = node.literal {
        add(literal)
        words += Self.countWords(literal)
      } else if kind == .softBreak || kind == .lineBreak || kind == .paragraph {
        add("\n")
      }
    }
  }

  /// Adds a part to the prose, a space after the part before it.
  private mutating func add(_ part: String) {
    if !prose.isEmpty { prose += " " }
    prose += part
  }

  /// The text inside a node (a heading's words).
  public static func text(of node: MarkdownNode) -> String {
    var parts: [String] = []
    node.forEachEntered { child in
      if let literal = child.literal { parts.append(literal) }
    }
    return parts.joined().trimmed
  }

  /// Words: runs of non-space that hold a letter or a digit (ASCII is decided without looking up
  /// Unicode properties, which is most of the time).
  static func countWords(_ text: String) -> Int {
    var count = 0
    var inWord = false
    var hasAlphanumeric = false
    for scalar in text.unicodeScalars {
      let value = scalar.value
      let space: Bool
      let alphanumeric: Bool
      if value < 0x80 {
        space = value == 0x20 || (value >= 0x09 && value <= 0x0D)
        alphanumeric =
          (value >= 0x30 && value <= 0x39) || (value | 0x20 >= 0x61 && value | 0x20 <= 0x7A)
      } else {
        space = scalar.properties.isWhitespace
        alphanumeric = scalar.properties.isAlphabetic || scalar.properties.numericType != nil
      }
      if space {
        if inWord && hasAlphanumeric { count += 1 }
        inWord = false
        hasAlphanumeric = false
      } else {
        inWord = true
        if alphanumeric { hasAlphanumeric = true }
      }
    }
    if inWord && hasAlphanumeric { count += 1 }
    return count
  }
}

/// Code fences found by reading lines (what cmark cannot say: whether a fence was left open,
/// and whether one fence wraps the whole answer).
struct FenceScan {
  /// A fence was opened and never closed.
  var unclosed = false
  /// The whole answer is one fenced block; this is what is inside it.
  var wholeAnswerInside: String?

  init(_ text: String) {
    // Bytes, not Characters, and no array of lines: this runs over every line of every answer.
    let bytes = Array(text.utf8)
    func isBlank(_ range: Range<Int>) -> Bool {
      bytes[range].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
    var open: (char: UInt8, length: Int, line: Range<Int>)?
    var blocks = 0
    var wrapping: (start: Range<Int>, end: Range<Int>)?
    var firstNonBlank: Range<Int>?
    var lastNonBlank: Range<Int>?
    for line in ByteLines(bytes) {
      if !isBlank(line) {
        if firstNonBlank == nil { firstNonBlank = line }
        lastNonBlank = line
      }
      let first = ByteLines.firstNonSpace(bytes, in: line)
      guard first - line.lowerBound <= 3, first < line.upperBound,
        bytes[first] == 0x60 || bytes[first] == 0x7E
      else { continue }
      let char = bytes[first]
      var after = first
      while after < line.upperBound, bytes[after] == char { after += 1 }
      let run = after - first
      guard run >= 3 else { continue }
      let rest = after..<line.upperBound
      if let current = open {
        if char == current.char && run >= current.length && isBlank(rest) {
          blocks += 1
          if blocks == 1 { wrapping = (current.line, line) }
          open = nil
        }
      } else {
        // A backtick fence's info string may not hold a backtick.
        if char == 0x60 && bytes[rest].contains(0x60) { continue }
        open = (char, run, line)
      }
    }
    unclosed = open != nil
    if !unclosed, blocks == 1, let wrapping, wrapping.start == firstNonBlank,
      wrapping.end == lastNonBlank
    {
      var inside = Array(bytes[wrapping.start.upperBound..<wrapping.end.lowerBound].dropFirst())
      if inside.last == 0x0A { inside.removeLast() }
      if inside.last == 0x0D { inside.removeLast() }
      wholeAnswerInside = String(decoding: inside, as: UTF8.self)
        .replacingOccurrences(of: "\r\n", with: "\n")
    }
  }
}

/// The Markdown rules of a format.
enum MarkdownRules {
  /// Preambles and sign-offs a model adds around an answer.
  static let defaultPhrases = [
    "sure, here is", "sure, here's", "sure! here", "certainly! here", "certainly, here",
    "here is the section",
    "here's the section", "as an ai", "as a language model", "i hope this helps",
    "let me know if you",
    "feel free to ask", "i'd be happy to", "i would be happy to",
  ]

  /// Text that stands in for content that was not written.
  static let placeholders = [
    "[insert", "[your ", "[tbd", "[todo", "[placeholder", "[add ", "lorem ipsum",
  ]
  static let placeholderWords = ["TODO", "TBD", "FIXME", "XXX"]

  /// How far outside a word range an answer may fall and still pass, with a warning (10%).
  static let defaultLengthTolerance = 0.1

  /// Checks `content` against `format`: the slips that are safe to fix are fixed first
  /// (`MarkdownRepair`); returns the violations, the warnings (what was fixed, a length inside the
  /// tolerance) and the repaired text when it changed.
  static func check(
    _ content: String, format: JSON?, title: String?, earlier: DuplicateIndex?, id: String?
  ) -> (violations: [Violation], warnings: [Violation], repaired: String?) {
    var violations: [Violation] = []
    var warnings: [Violation] = []
    let bytes = Array(content.utf8)
    if contains(bytes, "<think>") || contains(bytes, "</think>") {
      violations.append(
        Violation(rule: "think", message: "remove the leftover <think> block; give only the answer")
      )
    }
    let fences = FenceScan(content)
    if fences.unclosed {
      violations.append(
        Violation(
          rule: "unclosed_fence",
          message: "a code fence (```) is opened and never closed; close it or remove it"))
    } else if fences.wholeAnswerInside != nil, format?["unwrap_fence"]?.bool == false {
      violations.append(
        Violation(
          rule: "whole_fence",
          message:
            "the whole answer is wrapped in a code fence; write the Markdown itself, without ``` around it"
        ))
    }
    let (repaired, fixes) = MarkdownRepair.apply(content, format: format, title: title)
    warnings += fixes
    let text = repaired ?? content
    let outline = MarkdownShape(text)
    lengthRules(outline, format: format, violations: &violations, warnings: &warnings)
    violations += headingRules(outline, format: format, title: title)
    violations += phraseRules(outline, format: format)
    if let ratio = format?["max_duplicate_ratio"]?.double, let earlier {
      if let (overlap, with) = earlier.overlap(text, excluding: id), overlap > ratio {
        violations.append(
          Violation(
            rule: "duplicate",
            message:
              "\(Int((overlap * 100).rounded()))% of this answer repeats section '\(with)' (at most \(Int((ratio * 100).rounded()))% allowed); cover only this section's ground"
          ))
      }
    }
    return (violations, warnings, repaired)
  }

  /// `min_words` and `max_words`: a miss within `length_tolerance` is a warning.
  static func lengthRules(
    _ outline: MarkdownShape, format: JSON?, violations: inout [Violation],
    warnings: inout [Violation]
  ) {
    let low = format?["min_words"]?.int
    let high = format?["max_words"]?.int
    let tolerance = format?["length_tolerance"]?.double ?? defaultLengthTolerance
    let range = [low.map(String.init), high.map(String.init)].compactMap { $0 }.joined(
      separator: "–")
    // Outside the range by no more than the tolerance: a warning, not a failure.
    for (rule, limit, short, bound) in [
      ("min_words", low, true, low.map { Double($0) * (1 - tolerance) }),
      ("max_words", high, false, high.map { Double($0) * (1 + tolerance) }),
    ] {
      guard let limit, let bound, short ? outline.words < limit : outline.words > limit else {
        continue
      }
      let wanted = low == nil || high == nil ? "\(short ? "at least" : "at most") \(limit)" : range
      let message =
        "the answer has \(outline.words) word\(outline.words == 1 ? "" : "s"); write \(wanted)"
      if short ? Double(outline.words) >= bound : Double(outline.words) <= bound {
        warnings.append(Violation(rule: rule, message: message + " (within the length tolerance)"))
      } else {
        violations.append(Violation(rule: rule, message: message))
      }
    }
  }

  /// `required_headings` (with `headings_in_order`), `max_heading_level`, `forbid_leading_title`.
  static func headingRules(_ outline: MarkdownShape, format: JSON?, title: String?)
    -> [Violation]
  {
    var violations: [Violation] = []
    if let required = format?["required_headings"]?.array?.compactMap(\.string), !required.isEmpty {
      var position = 0
      let inOrder = format?["headings_in_order"]?.bool ?? false
      for wanted in required {
        let level = wanted.prefix(while: { $0 == "#" }).count
        let name = String(wanted.drop(while: { $0 == "#" })).trimmed
        let matches = outline.headings.indices.filter {
          outline.headings[$0].text.caseInsensitiveCompare(name) == .orderedSame
            && (level == 0 || outline.headings[$0].level == level)
        }
        if matches.isEmpty {
          violations.append(
            Violation(rule: "required_headings", message: "missing required heading '\(wanted)'"))
        } else if inOrder {
          if let next = matches.first(where: { $0 >= position }) {
            position = next
          } else {
            violations.append(
              Violation(
                rule: "heading_order",
                message:
                  "heading '\(wanted)' is out of order; the headings must come as \(required.map { "'\($0)'" }.joined(separator: ", "))"
              ))
          }
        }
      }
    }
    if let top = format?["max_heading_level"]?.int {
      for heading in outline.headings where heading.level < top {
        violations.append(
          Violation(
            rule: "max_heading_level",
            message:
              "line \(heading.line): '\(String(repeating: "#", count: heading.level)) \(heading.text)' is a level-\(heading.level) heading; use level \(top) (\(String(repeating: "#", count: top))) or deeper"
          ))
      }
    }
    if format?["forbid_leading_title"]?.bool == true, let title,
      let leading = outline.leadingHeading,
      leading.caseInsensitiveCompare(title) == .orderedSame
    {
      violations.append(
        Violation(
          rule: "forbid_leading_title",
          message:
            "do not start with a heading that repeats the section title '\(title)'; start with the first sentence"
        ))
    }
    return violations
  }

  /// `forbid_phrases` (a default list of preambles and sign-offs) and `placeholders`.
  static func phraseRules(_ outline: MarkdownShape, format: JSON?) -> [Violation] {
    var violations: [Violation] = []
    var phrases = defaultPhrases
    if let given = format?["forbid_phrases"] {
      if let list = given.array { phrases = list.compactMap(\.string).map { $0.lowercased() } }
      if given.bool == false { phrases = [] }
    }
    let lowered = Array(outline.prose.lowercased().utf8)
    for phrase in phrases where contains(lowered, phrase) {
      violations.append(
        Violation(
          rule: "forbid_phrases",
          message: "remove '\(phrase)': no preamble, sign-off or remarks about yourself"))
    }
    if format?["placeholders"]?.bool != false {
      var found = placeholders.filter { contains(lowered, $0) }
      let prose = Array(outline.prose.utf8)
      found += placeholderWords.filter { containsWord(prose, $0) }.sorted()
      if !found.isEmpty {
        violations.append(
          Violation(
            rule: "placeholders",
            message:
              "replace the placeholder text (\(found.map { "'\($0)'" }.joined(separator: ", "))) with real content"
          ))
      }
    }
    return violations
  }
}

/// Whether UTF-8 `haystack` holds `needle` (a byte search: Foundation's `contains` goes through
/// CFString and was most of validate-format's time).
func contains(_ haystack: [UInt8], _ needle: String) -> Bool {
  let pattern = Array(needle.utf8)
  guard let first = pattern.first, pattern.count <= haystack.count else { return pattern.isEmpty }
  let last = haystack.count - pattern.count
  var index = 0
  while index <= last {
    if haystack[index] == first && haystack[index..<(index + pattern.count)].elementsEqual(pattern)
    {
      return true
    }
    index += 1
  }
  return false
}

/// Whether UTF-8 `haystack` holds the ASCII word `word` with no letter on either side.
func containsWord(_ haystack: [UInt8], _ word: String) -> Bool {
  let pattern = Array(word.utf8)
  guard !pattern.isEmpty, pattern.count <= haystack.count else { return false }
  func isLetter(_ byte: UInt8) -> Bool {
    (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7A || byte >= 0x80
  }
  for index in 0...(haystack.count - pattern.count) where haystack[index] == pattern[0] {
    guard haystack[index..<(index + pattern.count)].elementsEqual(pattern) else { continue }
    let before = index == 0 ? nil : haystack[index - 1]
    let after = index + pattern.count < haystack.count ? haystack[index + pattern.count] : nil
    if !(before.map(isLetter) ?? false) && !(after.map(isLetter) ?? false) { return true }
  }
  return false
}

/// Five-word shingles of the earlier sections of a stream, to catch parallel sections that
/// repeat each other.
final class DuplicateIndex {
  private var sections: [(id: String, order: Int?, shingles: Set<UInt64>)] = []
  /// The place in the document of the answer being judged: a run's stored sections at or after
  /// it are not compared with it (`nil`: all are).
  var before: Int?

  /// Remembers a section's text (a later one with the same id replaces it); `order` is its place
  /// in the document when it comes from a run's folder, `nil` for an earlier record of the stream.
  func add(_ text: String, id: String, order: Int? = nil) {
    sections.removeAll { $0.id == id }
    sections.append((id, order, Self.shingles(text)))
    if sections.count > 2_000 { sections.removeFirst() }
  }

  /// The largest share of `text`'s shingles found in one earlier section, and which.
  func overlap(_ text: String, excluding id: String?) -> (Double, String)? {
    let mine = Self.shingles(text)
    guard !mine.isEmpty else { return nil }
    var best: (Double, String)?
    for section in sections where section.id != id {
      if let order = section.order, let before, order >= before { continue }
      let share = Double(mine.intersection(section.shingles).count) / Double(mine.count)
      if share > (best?.0 ?? -1) { best = (share, section.id) }
    }
    return best
  }

  static func shingles(_ text: String) -> Set<UInt64> {
    let words = text.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber })
    guard words.count >= 5 else { return [] }
    var set = Set<UInt64>()
    for start in 0...(words.count - 5) {
      var hash: UInt64 = 0xcbf2_9ce4_8422_2325
      for word in words[start..<(start + 5)] {
        for byte in word.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0x20) &* 0x100_0000_01b3
      }
      set.insert(hash)
    }
    return set
  }
}
