import Foundation

/// The `progress` event of one section of a staged run, at one phase of its pipeline (`PREP` in
/// `sheaf-run deps`, `AI_CALL` and `PARSE` in call-llm, `SAVE` and `DONE` in `sheaf-run save`),
/// with the document's counts and an ETA that follows the stages: the sections left in each
/// stage run `J` at a time (the ledger's `jobs`), one stage after another, at the mean time a section
/// has taken so far.
public enum RunProgress {
  /// The phases, in order.
  public static let phases = ["INIT", "PREP", "AI_CALL", "PARSE", "SAVE", "DONE"]

  /// Starts the ledger of a run (`progress.json`).
  ///
  /// It holds the stage of each section, the sections already done, and how many run at once
  /// (`jobs`, make's J). Every event reads it in one go, so that an event costs the size of that
  /// file, not a read of every section.
  public static func start(
    run: RunLayout, stages: [(id: String, stage: Int)], done: [String], jobs: Int
  ) {
    LockedFile.update(run.progress, exclusive: true) { _ in
      let ledger = JSON.object()
      let stageOf = JSON.object()
      for (id, stage) in stages { stageOf[id] = JSON(stage) }
      ledger["stage_of"] = stageOf
      ledger["done"] = .array(done.map { JSON($0) })
      ledger["seconds"] = JSON(0)
      ledger["timed"] = JSON(0)
      ledger["jobs"] = JSON(jobs)
      return ledger
    }
  }

  /// Records that section `id` ended (`completed` or not), and how long it took.
  public static func finish(run: RunLayout, id: String, completed: Bool, seconds: Double?) {
    LockedFile.update(run.progress, exclusive: true) { ledger in
      guard let ledger, ledger["stage_of"] != nil else { return nil }
      var done = Set(ledger["done"]?.array?.compactMap(\.string) ?? [])
      // Done means finished, as the status counts it: completed, failed or skipped.
      done.insert(id)
      ledger["done"] = .array(done.sorted().map { JSON($0) })
      if completed, let seconds, seconds > 0 {
        ledger["seconds"] = JSON((ledger["seconds"]?.double ?? 0) + seconds)
        ledger["timed"] = JSON((ledger["timed"]?.int ?? 0) + 1)
      }
      return ledger
    }
  }

  /// The event for section `id` at `phase`, for the run `run`.
  public static func event(run: RunLayout, id: String, phase: String, doc: String?) -> JSON {
    var ledger: JSON?
    LockedFile.update(run.progress, exclusive: false) { current in
      ledger = current?.copy()
      return nil
    }
    let stageOf = ledger?["stage_of"]?.members ?? []
    let done = Set(ledger?["done"]?.array?.compactMap(\.string) ?? [])
    let jobs = max(1, ledger?["jobs"]?.int ?? 4)
    var left: [Int: Int] = [:]
    for (section, stage) in stageOf where !done.contains(section) {
      left[stage.int ?? 1, default: 0] += 1
    }
    let timed = ledger?["timed"]?.int ?? 0
    let mean = timed > 0 ? (ledger?["seconds"]?.double ?? 0) / Double(timed) : nil
    let rounds = left.values.reduce(0) { $0 + ($1 + jobs - 1) / jobs }
    return Event.make(
      .progress, doc: doc,
      fields: [
        "id": JSON(id), "phase": JSON(phase), "items_total": JSON(stageOf.count),
        "items_processed": JSON(done.count), "current_item": JSON(id),
        "eta_s": mean.map { JSON((Double(rounds) * $0 * 10).rounded() / 10) } ?? .null,
      ])
  }
}
