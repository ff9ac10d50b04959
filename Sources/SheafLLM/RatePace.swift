import Foundation

/// What a provider's rate-limit headers say of its window: requests (or tokens) left, and the
/// seconds until it resets.
///
/// OpenAI: `x-ratelimit-remaining-requests` with `x-ratelimit-reset-requests` as a duration
/// (`1s`, `6m0s`, `20ms`), the same for `-tokens`. Anthropic: `anthropic-ratelimit-requests-remaining`
/// with `anthropic-ratelimit-requests-reset` as an RFC 3339 time, the same for `-tokens`,
/// `-input-tokens` and `-output-tokens`.
public struct RateWindow: Equatable, Sendable {
  /// Requests that may still start in the window (0 when its tokens are spent).
  public var remaining: Int
  /// Seconds until the window resets (at most an hour).
  public var resetIn: Double
  /// Requests a window allows, when the server says.
  public var limit: Int?

  public init(remaining: Int, resetIn: Double, limit: Int? = nil) {
    self.remaining = remaining
    self.resetIn = resetIn
    self.limit = limit
  }

  /// The window a response's headers describe, the most binding of what they say of requests
  /// and tokens (the least left; when nothing is left, the latest reset); `nil` when they say
  /// nothing of it.
  public static func from(_ header: (String) -> String?, now: Date = Date()) -> RateWindow? {
    var requests: [RateWindow] = []
    var spent: [RateWindow] = []
    var limit: Int?
    for (prefix, style) in [("x-ratelimit-", Style.openAI), ("anthropic-ratelimit-", .anthropic)] {
      for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let name = { (part: String) in
          style == .openAI ? "\(prefix)\(part)-\(kind)" : "\(prefix)\(kind)-\(part)"
        }
        guard let left = header(name("remaining")).flatMap({ Int($0.trimmed) }) else { continue }
        let reset = header(name("reset")).flatMap { seconds($0, style: style, now: now) } ?? 1
        let window = RateWindow(remaining: max(0, left), resetIn: reset)
        if kind == "requests" {
          requests.append(window)
          if let said = header(name("limit")).flatMap({ Int($0.trimmed) }), said > 0 {
            limit = min(limit ?? said, said)
          }
        }
        if window.remaining <= 0 { spent.append(window) }
      }
    }
    if let latest = spent.map(\.resetIn).max() {
      return RateWindow(remaining: 0, resetIn: latest, limit: limit)
    }
    guard var least = requests.min(by: { $0.remaining < $1.remaining }) else { return nil }
    least.limit = limit
    return least
  }

  enum Style { case openAI, anthropic }

  /// A reset header as seconds from `now`: finite, at most an hour (a server that says more, or
  /// sends a time where a duration belongs, is not believed for longer).
  static func seconds(_ text: String, style: Style, now: Date) -> Double? {
    guard let value = rawSeconds(text, style: style, now: now), value.isFinite else { return nil }
    return min(max(0, value), 3600)
  }

  private static func rawSeconds(_ text: String, style: Style, now: Date) -> Double? {
    let text = text.trimmingCharacters(in: .whitespaces)
    if style == .anthropic {
      let formatter = ISO8601DateFormatter()
      for options: ISO8601DateFormatter.Options in [
        [.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime],
      ] {
        formatter.formatOptions = options
        if let date = formatter.date(from: text) { return max(0, date.timeIntervalSince(now)) }
      }
      return Double(text)
    }
    return duration(text)
  }

  /// OpenAI's durations: `1s`, `6m0s`, `1h2m3.5s`, `20ms`; a bare number is seconds.
  static func duration(_ text: String) -> Double? {
    if let seconds = Double(text) { return max(0, seconds) }
    var total = 0.0
    var number = ""
    var index = text.startIndex
    var matched = false
    while index < text.endIndex {
      let character = text[index]
      if character.isNumber || character == "." {
        number.append(character)
        index = text.index(after: index)
        continue
      }
      guard let value = Double(number) else { return nil }
      let rest = text[index...]
      if rest.hasPrefix("ms") {
        total += value / 1000
        index = text.index(index, offsetBy: 2)
      } else {
        switch character {
        case "h": total += value * 3600
        case "m": total += value * 60
        case "s": total += value
        default: return nil
        }
        index = text.index(after: index)
      }
      number = ""
      matched = true
    }
    return matched && number.isEmpty ? total : nil
  }
}

/// A provider's window as this run knows it.
///
/// What is left is the least its answers said, less every request started after the answered one
/// and not answered yet (which the server had not counted when it answered). Those started before
/// it are taken to have reached the server before it, so they are in what it said: counting them
/// again would hold up to J requests of every window. That is usually so of one machine's
/// requests, not always: near a window's end one that arrived out of order can earn a 429, which
/// the cool-down and a retry take care of. Once nothing is in flight, the least said is exact. A
/// start is held while nothing is left, until the window resets, so the processes that share it
/// (a run's `rate/`, a set's) stay under the limit before a 429 rather than after.
struct RatePace: Equatable {
  /// Requests left in the window, as far as is known (`nil`: nothing said, go).
  var left: Int?
  /// When the window resets (the clock `now` is read on).
  var reset: Double?
  /// Requests a window allows, when the server said: a new window starts with that many.
  var limit: Int?
  /// When the window now counted began (answers to requests sent before it say nothing of it).
  var since: Double?
  /// When the requests started and not answered yet were sent (the last two minutes).
  var starts: [Double] = []
  /// The least the answers of this window said was left: exactly what is left once every request
  /// started has been answered (all of them were counted).
  var said: Int?
  /// Requests of this window that ended without an answer: each may have been counted.
  var lost = 0

  /// Time added to a reset: the server's clock and ours are read a little apart.
  static let margin = 0.05

  /// Starts a request at `now` if the window allows, and returns its start time (what `observe`
  /// and `forget` are given back); `nil` while it is held.
  mutating func start(now: Double) -> Double? {
    if let reset, now >= reset {
      // A new window: as many as the server allows, less what started in it already; its end
      // is known from its first answer.
      starts.removeAll { $0 < reset }
      since = reset
      said = nil
      lost = 0
      left = limit.map { $0 - starts.count }
      self.reset = nil
    }
    starts.removeAll { $0 < now - 120 }
    if reset == nil, let left, left <= 0, starts.isEmpty {
      // Nothing in flight will say when this window ends: go on, one at a time.
      self.left = 1
    }
    if let left {
      guard left > 0 else { return nil }
      self.left = left - 1
    }
    // Two starts never share a time: an answer takes back its own.
    let at = max(now, (starts.last ?? -Double.infinity).nextUp)
    starts.append(at)
    return at
  }

  /// The request started at `sentAt` ended without saying anything of the window: it may have
  /// reached the server all the same, so it is counted as spent in what the answers said.
  mutating func forget(sentAt: Double) {
    guard let index = starts.firstIndex(of: sentAt) else { return }
    starts.remove(at: index)
    if sentAt >= (since ?? -Double.infinity) { lost += 1 }
  }

  /// The request started at `sentAt` was answered with `window` (read at `now`).
  ///
  /// Within one window what is left only goes down: requests reach the server in another order
  /// than they were sent, so a later answer may have been counted earlier and say more. An
  /// answer to a request sent before the window began says nothing of it.
  mutating func observe(_ window: RateWindow, sentAt: Double, now: Double) {
    if let index = starts.firstIndex(of: sentAt) { starts.remove(at: index) }
    if let allowed = window.limit { limit = allowed }
    if let since, sentAt < since { return }
    let estimate = window.remaining - starts.filter { $0 > sentAt }.count
    let resets = now + window.resetIn + Self.margin
    if let left, let reset, now < reset {
      said = min(said ?? window.remaining, window.remaining)
      // Nothing in flight: the least said counts every request (the processes of one machine
      // start theirs in another order than they send them, so an estimate may count one twice).
      self.left = starts.isEmpty ? (said ?? window.remaining) - lost : min(left, estimate)
      self.reset = max(reset, resets)
    } else {
      said = window.remaining
      if reset != nil { lost = 0 }
      // Just after a new window began (its reset unknown), the starts counted down from its
      // limit bound what an early answer may say is left.
      left = reset == nil ? min(left ?? estimate, estimate) : estimate
      reset = resets
    }
  }
}
