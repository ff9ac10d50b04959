import Foundation

/// Event lines (DESIGN.md section 4): any object with an `"event"` key.
public enum Event {
  /// The event names of the contract.
  public enum Name: String, Sendable {
    case stage
    /// Every section of the run (titles and descriptions), once, before the records.
    case outline
    case sectionStart = "section_start"
    case chunk, progress
    case sectionComplete = "section_complete"
    case sectionFailed = "section_failed"
    /// One request to a provider, whatever came of it: its HTTP status, error type and seconds.
    case attempt
    case complete
  }

  /// Whether a line's object is an event.
  public static func isEvent(_ object: JSON) -> Bool {
    object["event"] != nil
  }

  /// A new event with `event`, `ts` and `doc` first, then `fields` in order.
  public static func make(_ name: Name, doc: String?, fields: KeyValuePairs<String, JSON>) -> JSON {
    let event = JSON.object()
    event["event"] = JSON(name.rawValue)
    event["ts"] = JSON(timestamp())
    if let doc { event["doc"] = JSON(doc) }
    for (key, value) in fields { event[key] = value }
    return event
  }

  /// Now, as ISO-8601 with milliseconds in UTC (`2026-11-21T07:53:12.345Z`).
  public static func timestamp(_ date: Date = Date()) -> String {
    var time = timespec()
    let seconds = date.timeIntervalSince1970
    time.tv_sec = Int(seconds.rounded(.down))
    let millis = Int(((seconds - seconds.rounded(.down)) * 1000).rounded(.down))
    var parts = tm()
    var whole = time.tv_sec
    gmtime_r(&whole, &parts)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900,
      Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
      Int(parts.tm_sec), millis)
  }
  /// The time of `timestamp`'s form (`2026-11-21T07:53:12.345Z`), read without a date formatter
  /// (ICU's took most of a big run's status); `nil` for any other form.
  public static func date(_ text: String) -> Date? {
    let bytes = Array(text.utf8)
    guard bytes.count == 24, bytes[4] == 0x2D, bytes[10] == 0x54, bytes[19] == 0x2E,
      bytes[23] == 0x5A
    else { return nil }
    func number(_ from: Int, _ count: Int) -> Int? {
      var value = 0
      for byte in bytes[from..<(from + count)] {
        guard byte >= 0x30 && byte <= 0x39 else { return nil }
        value = value * 10 + Int(byte - 0x30)
      }
      return value
    }
    guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
      let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
      let millis = number(20, 3), (1...12).contains(month)
    else { return nil }
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146097 + doe - 719468
    let seconds = Double(days * 86400 + hour * 3600 + minute * 60 + second) + Double(millis) / 1000
    return Date(timeIntervalSince1970: seconds)
  }

}
