import Foundation

/// The `progress` event of one section of a staged run, at one phase of its pipeline (`PREP` in
/// `sheaf-run deps`, `AI_CALL` and `PARSE` in call-llm, `SAVE` and `DONE` in `sheaf-run save`),
/// with the document's counts and the run's ETA (`ETA`: the same figure the live block and `make
/// status` show).
///
/// Two files keep it. `progress.json` is small and read by every event: the counts, the sections
/// under way (since when, and their place in the document), the sections done since the schedule
/// was last worked out, J, the times, and the estimate. `schedule.json` holds what the estimate
/// is worked out from (each section's stage, order and what it uses, and the sections done): it
/// is read and written at most once a second, when a section starts or ends, so an event costs
/// the same however long the plan, and a run's bookkeeping grows with its length, not its square.
public enum RunProgress {
  /// The phases, in order.
  public static let phases = ["INIT", "PREP", "AI_CALL", "PARSE", "SAVE", "DONE"]

  /// Starts a run's ledger and schedule, with the sections already `done`, `jobs` at once, and
  /// the mean time of earlier runs (`priorMean`), if known.
  public static func start(
    run: RunLayout, sections: [(id: String, stage: Int, order: Int, uses: [String])],
    done: [String], jobs: Int, priorMean: Double?
  ) {
    let schedule = JSON.object()
    let stageOf = JSON.object()
    let uses = JSON.object()
    let orderOf = JSON.object()
    for section in sections {
      stageOf[section.id] = JSON(section.stage)
      orderOf[section.id] = JSON(section.order)
      if !section.uses.isEmpty { uses[section.id] = .array(section.uses.map { JSON($0) }) }
    }
    schedule["stage_of"] = stageOf
    schedule["uses"] = uses
    schedule["order_of"] = orderOf
    schedule["done"] = .array(done.map { JSON($0) })
    LockedFile.update(run.progress, exclusive: true) { _ in
      try? AtomicFile.write(schedule.compactText + "\n", to: run.schedule, durable: false)
      let ledger = JSON.object()
      ledger["total"] = JSON(sections.count)
      ledger["done"] = JSON(Set(done).count)
      ledger["done_since"] = .array([])
      ledger["running"] = JSON.object()
      ledger["seconds"] = JSON(0)
      ledger["timed"] = JSON(0)
      ledger["prior_mean"] = priorMean.map { JSON($0) } ?? .null
      ledger["jobs"] = JSON(jobs)
      estimate(ledger, schedule: schedule, now: Date())
      return ledger
    }
  }

  /// Records that section `id` (at `order` in the document) started its pipeline at `now`.
  public static func begin(run: RunLayout, id: String, order: Int? = nil, now: Date = Date()) {
    LockedFile.update(run.progress, exclusive: true) { ledger in
      guard let ledger, let running = ledger["running"] else { return nil }
      let entry = JSON.object(["at": JSON(now.timeIntervalSince1970)])
      if let order { entry["order"] = JSON(order) }
      running[id] = entry
      reschedule(ledger, run: run, now: now)
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

  /// Records that section `id` ended at `now`: one that was asked for in this run (`completed`:
  /// answered or failed, not from the cache) adds the time since it started to the mean.
  public static func finish(run: RunLayout, id: String, completed: Bool, now: Date = Date()) {
    LockedFile.update(run.progress, exclusive: true) { ledger in
      guard let ledger, ledger["total"] != nil else { return nil }
      // Done means finished, as the status counts it: completed, failed or skipped.
      var since = ledger["done_since"]?.array?.compactMap(\.string) ?? []
      if !since.contains(id) {
        since.append(id)
        ledger["done_since"] = .array(since.map { JSON($0) })
        ledger["done"] = JSON(min((ledger["done"]?.int ?? 0) + 1, ledger["total"]?.int ?? .max))
      }
      if let running = ledger["running"], let started = running[id]?["at"]?.double {
        running[id] = nil
        let seconds = now.timeIntervalSince1970 - started
        if completed && seconds > 0 {
          ledger["seconds"] = JSON((ledger["seconds"]?.double ?? 0) + seconds)
          ledger["timed"] = JSON((ledger["timed"]?.int ?? 0) + 1)
        }
      }
      // The last section: the figure is worked out now, whatever the time (it is 0).
      let last = (ledger["done"]?.int ?? 0) >= (ledger["total"]?.int ?? 0)
      reschedule(ledger, run: run, now: now, force: last)
      return ledger
    }
  }

  /// Works the schedule out again when a second has passed since it last was (or the clock went
  /// back): the sections done since then join the schedule's, and the count becomes exact.
  static func reschedule(_ ledger: JSON, run: RunLayout, now: Date, force: Bool = false) {
    if !force, let at = ledger["eta"]?["at"]?.double {
      let since = now.timeIntervalSince1970 - at
      if since >= 0 && since < 1 { return }
    }
    guard let schedule = JSON.readObject(run.schedule) else { return }
    let since = ledger["done_since"]?.array?.compactMap(\.string) ?? []
    if !since.isEmpty {
      var done = Set(schedule["done"]?.array?.compactMap(\.string) ?? [])
      done.formUnion(since)
      schedule["done"] = .array(done.sorted().map { JSON($0) })
      try? AtomicFile.write(schedule.compactText + "\n", to: run.schedule, durable: false)
      ledger["done"] = JSON(done.count)
      ledger["done_since"] = .array([])
    }
    estimate(ledger, schedule: schedule, now: now)
  }

  /// Waits while a section placed before `order` in the document is under way in this run.
  ///
  /// The duplicate rule judges a section against the ones before it, whatever J is. It waits at
  /// most `limit` seconds and returns at once outside a run. A section before it that has not
  /// started is not waited for: make starts sections in order, so that one waits on something
  /// else.
  public static func awaitEarlier(
    run: RunLayout, order: Int, id: String, limit: Double = 300,
    pause: @Sendable () -> Void = { usleep(50_000) }
  ) {
    let start = Date()
    while Date().timeIntervalSince(start) < limit {
      // A paused or interrupted run starts nothing more: what is under way may never be saved.
      if access(run.paused, F_OK) == 0 || access(run.interrupted, F_OK) == 0 { return }
      guard let ledger = ledger(run) else { return }
      let busy = (ledger["running"]?.members ?? []).contains { other, entry in
        other != id && (entry["order"]?.int ?? .max) < order
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
  ///
  /// The schedule is worked out when a section starts or ends and kept in the ledger (`eta`: the
  /// seconds and when); every view counts down from it, so the events, the live block and `make
  /// status` give the same figure at the same moment.
  public static func eta(run: RunLayout, now: Date = Date()) -> Double? {
    ledger(run).flatMap { stored(ledger: $0, now: now) }
  }

  /// The kept estimate, counted down to `now`.
  static func stored(ledger: JSON, now: Date) -> Double? {
    guard let kept = ledger["eta"], let seconds = kept["s"]?.double, let at = kept["at"]?.double
    else { return nil }
    let left = max(0, seconds - (now.timeIntervalSince1970 - at))
    return (left * 10).rounded() / 10
  }

  /// Works out the schedule and keeps it in the ledger.
  static func estimate(_ ledger: JSON, schedule: JSON, now: Date) {
    let seconds = eta(ledger: ledger, schedule: schedule, now: now)
    let kept = JSON.object(["at": JSON(now.timeIntervalSince1970)])
    if let seconds { kept["s"] = JSON(seconds) }
    ledger["eta"] = kept
  }

  /// Seconds until the run ends, from `ledger` and `schedule` at `now`.
  static func eta(ledger: JSON, schedule: JSON, now: Date) -> Double? {
    let timed = ledger["timed"]?.int ?? 0
    guard
      let mean = timed > 0
        ? (ledger["seconds"]?.double ?? 0) / Double(timed) : ledger["prior_mean"]?.double,
      mean > 0
    else { return nil }
    let uses = schedule["uses"]
    let sections: [ETA.Section] = (schedule["stage_of"]?.members ?? []).map { id, _ in
      (id, uses?[id]?.array?.compactMap(\.string) ?? [])
    }
    let done = Set(schedule["done"]?.array?.compactMap(\.string) ?? [])
    var running: [String: Double] = [:]
    for (id, entry) in ledger["running"]?.members ?? [] {
      if let started = entry["at"]?.double { running[id] = now.timeIntervalSince1970 - started }
    }
    let seconds = ETA.seconds(
      sections: sections, done: done, running: running, mean: mean,
      jobs: max(1, ledger["jobs"]?.int ?? 4))
    return (seconds * 10).rounded() / 10
  }

  /// The event for section `id` at `phase`, for the run `run`.
  public static func event(run: RunLayout, id: String, phase: String, doc: String?) -> JSON {
    let ledger = ledger(run)
    return Event.make(
      .progress, doc: doc,
      fields: [
        "id": JSON(id), "phase": JSON(phase), "items_total": JSON(ledger?["total"]?.int ?? 0),
        "items_processed": JSON(ledger?["done"]?.int ?? 0), "current_item": JSON(id),
        "eta_s": ledger.flatMap { stored(ledger: $0, now: Date()) }.map { JSON($0) } ?? .null,
      ])
  }
}
