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
    let c = Array(text.unicodeScalars)
    var out: [Unicode.Scalar] = []
    var stack: [Frame] = []
    var started = false
    var done = false
    var i = 0

    func emit(_ s: String) { out.append(contentsOf: s.unicodeScalars) }
    func near(_ at: Int) -> String {
      let end = min(c.count, at + 12)
      return String(String.UnicodeScalarView(c[min(at, c.count)..<end]))
    }
    func skipSpace(_ from: Int) -> Int {
      var j = from
      while j < c.count && isSpace(c[j]) { j += 1 }
      return j
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
    var atKey: Bool {
      stack.last?.kind == .object
        && (stack.last?.state == .keyOrEnd || stack.last?.state == .commaOrEnd)
    }
    /// A string value, and the strings joined to it with `+`.
    func stringValue(_ first: String) -> String {
      var body = first
      while true {
        let plus = skipSpace(i)
        guard plus < c.count, c[plus] == "+" else { break }
        let next = skipSpace(plus + 1)
        guard next < c.count, let closers = closingQuote(for: c[next]) else { break }
        let (more, after, _) = readString(c, from: next, closers: closers, isKey: false)
        body += more
        i = after
      }
      return body
    }
    /// Raw text up to the next delimiter: `,` `}` `]` or a line break (`:` too, for a key).
    func rawToken(_ from: Int, key: Bool) -> (String, Int) {
      var end = from
      while end < c.count {
        let ch = c[end]
        if ch == "," || ch == "}" || ch == "]" || ch == "\n" || ch == "\r" { break }
        if key && (ch == ":" || isSpace(ch)) { break }
        end += 1
      }
      var token = String(String.UnicodeScalarView(c[from..<end])).trimmed
      // A value that lost its opening quote keeps its closing one: not part of the text.
      while let last = token.unicodeScalars.last, closingQuote(for: last) != nil {
        token.unicodeScalars.removeLast()
      }
      return (token, end)
    }

    while i < c.count && !done {
      let ch = c[i]
      if isSpace(ch) {
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
      // `...` or `…` standing for more items: left out.
      if ch == "." && i + 2 < c.count && c[i + 1] == "." && c[i + 2] == "." || ch == "\u{2026}" {
        i += ch == "." ? 3 : 1
        while i < c.count && c[i] == "." { i += 1 }
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
        let wanted: Kind = ch == "}" ? .object : .array
        guard let top = stack.last else {
          i += 1  // a redundant closing bracket: dropped
          continue
        }
        if top.kind != wanted {
          // Closes something further out (what is between was left open), or nothing at all.
          if stack.contains(where: { $0.kind == wanted }) {
            if top.state == .colon || top.state == .value { out.removeSubrange(top.commit...) }
            if out.last == "," { out.removeLast() }
            emit(top.kind == .object ? "}" : "]")
            stack.removeLast()
            valueFinished()
          } else {
            i += 1
          }
          continue
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
      case _ where closingQuote(for: ch) != nil:
        let isKey = atKey
        if isKey {
          _ = keyPosition()
        } else {
          guard valuePosition() else {
            throw Refusal(message: "an unexpected string near '\(near(i))'")
          }
          started = true
        }
        let (escaped, next, closed) = readString(
          c, from: i, closers: closingQuote(for: ch) ?? [ch], isKey: isKey)
        i = next
        if isKey {
          if !closed { break }  // a key cut off by the end of the text: dropped below
          emit("\"" + escaped + "\"")
          stack[stack.count - 1].state = .colon
        } else {
          var body = stringValue(escaped)
          if !closed {
            // Cut off at the end: what would close the containers is not part of the text.
            while let last = body.unicodeScalars.last,
              last == "}" || last == "]" || last == " " || last == "\"" || last == "\\"
            {
              body.unicodeScalars.removeLast()
            }
          }
          emit("\"" + body + "\"")
          valueFinished()
        }
      case "-"
      where i + 8 < c.count
        && String(String.UnicodeScalarView(c[(i + 1)...(i + 8)]))
          == "Infinity":
        guard valuePosition() else {
          throw Refusal(message: "an unexpected number near '\(near(i))'")
        }
        started = true
        emit("null")
        valueFinished()
        i += 9
      case "-", "+", ".", "0"..."9":
        guard valuePosition() else {
          throw Refusal(message: "an unexpected number near '\(near(i))'")
        }
        started = true
        var end = i
        while end < c.count, "0123456789+-.eE".unicodeScalars.contains(c[end]) { end += 1 }
        var number = String(String.UnicodeScalarView(c[i..<end]))
        let truncated = end == c.count
        // Something more than a number (a date, a version, a time): a string.
        if end < c.count, !isSpace(c[end]), !",}]/#".unicodeScalars.contains(c[end]) {
          let (token, after) = rawToken(i, key: false)
          emit(JSON(token).compactText)
          valueFinished()
          i = after
          break
        }
        if number.hasPrefix("+") { number.removeFirst() }
        if truncated {
          // Cut off at the end of the text: keep what is a number (nothing: no value).
          while let last = number.last, !last.isNumber { number.removeLast() }
          if number.isEmpty || number == "-" {
            i = end
            break
          }
        }
        if !NumberLiteral.isLiteral(number) {
          var fixed = number
          if fixed.hasPrefix(".") { fixed = "0" + fixed }
          if fixed.hasPrefix("-.") { fixed = "-0" + fixed.dropFirst() }
          if fixed.hasSuffix(".") || fixed.lowercased().hasSuffix("e")
            || fixed.hasSuffix("+") || fixed.hasSuffix("-")
          {
            fixed += "0"
          }
          if NumberLiteral.isLiteral(fixed) && fixed != "-0" || fixed == "-0" && number != "-" {
            number = fixed
          } else if number == "-" {
            throw Refusal(message: "'\(number)' is not a JSON number")
          } else {
            // Leading zeros, two dots: kept as the text it is.
            emit(JSON(number).compactText)
            valueFinished()
            i = end
            break
          }
        }
        // Leading zeros are not a JSON number: kept as text.
        let digits = number.hasPrefix("-") ? number.dropFirst() : Substring(number)
        if digits.count > 1, digits.hasPrefix("0"), digits.dropFirst().first?.isNumber == true {
          emit(JSON(number).compactText)
        } else {
          emit(number)
        }
        valueFinished()
        i = end
      case "/" where !atKey:
        // A regular expression literal: its text.
        guard valuePosition() else {
          throw Refusal(message: "an unexpected '/' near '\(near(i))'")
        }
        started = true
        var end = i + 1
        while end < c.count, c[end] != "/", c[end] != "\n" {
          end += c[end] == "\\" ? 2 : 1
        }
        end = min(end + 1, c.count)
        while end < c.count, c[end].properties.isAlphabetic { end += 1 }
        emit(JSON(String(String.UnicodeScalarView(c[i..<end]))).compactText)
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
            || c[end] == "$" || c[end] == "-" || c[end] == "."
        {
          end += 1
        }
        let word = String(String.UnicodeScalarView(c[i..<end]))
        if atKey {
          _ = keyPosition()
          emit(JSON(word).compactText)
          stack[stack.count - 1].state = .colon
          i = end
          break
        }
        // A call around a value (MongoDB's ObjectId("…"), NumberLong(2), ISODate("…"), new
        // Date(…), JSONP's callback(…)): the value inside.
        var open = skipSpace(end)
        let calls: Set<String> = [
          "ObjectId", "NumberLong", "NumberInt", "NumberDecimal", "ISODate", "Date", "new",
          "BinData", "Timestamp", "UUID",
        ]
        // Only the wrappers models copy from MongoDB and JavaScript, or a JSONP callback at the
        // top: `Paris (France)` stays text.
        let isCall = calls.contains(word) || (stack.isEmpty && !started)
        if word == "new" {
          var name = open
          while name < c.count, c[name].properties.isAlphabetic { name += 1 }
          open = skipSpace(name)
        }
        if isCall, open < c.count, c[open] == "(" {
          guard valuePosition() else {
            throw Refusal(message: "an unexpected '\(word)(' near '\(near(i))'")
          }
          started = true
          let inner = skipSpace(open + 1)
          if inner < c.count, let closers = closingQuote(for: c[inner]) {
            let (body, after, _) = readString(
              c, from: inner, closers: closers, isKey: false, inCall: true)
            emit("\"" + body + "\"")
            i = after
          } else {
            var close = inner
            while close < c.count, c[close] != ")" { close += 1 }
            let raw = String(String.UnicodeScalarView(c[inner..<close])).trimmed
            emit(NumberLiteral.isLiteral(raw) ? raw : JSON(raw).compactText)
            i = close
          }
          let close = skipSpace(i)
          i = close < c.count && c[close] == ")" ? close + 1 : close
          valueFinished()
          break
        }
        let literals = [
          "true": "true", "false": "false", "null": "null", "True": "true", "False": "false",
          "None": "null", "undefined": "null", "NaN": "null", "Infinity": "null",
          "nan": "null", "inf": "null",
        ]
        var literal = literals[word]
        if literal == nil && end == c.count {
          literal = literals.first { $0.key.hasPrefix(word) && word.count >= 2 }?.value
        }
        guard valuePosition() else {
          throw Refusal(
            message:
              "an unexpected word '\(word)' near '\(near(i))'; quote strings and use true, false or null"
          )
        }
        started = true
        if let literal {
          emit(literal)
          i = end
        } else {
          // An unquoted value (a word, a URL, a sentence): its text, up to the next delimiter.
          let (token, after) = rawToken(i, key: false)
          emit(JSON(token).compactText)
          i = after
        }
        valueFinished()
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

  /// Reads a string opened at `start` and closed by one of `closers`; returns its JSON-escaped
  /// body, where reading stopped, and whether the string was closed.
  ///
  /// A closing quote that is not followed by `,` `:` `}` `]` (or a line break before the next
  /// key; after a key, the start of a value) is taken as part of the text. A string that lost
  /// its closing quote ends before a line break that starts the next member, or before the
  /// `, "key":` that follows it.
  private static func readString(
    _ c: [Unicode.Scalar], from start: Int, closers: [Unicode.Scalar], isKey: Bool,
    inCall: Bool = false
  ) -> (String, Int, Bool) {
    var body = ""
    var i = start + 1
    /// Whether `at` starts a whole quoted string on its line followed by `,` `:` `}` `]`: the
    /// next token, not text.
    func startsToken(_ at: Int) -> Bool {
      guard at < c.count, let quotes = closingQuote(for: c[at]) else { return false }
      var j = at + 1
      while j < c.count, !quotes.contains(c[j]), c[j] != "\n" { j += c[j] == "\\" ? 2 : 1 }
      guard j < c.count, quotes.contains(c[j]) else { return false }
      j += 1
      while j < c.count, c[j] == " " || c[j] == "\t" { j += 1 }
      return j == c.count || ",:}]".unicodeScalars.contains(c[j])
    }
    /// Whether `at` starts `"key":` (any quote kind), or (unless `quoted`) an unquoted `key:`.
    func startsKey(_ at: Int, quoted: Bool = false) -> Bool {
      guard at < c.count else { return false }
      var j = at
      if quoted && closingQuote(for: c[j]) == nil { return false }
      if let quotes = closingQuote(for: c[j]) {
        j += 1
        while j < c.count, !quotes.contains(c[j]), c[j] != "\n" { j += 1 }
        guard j < c.count, c[j] != "\n" else { return false }
        j += 1
      } else {
        guard c[j].properties.isAlphabetic || c[j] == "_" else { return false }
        while j < c.count, c[j].properties.isAlphabetic || c[j] == "_" || ("0"..."9").contains(c[j])
        {
          j += 1
        }
      }
      while j < c.count, c[j] == " " || c[j] == "\t" { j += 1 }
      return j < c.count && c[j] == ":"
    }
    while i < c.count {
      let ch = c[i]
      if ch == "\\" {
        guard i + 1 < c.count else { return (body, c.count, false) }  // a cut escape: dropped
        let next = c[i + 1]
        if next == "'" {
          body.append("'")
        } else if next == "u" {
          let hex = c[(i + 2)..<min(c.count, i + 6)]
          guard hex.count == 4, hex.allSatisfy({ $0.properties.isASCIIHexDigit }) else {
            if hex.count < 4 && i + 2 + hex.count >= c.count {
              return (body, c.count, false)  // an escape cut at the end: dropped
            }
            body.append("\\\\u")
            i += 2
            continue
          }
          body.unicodeScalars.append(ch)
          body.unicodeScalars.append(next)
        } else if "\"\\/bfnrt".unicodeScalars.contains(next) {
          body.unicodeScalars.append(ch)
          body.unicodeScalars.append(next)
        } else {
          body.append("\\\\")
          body.unicodeScalars.append(next)
        }
        i += 2
        continue
      }
      // A quote that opens the next key or element: this string lost its closing quote at the
      // last comma (`"rise}, {"q": …` or `"draft, "review"`); what followed the comma, and a
      // bracket before it, belong to the containers.
      if !isKey, closers.contains(ch), startsKey(i, quoted: true) || startsToken(i) {
        var k = i - 1
        while k > start, c[k] == " " || c[k] == "{" || c[k] == "[" { k -= 1 }
        if k > start, c[k] == "," {
          var resume = k
          k -= 1
          while k > start, c[k] == " " { k -= 1 }
          while k > start, c[k] == "}" || c[k] == "]" {
            resume = k
            k -= 1
            while k > start, c[k] == " " { k -= 1 }
          }
          // The raw scalars dropped are spaces, brackets and a comma: escaped as themselves.
          let dropped = i - (k + 1)
          var text = body
          text.unicodeScalars.removeLast(min(dropped, text.unicodeScalars.count))
          return (text, resume, true)
        }
      }
      if closers.contains(ch) {
        var j = i + 1
        var sawNewline = false
        while j < c.count, isSpace(c[j]) {
          if c[j] == "\n" { sawNewline = true }
          j += 1
        }
        let closes =
          j == c.count || ",:}]".unicodeScalars.contains(c[j])
          || (sawNewline && closingQuote(for: c[j]) != nil)
          || (isKey && "0123456789-{[\"'".unicodeScalars.contains(c[j]))
          || c[j] == "+" || (inCall && c[j] == ")")
          // A comment after the value: `//`, `/*`, or `#` after a space.
          || (c[j] == "/" && j + 1 < c.count && (c[j + 1] == "/" || c[j + 1] == "*"))
          || (c[j] == "#" && j > i + 1)
          // A missing comma: the next member or element follows.
          || (!isKey && startsToken(j))
        if closes {
          return (body, i + 1, true)
        }
        body.append("\\\"")
        i += 1
        continue
      }
      if ch == "\n" && !isKey {
        // A line break before the next member or the end of the container: the string ended.
        var j = i + 1
        while j < c.count, isSpace(c[j]) { j += 1 }
        if j == c.count || c[j] == "}" || c[j] == "]" || startsKey(j, quoted: true) {
          var trimmed = body
          while let last = trimmed.unicodeScalars.last, last == " " || last == "," {
            trimmed.unicodeScalars.removeLast()
          }
          return (trimmed, i, true)
        }
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
