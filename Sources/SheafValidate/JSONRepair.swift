import SheafCore

/// Takes JSON out of a model's answer and repairs what models commonly get wrong: a code fence
/// or prose around it, trailing commas, single quotes, unquoted keys, comments, Python's
/// `True`/`False`/`None`, raw newlines in strings, missing commas, and a truncated end (what is
/// open is closed, a dangling key is dropped).
///
/// What it would have to guess (NaN, mismatched
/// brackets, a key with no value in the middle, stray words) it refuses.
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
    if let value = try? JSON.parse(text.trimmed) { return Result(value: value, repaired: false) }
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

  private enum Kind { case object, array }
  private enum State { case keyOrEnd, colon, value, commaOrEnd, elementOrEnd }
  private struct Frame {
    var kind: Kind
    var state: State
    /// The output length at the last complete member, to cut back to on truncation.
    var commit: Int
  }

  /// Rewrites `text` as valid JSON text.
  /// - Throws: `Refusal` for what it will not guess.
  static func repair(_ text: String) throws(Refusal) -> String {
    let c = Array(text.unicodeScalars)
    var out: [Unicode.Scalar] = []
    var stack: [Frame] = []
    var started = false
    var done = false
    var i = 0

    func emit(_ s: String) { out.append(contentsOf: s.unicodeScalars) }
    func near(_ at: Int) -> String {
      let end = min(c.count, at + 12)
      return String(String.UnicodeScalarView(c[at..<end]))
    }
    func valueFinished() {
      if stack.isEmpty {
        done = true
      } else {
        stack[stack.count - 1].state = .commaOrEnd
        stack[stack.count - 1].commit = out.count
      }
    }
    /// Gets ready to write a value, adding a missing comma or colon; `false` where a value cannot go.
    func valuePosition() -> Bool {
      guard let top = stack.last else { return !started }
      switch (top.kind, top.state) {
      case (.object, .value), (.array, .elementOrEnd): return true
      case (.object, .colon):
        emit(":")
        stack[stack.count - 1].state = .value
        return true
      case (.array, .commaOrEnd):
        emit(",")
        stack[stack.count - 1].state = .elementOrEnd
        return true
      default: return false
      }
    }
    /// Gets ready to write a key, adding a missing comma; `false` where a key cannot go.
    func keyPosition() -> Bool {
      guard let top = stack.last, top.kind == .object else { return false }
      switch top.state {
      case .keyOrEnd: return true
      case .commaOrEnd:
        emit(",")
        stack[stack.count - 1].state = .keyOrEnd
        return true
      default: return false
      }
    }

    while i < c.count && !done {
      let ch = c[i]
      if ch == " " || ch == "\n" || ch == "\r" || ch == "\t" {
        i += 1
        continue
      }
      if ch == "/" && i + 1 < c.count && c[i + 1] == "/" || ch == "#" {
        while i < c.count && c[i] != "\n" { i += 1 }
        continue
      }
      if ch == "/" && i + 1 < c.count && c[i + 1] == "*" {
        i += 2
        while i + 1 < c.count && !(c[i] == "*" && c[i + 1] == "/") { i += 1 }
        i += 2
        continue
      }
      switch ch {
      case "{", "[":
        guard valuePosition() else {
          throw Refusal(
            message: "unexpected '\(ch)' near '\(near(i))'; answer with valid JSON only")
        }
        started = true
        emit(String(ch))
        stack.append(
          Frame(
            kind: ch == "{" ? .object : .array, state: ch == "{" ? .keyOrEnd : .elementOrEnd,
            commit: out.count))
        i += 1
      case "}", "]":
        guard let top = stack.last else {
          throw Refusal(message: "a stray '\(ch)' near '\(near(i))'")
        }
        guard (top.kind == .object) == (ch == "}") else {
          throw Refusal(
            message:
              "'\(ch)' closes a\(top.kind == .object ? "n object" : "n array") near '\(near(i))'; the brackets do not match"
          )
        }
        if top.state == .colon || top.state == .value {
          throw Refusal(message: "a key has no value before '\(ch)' near '\(near(i))'")
        }
        if out.last == "," { out.removeLast() }
        emit(String(ch))
        stack.removeLast()
        valueFinished()
        i += 1
      case ",":
        guard let top = stack.last else {
          done = true
          break
        }
        switch top.state {
        case .commaOrEnd:
          emit(",")
          stack[stack.count - 1].state = top.kind == .object ? .keyOrEnd : .elementOrEnd
        case .keyOrEnd, .elementOrEnd:
          break  // a doubled or leading comma: dropped
        default:
          throw Refusal(message: "a key has no value before ',' near '\(near(i))'")
        }
        i += 1
      case ":":
        guard stack.last?.state == .colon else {
          throw Refusal(message: "an unexpected ':' near '\(near(i))'")
        }
        emit(":")
        stack[stack.count - 1].state = .value
        i += 1
      case "\"", "'":
        let isKey =
          stack.last?.kind == .object
          && (stack.last?.state == .keyOrEnd || stack.last?.state == .commaOrEnd)
        if isKey {
          _ = keyPosition()
        } else {
          guard valuePosition() else {
            throw Refusal(message: "an unexpected string near '\(near(i))'")
          }
          started = true
        }
        let (escaped, next, closed) = readString(c, from: i, quote: ch, isKey: isKey)
        i = next
        if isKey {
          if !closed { break }  // a key cut off by the end of the text: dropped below
          emit("\"" + escaped + "\"")
          stack[stack.count - 1].state = .colon
        } else {
          emit("\"" + escaped + "\"")
          valueFinished()
        }
      case "-", "+", ".", "0"..."9":
        guard valuePosition() else {
          throw Refusal(message: "an unexpected number near '\(near(i))'")
        }
        started = true
        var end = i
        while end < c.count, "0123456789+-.eE".unicodeScalars.contains(c[end]) { end += 1 }
        var number = String(String.UnicodeScalarView(c[i..<end]))
        if number.hasPrefix("+") { number.removeFirst() }
        if end == c.count {
          // Cut off at the end of the text: keep what is a number.
          while let last = number.last, !last.isNumber { number.removeLast() }
        }
        guard NumberLiteral.isLiteral(number) else {
          throw Refusal(message: "'\(number)' is not a JSON number")
        }
        emit(number)
        valueFinished()
        i = end
      default:
        guard ch.properties.isAlphabetic || ch == "_" || ch == "$" else {
          if stack.isEmpty && started {
            done = true
            break
          }
          throw Refusal(message: "an unexpected character '\(ch)' near '\(near(i))'")
        }
        var end = i
        while end < c.count,
          c[end].properties.isAlphabetic || ("0"..."9").contains(c[end]) || c[end] == "_"
            || c[end] == "$" || c[end] == "-"
        {
          end += 1
        }
        let word = String(String.UnicodeScalarView(c[i..<end]))
        if stack.last?.kind == .object
          && (stack.last?.state == .keyOrEnd || stack.last?.state == .commaOrEnd)
        {
          _ = keyPosition()
          emit("\"" + word + "\"")
          stack[stack.count - 1].state = .colon
          i = end
          break
        }
        let literals = [
          "true": "true", "false": "false", "null": "null", "True": "true", "False": "false",
          "None": "null", "undefined": "null",
        ]
        var literal = literals[word]
        if literal == nil && end == c.count {
          literal = literals.first { $0.key.hasPrefix(word) && word.count >= 2 }?.value
        }
        if ["NaN", "Infinity", "inf", "nan"].contains(word) {
          throw Refusal(message: "\(word) is not a JSON value; write a number or null")
        }
        guard let literal, valuePosition() else {
          throw Refusal(
            message:
              "an unexpected word '\(word)' near '\(near(i))'; quote strings and use true, false or null"
          )
        }
        started = true
        emit(literal)
        valueFinished()
        i = end
      }
    }
    guard started else { throw Refusal(message: "the answer holds no JSON value") }
    // Truncated: drop a dangling key or comma, then close what is open.
    while let top = stack.last {
      if top.state == .colon || top.state == .value {
        out.removeSubrange(top.commit...)
      }
      if out.last == "," { out.removeLast() }
      emit(top.kind == .object ? "}" : "]")
      stack.removeLast()
      if !stack.isEmpty { stack[stack.count - 1].commit = out.count }
    }
    return String(String.UnicodeScalarView(out))
  }

  /// Reads a string opened by `quote` at `start`; returns its JSON-escaped body, where reading
  /// stopped, and whether the string was closed.
  ///
  /// A quote that is not followed by `,` `:` `}` `]`
  /// (or a line break before the next key; after a key, the start of a value) is taken as part
  /// of the text.
  private static func readString(
    _ c: [Unicode.Scalar], from start: Int, quote: Unicode.Scalar, isKey: Bool
  ) -> (String, Int, Bool) {
    var body = ""
    var i = start + 1
    while i < c.count {
      let ch = c[i]
      if ch == "\\" && i + 1 < c.count {
        let next = c[i + 1]
        if next == "'" {
          body.append("'")
        } else if "\"\\/bfnrtu".unicodeScalars.contains(next) {
          body.unicodeScalars.append(ch)
          body.unicodeScalars.append(next)
        } else {
          body.append("\\\\")
          body.unicodeScalars.append(next)
        }
        i += 2
        continue
      }
      if ch == quote {
        var j = i + 1
        var sawNewline = false
        while j < c.count, c[j] == " " || c[j] == "\t" || c[j] == "\n" || c[j] == "\r" {
          if c[j] == "\n" { sawNewline = true }
          j += 1
        }
        let closes =
          j == c.count || ",:}]".unicodeScalars.contains(c[j])
          || (sawNewline && (c[j] == "\"" || c[j] == "'"))
          || (isKey && "0123456789-{[\"'".unicodeScalars.contains(c[j]))
        if closes {
          return (body, i + 1, true)
        }
        body.append("\\\"")
        i += 1
        continue
      }
      switch ch {
      case "\"": body.append("\\\"")
      case "\n": body.append("\\n")
      case "\r": body.append("\\r")
      case "\t": body.append("\\t")
      default:
        if ch.value < 0x20 {
          body.append("\\u00" + (ch.value < 0x10 ? "0" : "") + String(ch.value, radix: 16))
        } else {
          body.unicodeScalars.append(ch)
        }
      }
      i += 1
    }
    return (body, i, false)
  }
}
