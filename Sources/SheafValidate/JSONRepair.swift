import SheafCore

/// Takes JSON out of a model's answer and repairs what models commonly get wrong: a code fence,
/// prose or a JSONP call around it, commas and colons, single, curly and missing quotes,
/// unquoted keys and values, strings joined with `+`, `...` for more items, comments, Unicode
/// spaces, Python's and JavaScript's constants (`NaN` and `Infinity` become `null`), MongoDB's
/// wrappers, regular expression literals, numbers that are not JSON (kept as strings), extra
/// brackets, an escaped document, and a truncated end (what is open is closed, a dangling key
/// is dropped).
///
/// What it would have to invent (a key without a value in the middle, no JSON at all) it
/// refuses, naming where.
public enum JSONRepair {
  /// Why the answer's JSON could not be taken.
  public struct Refusal: Error, Equatable {
    /// What is wrong, for a model to act on.
    public var message: String
  }

  /// The value and whether anything had to be repaired or extracted.
  public struct Result {
    /// The parsed value.
    public var value: JSON
    /// `true` when the answer was not already one valid JSON text.
    public var repaired: Bool
  }

  /// Parses an answer as JSON, repairing it where that is safe.
  /// - Throws: `Refusal` naming what is wrong.
  public static func parse(_ text: String) throws(Refusal) -> Result {
    if let value = try? JSON.parse(text.trimmed) {
      // A JSON document escaped inside a string: the document.
      if let inner = value.string, let first = inner.trimmed.first, first == "{" || first == "[",
        let parsed = try? JSON.parse(inner.trimmed)
      {
        return Result(value: parsed, repaired: true)
      }
      return Result(value: value, repaired: false)
    }
    let trimmed = text.trimmed
    // A Python or JavaScript constant alone.
    let constants = ["True": "true", "False": "false", "None": "null", "undefined": "null"]
    if let literal = constants[trimmed], let value = try? JSON.parse(literal) {
      return Result(value: value, repaired: true)
    }
    // A document whose quotes were all escaped (`{\"a\": 1}`).
    if trimmed.contains("\\\""), !trimmed.replacingOccurrences(of: "\\\"", with: "").contains("\"")
    {
      let unescaped = trimmed.replacingOccurrences(of: "\\\"", with: "\"")
        .replacingOccurrences(of: "\\\\", with: "\\")
      if let parsed = try? parse(unescaped) { return Result(value: parsed.value, repaired: true) }
    }
    // A document whose quotes were written as HTML entities (`{&quot;a&quot;: 1}`).
    if trimmed.contains("&quot;"), !trimmed.contains("\"") {
      let unescaped = trimmed.replacingOccurrences(of: "&quot;", with: "\"")
        .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
        .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
      if let parsed = try? parse(unescaped) { return Result(value: parsed.value, repaired: true) }
    }
    guard let candidate = extract(text) else {
      throw Refusal(message: "the answer holds no JSON object or array; answer with the JSON only")
    }
    // Usually the JSON in the fence is fine as it is: no repair pass then.
    if let value = try? JSON.parse(candidate) { return Result(value: value, repaired: true) }
    let fixed = try repair(candidate)
    do {
      return Result(value: try JSON.parse(fixed), repaired: true)
    } catch {
      throw Refusal(
        message: "the JSON could not be repaired (\(error.message)); answer with valid JSON only")
    }
  }

  /// The JSON part of an answer: the first fenced block that holds an object or array, else the
  /// text from the first `{` or `[` on.
  static func extract(_ text: String) -> String? {
    // Lines as byte ranges: an answer can be long, and only fence lines matter.
    let bytes = Array(text.utf8)
    var lines: [Range<Int>] = []
    var lineStart = 0
    for (index, byte) in bytes.enumerated() where byte == 0x0A {
      lines.append(lineStart..<index)
      lineStart = index + 1
    }
    lines.append(lineStart..<bytes.count)
    func fence(_ range: Range<Int>) -> UInt8? {
      var index = range.lowerBound
      while index < range.upperBound && (bytes[index] == 0x20 || bytes[index] == 0x09) {
        index += 1
      }
      guard index + 3 <= range.upperBound, let first = Optional(bytes[index]),
        first == 0x60 || first == 0x7E,
        bytes[index + 1] == first, bytes[index + 2] == first
      else { return nil }
      return first
    }
    var line = 0
    while line < lines.count {
      if let char = fence(lines[line]) {
        var end = line + 1
        while end < lines.count && fence(lines[end]) != char { end += 1 }
        if end > line + 1 {
          let inside = String(
            decoding: bytes[lines[line + 1].lowerBound..<lines[end - 1].upperBound], as: UTF8.self
          ).trimmed
          if inside.hasPrefix("{") || inside.hasPrefix("[") { return inside }
        }
        line = end
      }
      line += 1
    }
    guard let start = text.firstIndex(where: { $0 == "{" || $0 == "[" }) else { return nil }
    return String(text[start...])
  }

  /// Whitespace outside strings: ASCII, no-break and the other Unicode spaces, zero-width ones.
  static func isSpace(_ ch: Unicode.Scalar) -> Bool {
    switch ch.value {
    case 0x20, 0x0A, 0x0D, 0x09, 0x0B, 0x0C, 0xA0, 0x1680, 0x2000...0x200B, 0x2028, 0x2029,
      0x202F, 0x205F, 0x3000, 0xFEFF, 0x200C, 0x200D, 0x2060:
      return true
    default: return false
    }
  }

  /// Quotes models use: the ASCII ones, curly ones, and the backtick and acute accent.
  static func closingQuote(for open: Unicode.Scalar) -> [Unicode.Scalar]? {
    switch open {
    case "\"": return ["\""]
    case "'": return ["'"]
    case "\u{201C}", "\u{201D}", "\u{201E}", "\u{201F}": return ["\u{201D}", "\u{201C}"]
    case "\u{2018}", "\u{2019}", "\u{201A}", "\u{201B}": return ["\u{2019}", "\u{2018}"]
    case "`": return ["`"]
    case "\u{00B4}": return ["\u{00B4}"]
    default: return nil
    }
  }

  /// Rewrites `text` as valid JSON text.
  /// - Throws: `Refusal` for what it will not guess.
  static func repair(_ text: String) throws(Refusal) -> String {
    var repairer = Repairer(text)
    return try repairer.run()
  }
}
