import Foundation
import SheafCore

/// A small seedable generator (SplitMix64), so backoff jitter can be repeated in tests.
public struct SeededGenerator: RandomNumberGenerator {
  private var state: UInt64

  /// A generator from a seed.
  public init(seed: UInt64) {
    state = seed
  }

  /// The next value.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// When to try again: exponential backoff with jitter, or exactly what the provider asked for
/// (`retry-after-ms`, `Retry-After` in seconds or as an HTTP date).
public struct RetryPolicy {
  /// The first backoff, in seconds.
  public var base: Double
  /// The longest wait, in seconds (also caps what a provider asks for).
  public var maximum: Double
  private var generator: SeededGenerator

  /// A policy with a seed for its jitter.
  public init(base: Double, maximum: Double, seed: UInt64) {
    self.base = base
    self.maximum = maximum
    generator = SeededGenerator(seed: seed)
  }

  /// The wait before attempt `attempt + 1` after attempt `attempt` failed: the provider's
  /// Retry-After when it gave one, else `base × 2^(attempt-1)` with "equal jitter" (half fixed,
  /// half random), never more than `maximum`.
  public mutating func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
    if let retryAfter { return min(max(0, retryAfter), maximum) }
    let exponential = min(maximum, base * pow(2, Double(max(0, attempt - 1))))
    return exponential / 2 + Double.random(in: 0...(exponential / 2), using: &generator)
  }

  /// Reads the wait a response asks for: `retry-after-ms`, then `Retry-After` (seconds or an
  /// HTTP date, measured from `now`).
  public static func retryAfter(milliseconds: String?, header: String?, now: Date = Date())
    -> Double?
  {
    if let milliseconds, let value = Double(milliseconds.trimmed), value >= 0 {
      return value / 1000
    }
    guard let header = header?.trimmed, !header.isEmpty else { return nil }
    if let seconds = Double(header), seconds >= 0 { return seconds }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    for format in [
      "EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy",
    ] {
      formatter.dateFormat = format
      if let date = formatter.date(from: header) { return max(0, date.timeIntervalSince(now)) }
    }
    return nil
  }
}
