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
  /// Seconds until the window resets.
  public var resetIn: Double

  public init(remaining: Int, resetIn: Double) {
    self.remaining = remaining
    self.resetIn = resetIn
  }

  /// The window a response's headers describe, the most binding of requests and tokens; `nil`
  /// when they say nothing of it.
  public static func from(_ header: (String) -> String?, now: Date = Date()) -> RateWindow? {
    var requests: RateWindow?
    var spent: RateWindow?
    for (prefix, style) in [("x-ratelimit-", Style.openAI), ("anthropic-ratelimit-", .anthropic)] {
      for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let remainingName =
          style == .openAI ? "\(prefix)remaining-\(kind)" : "\(prefix)\(kind)-remaining"
        let resetName = style == .openAI ? "\(prefix)reset-\(kind)" : "\(prefix)\(kind)-reset"
        guard
          let left = header(remainingName).flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
        else { continue }
        let reset = header(resetName).flatMap { seconds($0, style: style, now: now) } ?? 1
        if kind == "requests" {
          requests = RateWindow(remaining: left, resetIn: reset)
        } else if left <= 0 {
          spent = RateWindow(remaining: 0, resetIn: max(spent?.resetIn ?? 0, reset))
        }
      }
    }
    return spent ?? requests
  }

  enum Style { case openAI, anthropic }

  /// A reset header as seconds from `now`.
  static func seconds(_ text: String, style: Style, now: Date) -> Double? {
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
/// What is left is the least its answers said, less every request started and not answered yet
/// (those sent after it, which the server had not counted, and those sent before it, which it
/// may have: never too many). A start is held while nothing
/// is left, until the window resets, so any number of processes that share it (a run's `rate/`)
/// stay under the limit before a 429 rather than after.
struct RatePace: Equatable {
  /// Requests left in the window, as far as is known (`nil`: nothing said, go).
  var left: Int?
  /// When the window resets (the clock `now` is read on).
  var reset: Double?
  /// When the requests started and not answered yet were sent (the last two minutes).
  var starts: [Double] = []

  /// Starts a request at `now` if the window allows, and returns its start time (what `observe`
  /// is given back); `nil` while it is held.
  mutating func start(now: Double) -> Double? {
    if let reset, now >= reset {
      left = nil
      starts.removeAll { $0 < reset }
      self.reset = nil
    }
    starts.removeAll { $0 < now - 120 }
    if let left {
      guard left > 0 else { return nil }
      self.left = left - 1
    }
    // Two starts never share a time: an answer takes back its own.
    let at = max(now, (starts.last ?? -Double.infinity).nextUp)
    starts.append(at)
    return at
  }

  /// The request started at `sentAt` was answered with `window` (read at `now`).
  ///
  /// Within one window what is left only goes down: requests reach the server in another order
  /// than they were sent, so a later answer may have been counted earlier and say more.
  mutating func observe(_ window: RateWindow, sentAt: Double, now: Double) {
    if let index = starts.firstIndex(of: sentAt) { starts.remove(at: index) }
    let estimate = window.remaining - starts.count
    if let left, let reset, now < reset {
      self.left = min(left, estimate)
      self.reset = max(reset, now + window.resetIn)
    } else {
      left = estimate
      reset = now + window.resetIn
    }
  }

  /// When a held start may go (`nil`: it is not held).
  func heldUntil(now: Double) -> Double? {
    guard let left, left <= 0, let reset, now < reset else { return nil }
    return reset
  }
}
