import Foundation
import Testing

@testable import SheafCore

/// One estimator for the time left (issue 23): the plan's graph, J and the times seen so far,
/// with a fake clock.
struct ETATests {
  /// The staged PRD's shape: one root, two that use it, one that uses both, seven in parallel on
  /// that one, and a summary that uses them all.
  static let prd: [ETA.Section] =
    [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])]
    + (1...7).map { ("e\($0)", ["d"]) } + [("x", (1...7).map { "e\($0)" })]

  /// A run folder of its own with the PRD-shaped plan's ledger started, four at once.
  static func started(priorMean: Double?) throws -> RunLayout {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "eta-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let run = RunLayout(root)
    RunProgress.start(
      run: run, sections: prd.enumerated().map { ($1.id, 1, $0 + 1, $1.uses) }, done: [],
      jobs: 4, priorMean: priorMean)
    return run
  }

  @Test func aWholeRunFollowsTheGraphAndJ() {
    let all = ETA.seconds(sections: Self.prd, done: [], running: [:], mean: 10, jobs: 4)
    // a, then b and c together, then d, then seven in two rounds of four, then x.
    #expect(all == 60)
    #expect(ETA.seconds(sections: Self.prd, done: [], running: [:], mean: 10, jobs: 1) == 120)
    #expect(ETA.seconds(sections: Self.prd, done: [], running: [:], mean: 10, jobs: 8) == 50)
  }

  @Test func whatIsUnderWayCountsWhatIsLeftOfIt() {
    let left = ETA.seconds(
      sections: Self.prd, done: ["a", "b", "c", "d", "e1", "e2"],
      running: ["e3": 4, "e4": 4, "e5": 4, "e6": 30], mean: 10, jobs: 4)
    // e3-e5 end at 6, e6 (over its mean) at 1; e7 starts at 1 and ends at 11; then x: 21.
    #expect(left == 21)
    let done = Set(Self.prd.map(\.id))
    #expect(ETA.seconds(sections: Self.prd, done: done, running: [:], mean: 10, jobs: 4) == 0)
  }

  @Test func theLedgerGivesTheSameFigureAtTheSameMoment() throws {
    let run = try Self.started(priorMean: nil)
    defer { try? FileManager.default.removeItem(atPath: run.root) }
    let start = Date(timeIntervalSince1970: 1_000_000)
    #expect(RunProgress.eta(run: run, now: start) == nil, "no time known yet")
    RunProgress.begin(run: run, id: "a", now: start)
    RunProgress.finish(run: run, id: "a", completed: true, now: start.addingTimeInterval(10))
    for id in ["b", "c"] { RunProgress.begin(run: run, id: id, now: start.addingTimeInterval(10)) }
    // b and c 3 s in: 7 s left of them, then d, two rounds of the seven, x.
    #expect(RunProgress.eta(run: run, now: start.addingTimeInterval(13)) == 47)
    RunProgress.passOn(run: run, id: "c")
    RunProgress.finish(run: run, id: "c", completed: true, now: start.addingTimeInterval(11))
    #expect(
      RunProgress.eta(run: run, now: start.addingTimeInterval(13)) == 47, "c's 1 s is no time")
  }

  @Test func earlierRunsGiveTheFirstFigure() throws {
    let run = try Self.started(priorMean: 5)
    defer { try? FileManager.default.removeItem(atPath: run.root) }
    #expect(RunProgress.eta(run: run, now: Date()) == 30)
  }
}
