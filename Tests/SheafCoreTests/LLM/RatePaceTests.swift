import Foundation
import Testing

@testable import SheafLLM

/// Pacing by the provider's own rate-limit headers: what they say, and the window a run keeps
/// from them (a clock of plain numbers: no waiting).
struct RatePaceTests {
  @Test func openAIsHeadersAndDurations() {
    let headers = [
      "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "6m0s",
      "x-ratelimit-remaining-tokens": "1500", "x-ratelimit-reset-tokens": "20ms",
    ]
    #expect(RateWindow.from({ headers[$0] }) == RateWindow(remaining: 59, resetIn: 360))
    #expect(RateWindow.duration("1h2m3.5s") == 3723.5)
    #expect(RateWindow.duration("20ms") == 0.02)
    #expect(RateWindow.duration("0.512s") == 0.512)
    #expect(RateWindow.duration("soon") == nil)
    // Tokens spent hold every request until they come back.
    let spent = [
      "x-ratelimit-remaining-requests": "40", "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "1.5s",
    ]
    #expect(RateWindow.from({ spent[$0] }) == RateWindow(remaining: 0, resetIn: 1.5))
    // Nothing left of the requests for 5 s and of the tokens for 1 s: the longer hold.
    let both = [
      "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5s",
      "x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-tokens": "0",
      "x-ratelimit-reset-tokens": "1s",
    ]
    #expect(RateWindow.from({ both[$0] }) == RateWindow(remaining: 0, resetIn: 5, limit: 60))
    // A reset that is not a finite time, or far too long, is not believed for more than an hour.
    let odd = ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "inf"]
    #expect(RateWindow.from({ odd[$0] })?.resetIn == 1)
    let huge = ["x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1800000000"]
    #expect(RateWindow.from({ huge[$0] })?.resetIn == 3600)
    #expect(RateWindow.from({ _ in nil }) == nil, "a server that says nothing is not paced")
  }

  @Test func anthropicsHeadersAreTimes() {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let headers = [
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:30Z",
    ]
    let window = RateWindow.from({ headers[$0] }, now: now)
    #expect(window?.remaining == 0)
    let expected =
      ISO8601DateFormatter().date(from: "2027-01-15T08:00:30Z")!.timeIntervalSince(now)
    #expect(window?.resetIn == max(0, expected))
  }

  @Test func aWindowWithNothingLeftHoldsStartsUntilItResets() {
    var pace = RatePace()
    let first = pace.start(now: 0)
    let second = pace.start(now: 0.1)
    let third = pace.start(now: 0.1)
    #expect(first == 0, "nothing said: go")
    #expect(second != nil && third != nil && second != third, "each start has its own time")
    // The first is answered: 3 left when it arrived, but two others are still unanswered (the
    // server may not have counted them), so one is left.
    pace.observe(RateWindow(remaining: 3, resetIn: 5), sentAt: 0, now: 1)
    #expect(pace.left == 1)
    let fourth = pace.start(now: 1.5)
    #expect(fourth != nil)
    let fifth = pace.start(now: 1.6)
    #expect(fifth == nil, "held: nothing left")
    #expect(pace.reset == 6 + RatePace.margin, "held until the window resets")
    // An answer that says more (a request counted earlier, answered later) changes nothing
    // within the window.
    pace.observe(RateWindow(remaining: 9, resetIn: 5), sentAt: 0.1, now: 2)
    let sixth = pace.start(now: 2)
    #expect(sixth == nil)
    let early = pace.start(now: 6.5)
    #expect(early == nil, "a later answer moved the reset on")
    // The window resets (the latest answer put it at 2 + 5): go, uncounted until the next
    // answer says.
    let seventh = pace.start(now: 7.1)
    #expect(seventh != nil)
    #expect(pace.left == nil)
  }

  @Test func aNewWindowStartsWithTheLimitTheHeadersSaid() {
    var pace = RatePace()
    let first = pace.start(now: 0)
    #expect(first != nil)
    pace.observe(RateWindow(remaining: 0, resetIn: 1, limit: 2), sentAt: 0, now: 0.1)
    let held = pace.start(now: 0.5)
    #expect(held == nil)
    // The window resets: two may go, not a burst.
    let a = pace.start(now: 1.2)
    let b = pace.start(now: 1.2)
    let c = pace.start(now: 1.2)
    #expect(a != nil && b != nil)
    #expect(c == nil, "the limit the headers said")
    // An answer to a request sent before this window says nothing of it.
    pace.observe(RateWindow(remaining: 5, resetIn: 1, limit: 2), sentAt: -3, now: 1.3)
    let d = pace.start(now: 1.3)
    #expect(d == nil)
  }

  /// Requests sent before the answered one reached the server before it: they are in what it
  /// said, and are not counted twice (that would hold up to J requests of every window).
  @Test func anAnswerCountsOnlyWhatWasSentAfterIt() {
    var pace = RatePace()
    let starts = (0..<4).compactMap { pace.start(now: Double($0) * 0.01) }
    #expect(starts.count == 4)
    // The last one sent is answered first: the server had seen all four, ten are left.
    pace.observe(RateWindow(remaining: 10, resetIn: 5, limit: 14), sentAt: starts[3], now: 0.5)
    #expect(pace.left == 10)
    // The first one's answer says 13 (it arrived first): within the window, the least stands;
    // the two sent after it and still unanswered are counted: 13 - 2 = 11, more than 10.
    pace.observe(RateWindow(remaining: 13, resetIn: 5, limit: 14), sentAt: starts[0], now: 0.6)
    #expect(pace.left == 10)
    // A request sent now and one answered from before it: the new one is not in what it said.
    let fifth = pace.start(now: 0.7)
    #expect(fifth != nil)
    #expect(pace.left == 9)
    pace.observe(RateWindow(remaining: 7, resetIn: 5, limit: 14), sentAt: starts[1], now: 0.8)
    #expect(
      pace.left == 5, "7 said, less the two sent after it and unanswered (the third, the fifth)")
  }

  /// Processes start requests in one order and send them in another: an estimate may count one
  /// twice, but once every request is answered the least said is exact.
  @Test func whenNothingIsInFlightTheLeastSaidIsWhatIsLeft() {
    var pace = RatePace()
    let a = pace.start(now: 0)
    let b = pace.start(now: 0.01)
    // b reached the server first (9 left), then a (8 left); a is answered first.
    pace.observe(RateWindow(remaining: 8, resetIn: 5, limit: 10), sentAt: a ?? 0, now: 0.5)
    #expect(pace.left == 7, "b, started after a, is counted again")
    pace.observe(RateWindow(remaining: 9, resetIn: 5, limit: 10), sentAt: b ?? 0, now: 0.6)
    #expect(pace.left == 8, "everything answered: 8 is what is left")
  }

  /// Just after a window began, the starts counted down from its limit bound what an answer says
  /// is left (the last one started may arrive first), and a request that ended without an answer
  /// is counted as spent.
  @Test func aNewWindowsFirstAnswerSaysNoMoreThanItsLimitAllows() {
    var pace = RatePace()
    _ = pace.start(now: 0)
    pace.observe(RateWindow(remaining: 0, resetIn: 1, limit: 3), sentAt: 0, now: 0.1)
    let starts = (0..<3).compactMap { _ in pace.start(now: 1.2) }
    #expect(starts.count == 3)
    #expect(pace.start(now: 1.2) == nil)
    // The last started reached the server first: 2 left when it did; the other two are not
    // counted again, but the three started bound it.
    pace.observe(RateWindow(remaining: 2, resetIn: 1, limit: 3), sentAt: starts[2], now: 1.3)
    #expect(pace.left == 0)
    // One ends with no answer (it may have been counted), the other is answered: 0 left.
    pace.forget(sentAt: starts[0])
    pace.observe(RateWindow(remaining: 1, resetIn: 1, limit: 3), sentAt: starts[1], now: 1.4)
    #expect(pace.left == 0, "1 said, less the one that ended unanswered")
  }
}
