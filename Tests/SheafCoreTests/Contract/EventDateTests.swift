import Foundation
import Testing

@testable import SheafCore

/// An event's time read without a date formatter agrees with the formatter, and leaves any other
/// form to it.
struct EventDateTests {
  @Test(arguments: [
    "2026-11-21T07:53:12.345Z", "1970-01-01T00:00:00.000Z", "2000-02-29T23:59:59.999Z",
    "2099-12-31T12:00:00.001Z",
  ])
  func readsWhatEventsWrite(_ text: String) throws {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    let expected = try #require(formatter.date(from: text))
    let read = try #require(Event.date(text))
    #expect(abs(read.timeIntervalSince1970 - expected.timeIntervalSince1970) < 0.0005)
  }

  @Test func leavesOtherFormsToTheFormatter() {
    #expect(Event.date("2026-11-21T07:53:12Z") == nil)
    #expect(Event.date("2026-13-21T07:53:12.345Z") == nil)
    #expect(Event.date("not a date at all, 24 ch") == nil)
  }

  @Test func aNowStampRoundTrips() {
    let now = Date()
    let read = Event.date(Event.timestamp(now))
    #expect(read.map { abs($0.timeIntervalSince(now)) < 0.002 } == true)
  }
}
