import SheafCore

extension JSONRepair {
  /// One pass of `repair` over a text.
  ///
  /// It reads the text scalar by scalar from `i`, writes valid JSON to `out` and keeps the
  /// containers still open on `stack`. The values it reads are in JSONRepair+Values.swift.
  struct Repairer {
    /// What a container is.
    enum Kind { case object, array }
    /// What a container expects next.
    enum State { case keyOrEnd, colon, value, commaOrEnd, elementOrEnd }
    /// A container opened and not yet closed.
    struct Frame {
      /// Whether it is an object or an array.
      var kind: Kind
      /// What it expects next.
      var state: State
      /// The output length at the last complete member, to cut back to on truncation.
      var commit: Int
    }

    /// The text, as scalars.
    let c: [Unicode.Scalar]
    /// The repaired text so far.
    var out: [Unicode.Scalar] = []
    /// The containers open, the innermost last.
    var stack: [Frame] = []
    /// Whether the top-level value has begun.
    var started = false
    /// Whether the top-level value is complete: what follows it is ignored.
    var done = false
    /// Where reading is, in `c`.
    var i = 0

    /// A pass over `text`.
    init(_ text: String) {
      c = Array(text.unicodeScalars)
    }

    /// Reads the text up to the end of its top-level value, then closes what the text left open.
    /// - Throws: `Refusal` for what it will not guess.
    mutating func run() throws(Refusal) -> String {
      while i < c.count && !done {
        if skipIgnored() { continue }
        try token(c[i])
      }
      guard started else { throw Refusal(message: "the answer holds no JSON value") }
      closeTruncated()
      return String(String.UnicodeScalarView(out))
    }

    /// Skips a space, a comment, or `...` / `…` standing for more items at `i`; `false` when
    /// none of them is there.
    mutating func skipIgnored() -> Bool {
      let ch = c[i]
      if isSpace(ch) {
        i += 1
        return true
      }
      if ch == "/" && i + 1 < c.count && c[i + 1] == "/" || ch == "#" {
        while i < c.count && c[i] != "\n" { i += 1 }
        return true
      }
      if ch == "/" && i + 1 < c.count && c[i + 1] == "*" {
        i += 2
        while i + 1 < c.count && !(c[i] == "*" && c[i + 1] == "/") { i += 1 }
        i += 2
        return true
      }
      // `...` or `…` standing for more items: left out.
      if ch == "." && i + 2 < c.count && c[i + 1] == "." && c[i + 2] == "." || ch == "\u{2026}" {
        i += ch == "." ? 3 : 1
        while i < c.count && c[i] == "." { i += 1 }
        return true
      }
      return false
    }

    /// Reads the token that `ch`, at `i`, starts.
    /// - Throws: `Refusal` for what it will not guess.
    mutating func token(_ ch: Unicode.Scalar) throws(Refusal) {
      switch ch {
      case "{", "[": try openContainer(ch)
      case "}", "]": try closeContainer(ch)
      case ",": try comma()
      case ":": try colon()
      case _ where closingQuote(for: ch) != nil: try quotedString(ch)
      case "-"
      where i + 8 < c.count
        && String(String.UnicodeScalarView(c[(i + 1)...(i + 8)]))
          == "Infinity":
        try negativeInfinity()
      case "-", "+", ".", "0"..."9": try numberToken()
      case "/" where !atKey: try regularExpression()
      default: try bareWord(ch)
      }
    }

    // MARK: Writing

    /// Appends `s` to the output.
    mutating func emit(_ s: String) { out.append(contentsOf: s.unicodeScalars) }

    /// The text from `at` on, a few characters of it, to say where a problem is.
    func near(_ at: Int) -> String {
      let end = min(c.count, at + 12)
      return String(String.UnicodeScalarView(c[min(at, c.count)..<end]))
    }

    /// The first position from `from` on that is not a space.
    func skipSpace(_ from: Int) -> Int {
      var j = from
      while j < c.count && isSpace(c[j]) { j += 1 }
      return j
    }

    /// Records that a value was written: the top-level one is done, or the container's member is.
    mutating func valueFinished() {
      if stack.isEmpty {
        done = true
      } else {
        stack[stack.count - 1].state = .commaOrEnd
        stack[stack.count - 1].commit = out.count
      }
    }

    /// Gets ready to write a value, adding a missing comma or colon; `false` where a value cannot
    /// go.
    mutating func valuePosition() -> Bool {
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
    mutating func keyPosition() -> Bool {
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

    /// Whether what comes next is a key (of the object open innermost).
    var atKey: Bool {
      stack.last?.kind == .object
        && (stack.last?.state == .keyOrEnd || stack.last?.state == .commaOrEnd)
    }

    // MARK: Containers and punctuation

    /// `{` or `[`: opens a container.
    /// - Throws: `Refusal` where no value can go.
    mutating func openContainer(_ ch: Unicode.Scalar) throws(Refusal) {
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
    }

    /// `}` or `]`: closes the innermost container, or one further out (what is between was left
    /// open); one that closes nothing is dropped.
    /// - Throws: `Refusal` when it ends an object after a key without a value.
    mutating func closeContainer(_ ch: Unicode.Scalar) throws(Refusal) {
      let wanted: Kind = ch == "}" ? .object : .array
      guard let top = stack.last else {
        i += 1  // a redundant closing bracket: dropped
        return
      }
      if top.kind != wanted {
        // Closes something further out (what is between was left open), or nothing at all.
        if stack.contains(where: { $0.kind == wanted }) {
          closeLeftOpen()
          valueFinished()
        } else {
          i += 1
        }
        return
      }
      if top.state == .colon || top.state == .value {
        throw Refusal(message: "a key has no value before '\(ch)' near '\(near(i))'")
      }
      if out.last == "," { out.removeLast() }
      emit(String(ch))
      stack.removeLast()
      valueFinished()
      i += 1
    }

    /// Closes the innermost container, which the text left open: a dangling key or comma is
    /// dropped.
    mutating func closeLeftOpen() {
      let top = stack.removeLast()
      if top.state == .colon || top.state == .value {
        out.removeSubrange(top.commit...)
      }
      if out.last == "," { out.removeLast() }
      emit(top.kind == .object ? "}" : "]")
    }

    /// Truncated: drops a dangling key or comma, then closes what is open.
    mutating func closeTruncated() {
      while !stack.isEmpty {
        closeLeftOpen()
        if !stack.isEmpty { stack[stack.count - 1].commit = out.count }
      }
    }

    /// `,`: kept after a member, dropped where doubled or leading; after the top-level value it
    /// ends the text.
    /// - Throws: `Refusal` after a key without a value.
    mutating func comma() throws(Refusal) {
      guard let top = stack.last else {
        done = true
        return
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
    }

    /// `:` after a key.
    /// - Throws: `Refusal` anywhere else.
    mutating func colon() throws(Refusal) {
      guard stack.last?.state == .colon else {
        throw Refusal(message: "an unexpected ':' near '\(near(i))'")
      }
      emit(":")
      stack[stack.count - 1].state = .value
      i += 1
    }
  }
}
