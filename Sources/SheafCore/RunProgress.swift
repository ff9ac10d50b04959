import Foundation

/// The `progress` event of one section of a staged run, at one phase of its pipeline (`PREP` in
/// `sheaf-run deps`, `AI_CALL` and `PARSE` in call-llm, `SAVE` and `DONE` in `sheaf-run save`),
/// with the document's counts and the run's ETA (`ETA`, from the ledger `progress.json`: the same
/// figure the live block and `make status` show).
public enum RunProgress {
  /// The phases, in order.
  public static let phases = ["INIT", "PREP", "AI_CALL", "PARSE", "SAVE", "DONE"]

  /// Starts the ledger of a run (`progress.json`).
  ///
  /// It holds the stage of each section and the sections it uses, the sections already done,
  /// how many run at once (`jobs`, make's J), the sections under way and since when, the seconds
  /// the sections of this run took, and the mean of earlier runs (`prior_mean`). Every event reads
  /// it in one go, so that an event costs the size of that file, not a read of every section.
  public static func start(
    run: RunLayout, sections: [(id: String, stage: Int, uses: [String])], done: [String],
    jobs: Int, priorMean: Double?, orders: [String: Int] = [:]
  ) {
    LockedFile.update(run.progress, exclusive: true) { _ in
      let ledger = JSON.object()
      let stageOf = JSON.object()
      let uses = JSON.object()
      let orderOf = JSON.object()
      for section in sections {
        stageOf[section.id] = JSON(section.stage)
        if let order = orders[section.id] { orderOf[section.id] = JSON(order) }
        if !section.uses.isEmpty { uses[section.id] = .array(section.uses.map { JSON($0) }) }
      }
      ledger["stage_of"] = stageOf
      ledger["uses"] = uses
      ledger["order_of"] = orderOf
      ledger["done"] = .array(done.map { JSON($0) })
      ledger["running"] = JSON.object()
      ledger["seconds"] = JSON(0)
      ledger["timed"] = JSON(0)
      ledger["prior_mean"] = priorMean.map { JSON($0) } ?? .null
      ledger["jobs"] = JSON(jobs)
      return ledger
    }
  }

  /// Records that section `id` started (its pipeline's first step), at `now`.
  public static func begin(run: RunLayout, id: String, now: Date = Date()) {
    LockedFile.update(run.progress, exclusive: true) { ledger in
      guard let ledger, let running = ledger["running"] else { return nil }
      running[id] = JSON(now.timeIntervalSince1970)
      return ledger
    }
  }

  /// Records that section `id` asks nothing this run (its stored result is passed on): its time
  /// says nothing of how long a section takes.
  public static func passOn(run: RunLayout, id: String) {
    LockedFile.update(run.progress, exclusive: true) { ledger in
      guard let ledger, let running = ledger["running"], running[id] != nil else { return nil }
      running[id] = nil
      return ledger
    }
  }

  /// Records that section `id` ended (`completed` or not) at `now`: a completed one that was
  /// asked for in this run adds the time since it started to the mean.
  public static func finish(run: RunLayout, id: String, completed: Bool, now: Date = Date()) {
    LockedFile.update(run.progress, exclusive: true) { ledger in
      guard let ledger, ledger["stage_of"] != nil else { return nil }
      var done = Set(ledger["done"]?.array?.compactMap(\.string) ?? [])
      // Done means finished, as the status counts it: completed, failed or skipped.
      done.insert(id)
      ledger["done"] = .array(done.sorted().map { JSON($0) })
      if let running = ledger["running"], let started = running[id]?.double {
        running[id] = nil
        let seconds = now.timeIntervalSince1970 - started
        if completed && seconds > 0 {
          ledger["seconds"] = JSON((ledger["seconds"]?.double ?? 0) + seconds)
          ledger["timed"] = JSON((ledger["timed"]?.int ?? 0) + 1)
        }
      }
      return ledger
    }
  }

  /// Waits while a section placed before `order` in the document is under way in this run.
  ///
  /// The duplicate rule judges a section against the ones before it, whatever J is. It waits at
  /// most `limit` seconds and returns at once outside a run. A section before it that has not
  /// started is not waited for: make starts sections in order, so that one waits on something
  /// else.
  public static func awaitEarlier(
    run: RunLayout, order: Int, id: String, limit: Double = 900,
    pause: @Sendable () -> Void = { usleep(50_000) }
  ) {
    let start = Date()
    while Date().timeIntervalSince(start) < limit {
      guard let ledger = ledger(run), let orders = ledger["order_of"] else { return }
      let busy = (ledger["running"]?.members ?? []).contains { other, _ in
        other != id && (orders[other]?.int ?? .max) < order
      }
      guard busy else { return }
      pause()
    }
  }

  /// The ledger as it is now.
  static func ledger(_ run: RunLayout) -> JSON? {
    var ledger: JSON?
    LockedFile.update(run.progress, exclusive: false) { current in
      ledger = current?.copy()
      return nil
    }
    return ledger
  }

  /// Seconds until the run ends (`ETA`), from the run's ledger at `now`; `nil` before any
  /// section of this run or an earlier one has taken a known time.
  public static func eta(run: RunLayout, now: Date = Date()) -> Double? {
    ledger(run).flatMap { eta(ledger: $0, now: now) }
  }

  /// Seconds until the run ends, from `ledger` at `now`.
  static func eta(ledger: JSON, now: Date) -> Double? {
    let timed = ledger["timed"]?.int ?? 0
    guard
      let mean = timed > 0
        ? (ledger["seconds"]?.double ?? 0) / Double(timed) : ledger["prior_mean"]?.double,
      mean > 0
    else { return nil }
    let uses = ledger["uses"]
    let sections: [ETA.Section] = (ledger["stage_of"]?.members ?? []).map { id, _ in
      (id, uses?[id]?.array?.compactMap(\.string) ?? [])
    }
    let done = Set(ledger["done"]?.array?.compactMap(\.string) ?? [])
    var running: [String: Double] = [:]
    for (id, started) in ledger["running"]?.members ?? [] {
      if let started = started.double { running[id] = now.timeIntervalSince1970 - started }
    }
    let seconds = ETA.seconds(
      sections: sections, done: done, running: running, mean: mean,
      jobs: max(1, ledger["jobs"]?.int ?? 4))
    return (seconds * 10).rounded() / 10
  }

  /// The event for section `id` at `phase`, for the run `run`.
  public static func event(run: RunLayout, id: String, phase: String, doc: String?) -> JSON {
    let ledger = ledger(run)
    let total = ledger?["stage_of"]?.members.count ?? 0
    let done = ledger?["done"]?.array?.count ?? 0
    return Event.make(
      .progress, doc: doc,
      fields: [
        "id": JSON(id), "phase": JSON(phase), "items_total": JSON(total),
        "items_processed": JSON(done), "current_item": JSON(id),
        "eta_s": ledger.flatMap { eta(ledger: $0, now: Date()) }.map { JSON($0) } ?? .null,
      ])
  }
}
