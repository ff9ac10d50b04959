import Foundation
import SheafCore
import SheafMarkdown

/// The slips in a Markdown answer that are fixed in place, because fixing them is safe and free:
/// a code fence around the whole answer, a leading heading that repeats the section title, and a
/// preamble or sign-off paragraph ("Sure, here is…", "I hope this helps").
///
/// Each fix is reported as a warning (its `rule` is the rule it would have broken), so the record
/// says what was changed; the text a person reads is the repaired one.
enum MarkdownRepair {
  /// How a preamble paragraph starts.
  static let preambleStarts = [
    "sure", "certainly", "of course", "absolutely", "here is", "here's", "here are", "below is",
    "okay", "ok,", "great", "alright",
  ]
  /// What a sign-off paragraph holds.
  static let signOffs = [
    "i hope this helps", "hope this helps", "let me know if", "feel free to", "happy to help",
    "i'd be happy to", "i would be happy to", "if you need any further", "if you'd like me to",
    "would you like me to",
  ]
  /// A paragraph longer than this is content, whatever it starts with (a preamble is one line of
  /// at most `maxPreambleWords`).
  static let maxAsideWords = 40
  static let maxPreambleWords = 25

  /// The repaired text (or `nil` when nothing was changed) and what was fixed.
  static func apply(_ content: String, format: JSON?, title: String?) -> (
    text: String?, fixes: [Violation]
  ) {
    var text = content
    var fixes: [Violation] = []
    let fences = FenceScan(text)
    if !fences.unclosed, let inside = fences.wholeAnswerInside,
      format?["unwrap_fence"]?.bool ?? isMarkdownFence(text)
    {
      text = inside
      fixes.append(
        Violation(rule: "whole_fence", message: "removed the code fence around the whole answer"))
    }
    var paragraphs = split(text)
    // A plan that allows the phrases (forbid_phrases: false) keeps them.
    let asides = format?["forbid_phrases"]?.bool != false
    if asides, let first = paragraphs.first, isPreamble(first), paragraphs.count > 1 {
      paragraphs.removeFirst()
      fixes.append(
        Violation(
          rule: "forbid_phrases", message: "removed the preamble '\(shortened(first))'"))
    }
    if asides, let last = paragraphs.last, isSignOff(last), paragraphs.count > 1 {
      paragraphs.removeLast()
      fixes.append(
        Violation(rule: "forbid_phrases", message: "removed the sign-off '\(shortened(last))'"))
    }
    if format?["forbid_leading_title"]?.bool == true, let title, let first = paragraphs.first,
      let rest = leadingTitleRemoved(first, title: title)
    {
      if rest.isEmpty { paragraphs.removeFirst() } else { paragraphs[0] = rest }
      fixes.append(
        Violation(
          rule: "forbid_leading_title",
          message: "removed the leading heading that repeated the section title '\(title)'"))
    }
    guard !fixes.isEmpty else { return (nil, []) }
    return (paragraphs.joined(separator: "\n\n"), fixes)
  }

  /// Blocks separated by blank lines (a fenced block is never split: its blank lines stay in it).
  static func split(_ text: String) -> [String] {
    // Byte ranges, not an array of lines: a block is the text from its first line to its last.
    let bytes = Array(text.utf8)
    var blocks: [String] = []
    var block: Range<Int>?
    var fence: UInt8?
    for line in ByteLines(bytes) {
      let first = ByteLines.firstNonSpace(bytes, in: line)
      let opener: UInt8? =
        first + 2 < line.upperBound && (bytes[first] == 0x60 || bytes[first] == 0x7E)
          && bytes[first + 1] == bytes[first] && bytes[first + 2] == bytes[first]
        ? bytes[first] : nil
      let blank = bytes[line].allSatisfy { $0 == 0x20 || $0 == 0x09 }
      if fence != nil {
        if opener == fence { fence = nil }
      } else if let opener {
        fence = opener
      } else if blank {
        if let current = block { blocks.append(String(decoding: bytes[current], as: UTF8.self)) }
        block = nil
        continue
      }
      block = (block?.lowerBound ?? line.lowerBound)..<line.upperBound
    }
    if let current = block { blocks.append(String(decoding: bytes[current], as: UTF8.self)) }
    return blocks
  }

  /// Whether the whole-answer fence is one around Markdown (no info string, or `markdown`, `md`,
  /// `text`): only that is unwrapped unless the format says `unwrap_fence`.
  static func isMarkdownFence(_ text: String) -> Bool {
    let first = text.trimmed.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
    let info = String(first.drop(while: { $0 == "`" || $0 == "~" })).trimmed.lowercased()
    return ["", "markdown", "md", "text", "txt"].contains(info)
  }

  /// Whether `text` starts with `phrase` as whole words.
  static func startsWithWords(_ text: String, _ phrase: String) -> Bool {
    guard text.hasPrefix(phrase) else { return false }
    let rest = text.dropFirst(phrase.count)
    guard let next = rest.first else { return true }
    return !(next.isLetter || next.isNumber)
  }

  /// A one-line opening that announces the answer: "Sure, here is the section." or "Here's the
  /// Goals section:" (an announcement that ends in a colon with nothing after it), never a
  /// sentence of content ("Here is the core problem: dispatchers lose…").
  static func isPreamble(_ paragraph: String) -> Bool {
    let lower = paragraph.lowercased().trimmed
    guard MarkdownShape.countWords(lower) <= maxPreambleWords, !lower.hasPrefix("#"),
      !lower.contains("\n")
    else { return false }
    guard preambleStarts.contains(where: { startsWithWords(lower, $0) }) else { return false }
    let courtesy = [
      "sure", "certainly", "of course", "absolutely", "okay", "ok,", "great", "alright",
    ]
    .contains { startsWithWords(lower, $0) }
    let announces = ["here is", "here's", "here are", "below is"].contains { lower.contains($0) }
    if lower.hasSuffix(":") { return true }
    return courtesy && (announces || lower.hasSuffix("!"))
  }

  /// A closing paragraph that talks to the reader about the answer ("I hope this helps! Let me
  /// know if…"): it must start so; lists, quotes, tables and headings are content.
  static func isSignOff(_ paragraph: String) -> Bool {
    let lower = paragraph.lowercased().trimmed
    guard MarkdownShape.countWords(lower) <= maxAsideWords, let first = lower.first,
      !"#-*+>|".contains(first), !first.isNumber
    else { return false }
    return signOffs.contains { startsWithWords(lower, $0) }
  }

  /// The paragraph without its first line when that line is a heading naming `title` (ATX, or a
  /// setext heading of one line); `nil` when it is not.
  static func leadingTitleRemoved(_ paragraph: String, title: String) -> String? {
    var lines = paragraph.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let first = lines.first else { return nil }
    var heading: String?
    var count = 1
    let stripped = first.drop(while: { $0 == " " })
    if stripped.hasPrefix("#") {
      var name = String(stripped.drop(while: { $0 == "#" })).trimmed
      while name.hasSuffix("#") { name = String(name.dropLast()).trimmed }
      heading = name
    } else if lines.count > 1, let underline = lines[1].trimmed.first,
      underline == "=" || underline == "-",
      lines[1].trimmed.allSatisfy({ $0 == underline })
    {
      heading = first.trimmed
      count = 2
    }
    guard var name = heading else { return nil }
    for mark in ["**", "__", "*", "_"] where name.hasPrefix(mark) && name.hasSuffix(mark) {
      name = String(name.dropFirst(mark.count).dropLast(mark.count))
    }
    if name.hasSuffix(":") { name.removeLast() }
    guard name.trimmed.caseInsensitiveCompare(title.trimmed) == .orderedSame else { return nil }
    lines.removeFirst(count)
    return lines.joined(separator: "\n").trimmed
  }

  private static func shortened(_ text: String) -> String {
    let line = text.split(separator: "\n").first.map(String.init) ?? text
    return line.count > 60 ? String(line.prefix(59)) + "…" : line
  }
}
