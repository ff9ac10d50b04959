import Foundation
import Testing

/// A run that tells the truth (issue 23): against the stub, with real make and the built tools.
struct TruthfulRunTests {
  let scratch = Harness.scratch("truthful")

  /// `make …` with the stub as the provider.
  func make(_ target: String, url: String, j: Int = 4, _ extra: String = "") throws
    -> Harness.Result
  {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(url)' J=\(j) CALL_FLAGS='--no-cache --retries 0' \(target) \(extra)"
    )
  }

  /// The events of the PRD's run.
  func events() throws -> [[String: Any]] {
    lines(try String(contentsOfFile: "\(scratch)/runs/prd/events.ndjson", encoding: .utf8))
  }

  @Test func theETAAfterAQuarterOfTheRunIsWithinThirtyPercentOfTheTimeLeft() throws {
    let stub = try Stub()
    let result = try make("doc PLAN=pipelines/prd/plan.json", url: stub.url("ttfb=1,tps=150,words=300"))
    #expect(result.status == 0, "\(result.err)")
    let events = try events()
    func time(_ event: [String: Any]) -> Double? {
      (event["ts"] as? String).flatMap { ISO8601DateFormatter.withFraction.date(from: $0) }?
        .timeIntervalSince1970
    }
    guard
      let start = events.first(where: { $0["phase"] as? String == "INIT" }).flatMap(time),
      let end = events.last(where: { $0["event"] as? String == "section_complete" }).flatMap(time)
    else {
      Issue.record("no start or end in the events")
      return
    }
    let quarter = start + (end - start) / 4
    let estimate = events.first { event in
      event["event"] as? String == "progress" && event["eta_s"] is Double
        && (time(event) ?? 0) >= quarter
    }
    guard let estimate, let at = time(estimate), let eta = estimate["eta_s"] as? Double else {
      Issue.record("no ETA after a quarter of the run")
      return
    }
    let left = end - at
    #expect(abs(eta - left) <= 0.3 * left, "ETA \(eta) s with \(left) s left")
  }
}

extension ISO8601DateFormatter {
  /// The events' time format (milliseconds, UTC).
  nonisolated(unsafe) static let withFraction: ISO8601DateFormatter = {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
  }()
}
