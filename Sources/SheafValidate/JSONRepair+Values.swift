import SheafCore

extension JSONRepair.Repairer {
  /// The wrappers models copy from MongoDB and JavaScript, whose argument is the value.
  static let calls: Set<String> = [
    "ObjectId", "NumberLong", "NumberInt", "NumberDecimal", "ISODate", "Date", "new",
    "BinData", "Timestamp", "UUID",
  ]

  /// JSON's constants, Python's and JavaScript's, as JSON writes them.
  static let literals = [
    "true": "true", "false": "false", "null": "null", "True": "true", "False": "false",
    "None": "null", "undefined": "null", "NaN": "null", "Infinity": "null",
    "nan": "null", "inf": "null",
  ]

  // MARK: Strings

  /// A string opened by `ch`, a key or a value (with the strings joined to it with `+`).
  /// - Throws: `Refusal` where no value can go.
  mutating func quotedString(_ ch: Unicode.Scalar) throws(JSONRepair.Refusal) {
    let isKey = atKey
    if isKey {
      _ = keyPosition()
    } else {
      guard valuePosition() else {
        throw JSONRepair.Refusal(message: "an unexpected string near '\(near(i))'")
      }
      started = true
    }
    let (escaped, next, closed) = JSONRepair.readString(
      c, from: i, closers: JSONRepair.closingQuote(for: ch) ?? [ch], isKey: isKey)
    i = next
    if isKey {
      if !closed { return }  // a key cut off by the end of the text: dropped below
      emit("\"" + escaped + "\"")
      stack[stack.count - 1].state = .colon
      return
    }
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

  /// A string value, and the strings joined to it with `+`.
  mutating func stringValue(_ first: String) -> String {
    var body = first
    while true {
      let plus = skipSpace(i)
      guard plus < c.count, c[plus] == "+" else { break }
      let next = skipSpace(plus + 1)
      guard next < c.count, let closers = JSONRepair.closingQuote(for: c[next]) else { break }
      let (more, after, _) = JSONRepair.readString(c, from: next, closers: closers, isKey: false)
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
      if key && (ch == ":" || JSONRepair.isSpace(ch)) { break }
      end += 1
    }
    var token = String(String.UnicodeScalarView(c[from..<end])).trimmed
    // A value that lost its opening quote keeps its closing one: not part of the text.
    while let last = token.unicodeScalars.last, JSONRepair.closingQuote(for: last) != nil {
      token.unicodeScalars.removeLast()
    }
    return (token, end)
  }

  // MARK: Numbers

  /// `-Infinity`: `null`.
  /// - Throws: `Refusal` where no value can go.
  mutating func negativeInfinity() throws(JSONRepair.Refusal) {
    guard valuePosition() else {
      throw JSONRepair.Refusal(message: "an unexpected number near '\(near(i))'")
    }
    started = true
    emit("null")
    valueFinished()
    i += 9
  }

  /// A number; what is more than a number (a date, a version, a time) or not a JSON number
  /// (leading zeros, two dots) is kept as a string, and of a number cut off by the end of the
  /// text what is a number is kept.
  /// - Throws: `Refusal` where no value can go, and for a lone `-`.
  mutating func numberToken() throws(JSONRepair.Refusal) {
    guard valuePosition() else {
      throw JSONRepair.Refusal(message: "an unexpected number near '\(near(i))'")
    }
    started = true
    var end = i
    while end < c.count, "0123456789+-.eE".unicodeScalars.contains(c[end]) { end += 1 }
    var number = String(String.UnicodeScalarView(c[i..<end]))
    let truncated = end == c.count
    // Something more than a number (a date, a version, a time): a string.
    if end < c.count, !JSONRepair.isSpace(c[end]), !",}]/#".unicodeScalars.contains(c[end]) {
      let (token, after) = rawToken(i, key: false)
      emit(JSON(token).compactText)
      valueFinished()
      i = after
      return
    }
    if number.hasPrefix("+") { number.removeFirst() }
    if truncated {
      // Cut off at the end of the text: keep what is a number (nothing: no value).
      while let last = number.last, !last.isNumber { number.removeLast() }
      if number.isEmpty || number == "-" {
        i = end
        return
      }
    }
    i = end
    guard let literal = try Self.completed(number) else {
      // Leading zeros, two dots: kept as the text it is.
      emit(JSON(number).compactText)
      valueFinished()
      return
    }
    // Leading zeros are not a JSON number: kept as text.
    let digits = literal.hasPrefix("-") ? literal.dropFirst() : Substring(literal)
    if digits.count > 1, digits.hasPrefix("0"), digits.dropFirst().first?.isNumber == true {
      emit(JSON(literal).compactText)
    } else {
      emit(literal)
    }
    valueFinished()
  }

  /// `number` as a JSON number, with the digit it lacks added (`.5`, `-.5`, `1.`, `2e`); `nil`
  /// for what is kept as text (leading zeros, two dots).
  /// - Throws: `Refusal` for a lone `-`.
  static func completed(_ number: String) throws(JSONRepair.Refusal) -> String? {
    if NumberLiteral.isLiteral(number) { return number }
    var fixed = number
    if fixed.hasPrefix(".") { fixed = "0" + fixed }
    if fixed.hasPrefix("-.") { fixed = "-0" + fixed.dropFirst() }
    if fixed.hasSuffix(".") || fixed.lowercased().hasSuffix("e")
      || fixed.hasSuffix("+") || fixed.hasSuffix("-")
    {
      fixed += "0"
    }
    if NumberLiteral.isLiteral(fixed) && fixed != "-0" || fixed == "-0" && number != "-" {
      return fixed
    }
    if number == "-" {
      throw JSONRepair.Refusal(message: "'\(number)' is not a JSON number")
    }
    return nil
  }

  // MARK: Other values

  /// A regular expression literal: its text.
  /// - Throws: `Refusal` where no value can go.
  mutating func regularExpression() throws(JSONRepair.Refusal) {
    guard valuePosition() else {
      throw JSONRepair.Refusal(message: "an unexpected '/' near '\(near(i))'")
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
  }

  /// A word without quotes starting with `ch`: a key, a call around a value, a constant or text.
  ///
  /// Any other character ends the text after the top-level value.
  /// - Throws: `Refusal` for an unexpected character, and where the value cannot go.
  mutating func bareWord(_ ch: Unicode.Scalar) throws(JSONRepair.Refusal) {
    guard ch.properties.isAlphabetic || ch == "_" || ch == "$" else {
      if stack.isEmpty && started {
        done = true
        return
      }
      throw JSONRepair.Refusal(message: "an unexpected character '\(ch)' near '\(near(i))'")
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
      return
    }
    if try call(word, end: end) { return }
    try constantOrText(word, end: end)
  }

  /// A call around a value: the value inside; `false` when `word` (at `i`, to `end`) is not one.
  ///
  /// The calls are MongoDB's `ObjectId("…")`, `NumberLong(2)`, `ISODate("…")`, `new Date(…)`,
  /// and JSONP's `callback(…)`.
  /// - Throws: `Refusal` where no value can go.
  mutating func call(_ word: String, end: Int) throws(JSONRepair.Refusal) -> Bool {
    var open = skipSpace(end)
    // Only the wrappers models copy from MongoDB and JavaScript, or a JSONP callback at the
    // top: `Paris (France)` stays text.
    let isCall = Self.calls.contains(word) || (stack.isEmpty && !started)
    if word == "new" {
      var name = open
      while name < c.count, c[name].properties.isAlphabetic { name += 1 }
      open = skipSpace(name)
    }
    guard isCall, open < c.count, c[open] == "(" else { return false }
    guard valuePosition() else {
      throw JSONRepair.Refusal(message: "an unexpected '\(word)(' near '\(near(i))'")
    }
    started = true
    let inner = skipSpace(open + 1)
    if inner < c.count, let closers = JSONRepair.closingQuote(for: c[inner]) {
      let (body, after, _) = JSONRepair.readString(
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
    return true
  }

  /// A constant (JSON's, Python's, JavaScript's, or one cut off by the end of the text) as JSON
  /// writes it; else an unquoted value (a word, a URL, a sentence): its text, up to the next
  /// delimiter.
  /// - Throws: `Refusal` where no value can go.
  mutating func constantOrText(_ word: String, end: Int) throws(JSONRepair.Refusal) {
    var literal = Self.literals[word]
    if literal == nil && end == c.count {
      literal = Self.literals.first { $0.key.hasPrefix(word) && word.count >= 2 }?.value
    }
    guard valuePosition() else {
      throw JSONRepair.Refusal(
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
