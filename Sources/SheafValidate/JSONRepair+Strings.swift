extension JSONRepair {
  /// Reads a string opened at `start` and closed by one of `closers`; returns its JSON-escaped
  /// body, where reading stopped, and whether the string was closed.
  ///
  /// A closing quote that is not followed by `,` `:` `}` `]` (or a line break before the next
  /// key; after a key, the start of a value) is taken as part of the text. A string that lost
  /// its closing quote ends before a line break that starts the next member, or before the
  /// `, "key":` that follows it.
  static func readString(
    _ c: [Unicode.Scalar], from start: Int, closers: [Unicode.Scalar], isKey: Bool,
    inCall: Bool = false
  ) -> (String, Int, Bool) {
    var reader = StringReader(c: c, start: start, closers: closers, isKey: isKey, inCall: inCall)
    return reader.read()
  }

  /// One string being read by `readString`, from `i` on.
  struct StringReader {
    /// The text, as scalars.
    let c: [Unicode.Scalar]
    /// Where the opening quote is.
    let start: Int
    /// The quotes that can close the string.
    let closers: [Unicode.Scalar]
    /// Whether the string is a key.
    let isKey: Bool
    /// Whether the string is the argument of a call (`ObjectId("…")`), which `)` closes.
    let inCall: Bool
    /// The JSON-escaped body read so far.
    var body = ""
    /// Where reading is, in `c`.
    var i: Int

    /// A reader of the string whose opening quote is at `start`.
    init(c: [Unicode.Scalar], start: Int, closers: [Unicode.Scalar], isKey: Bool, inCall: Bool) {
      self.c = c
      self.start = start
      self.closers = closers
      self.isKey = isKey
      self.inCall = inCall
      i = start + 1
    }

    /// Reads to where the string ends: its body, where reading stopped, and whether it was
    /// closed.
    mutating func read() -> (String, Int, Bool) {
      while i < c.count {
        let ch = c[i]
        if ch == "\\" {
          if let cut = escape() { return cut }
          continue
        }
        // A quote that opens the next key or element: this string lost its closing quote at the
        // last comma (`"rise}, {"q": …` or `"draft, "review"`).
        if !isKey, closers.contains(ch), startsKey(i, quoted: true) || startsToken(i),
          let ended = endBeforeLastComma()
        {
          return ended
        }
        if closers.contains(ch) {
          if closes() { return (body, i + 1, true) }
          body.append("\\\"")
          i += 1
          continue
        }
        if ch == "\n" && !isKey, let ended = endAtLineBreak() { return ended }
        append(ch)
        i += 1
      }
      return (body, i, false)
    }

    /// Reads the backslash escape at `i`: kept where JSON has it, escaped where it does not.
    ///
    /// Returns the read string when the text ends inside the escape (which is dropped).
    mutating func escape() -> (String, Int, Bool)? {
      guard i + 1 < c.count else { return (body, c.count, false) }  // a cut escape: dropped
      let ch = c[i]
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
          return nil
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
      return nil
    }

    /// The read string when the quote at `i`, which opens the next key or element, follows a comma.
    ///
    /// What followed the comma, and a bracket before it, belong to the containers. `nil` when no
    /// comma is before it.
    func endBeforeLastComma() -> (String, Int, Bool)? {
      var k = i - 1
      while k > start, c[k] == " " || c[k] == "{" || c[k] == "[" { k -= 1 }
      guard k > start, c[k] == "," else { return nil }
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

    /// Whether the closing quote at `i` closes the string, judged by what follows it.
    func closes() -> Bool {
      var j = i + 1
      var sawNewline = false
      while j < c.count, isSpace(c[j]) {
        if c[j] == "\n" { sawNewline = true }
        j += 1
      }
      return j == c.count || ",:}]".unicodeScalars.contains(c[j])
        || (sawNewline && closingQuote(for: c[j]) != nil)
        || (isKey && "0123456789-{[\"'".unicodeScalars.contains(c[j]))
        || c[j] == "+" || (inCall && c[j] == ")")
        // A comment after the value: `//`, `/*`, or `#` after a space.
        || (c[j] == "/" && j + 1 < c.count && (c[j + 1] == "/" || c[j + 1] == "*"))
        || (c[j] == "#" && j > i + 1)
        // A missing comma: the next member or element follows.
        || (!isKey && startsToken(j))
    }

    /// The read string when the line break at `i` ends it, or `nil` when it is part of the text.
    ///
    /// The string ends there when the line break comes before the next member or the end of the
    /// container.
    func endAtLineBreak() -> (String, Int, Bool)? {
      var j = i + 1
      while j < c.count, isSpace(c[j]) { j += 1 }
      guard j == c.count || c[j] == "}" || c[j] == "]" || startsKey(j, quoted: true) else {
        return nil
      }
      var trimmed = body
      while let last = trimmed.unicodeScalars.last, last == " " || last == "," {
        trimmed.unicodeScalars.removeLast()
      }
      return (trimmed, i, true)
    }

    /// Appends `ch` to the body, escaped as JSON needs.
    mutating func append(_ ch: Unicode.Scalar) {
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
    }

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
  }
}
