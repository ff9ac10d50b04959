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
}
