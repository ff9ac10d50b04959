import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// The run-directory steps of a staged run (`pipelines/sheaf.mk` calls them).
public enum RunCommands {
  /// The next run's requests in words: one line each, then the total.
  static func describe(_ forecast: Forecast) -> String {
    var out = ""
    for item in forecast.items {
      let cost = item.cost.map { String(format: ", ~$%.4f", $0) } ?? ""
      out +=
        "would ask: \(item.id) (\(item.reason)) ~\(item.inputTokens) in / ~\(item.outputTokens) out tokens\(cost)\n"
    }
    let count = forecast.items.count
    var total = "\(count) request\(count == 1 ? "" : "s")"
    if let cost = forecast.cost, count > 0 { total += String(format: ", about $%.4f", cost) }
    if count > 0 && forecast.cost == nil { total += " (no price known: set llm.price or --prices)" }
    if !forecast.mayFollow.isEmpty {
      total +=
        "; then, if their content changes: \(forecast.mayFollow.joined(separator: ", "))"
    }
    for (id, upTo) in forecast.revisions {
      total +=
        "; then the continuity pass of \(id): up to \(upTo) revision request\(upTo == 1 ? "" : "s") (one per section its answer asks to change)"
    }
    return out + "next make doc: \(total)\n"
  }

  /// `path` made absolute against the current folder.
  static func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") || path == "-" { return path }
    return FileManager.default.currentDirectoryPath + "/" + path
  }

  /// The plan or mode of the last run in `run` (`plan`, `mode`), for `make regen`; or the ids of
  /// its mode's sections (`sections`), for the merge.
  public static func info(run: RunDirectory, key: String) throws -> ExitStatus {
    if key == "sections" {
      let ids = run.plannedRecords().compactMap { $0["id"]?.string }
      try RecordWriter().writeText(ids.map { $0 + "\n" }.joined())
      return .completed
    }
    if key == "batched" {
      // The sections whose answer comes in a provider batch's next wave (make docs BATCH=1).
      let ids = run.plannedRecords().compactMap { $0["id"]?.string }.filter {
        run.record($0)?["error"]?["type"]?.string == ErrorType.batchPending.rawValue
      }
      try RecordWriter().writeText(ids.map { $0 + "\n" }.joined())
      return .completed
    }
    if key == "targets" {
      // ONLY= as prepare checked it (known section ids), else every section.
      let only = run.state?["only"]?.array?.compactMap(\.string).filter(Slug.isValid)
      let targets = only.map { $0.map { "sections/\($0).json" } } ?? ["sheaf-sections"]
      try RecordWriter().writeText(targets.joined(separator: " ") + "\n")
      return .completed
    }
    guard let state = run.state else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    try RecordWriter().writeText((state[key]?.string ?? "") + "\n")
    return .completed
  }

  // MARK: - lock

  /// The run directory of a plan (`runs/<doc>`), or of one document of it (`runs/<document>`),
  /// created when missing.
  /// - Throws: `ToolFailure` for a bad plan or a folder that cannot be created.
  public static func runDirectory(plan: String, runs: String, document: String? = nil) throws
    -> RunDirectory
  {
    let id = try document ?? PlanReader.read(path: plan, allowOutside: true).id
    let run = RunDirectory(path: "\(runs)/\(id)")
    do {
      try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
    } catch {
      throw ToolFailure.usage(
        "\(run.path): cannot create the run directory: \(SystemReason.of(error))")
    }
    return run
  }

  /// Takes the run's lock: one `make doc` or `make regen` per document at a time.
  ///
  /// The lock is taken on descriptor `fd`, which the calling shell opened on `runs/<doc>/.lock`
  /// (`exec 9>>runs/prd/.lock`). A second run waits for the first, saying so, or with
  /// `wait: false` refuses in one line.
  ///
  /// A `flock` belongs to the open file, which the shell and every process it starts share: the
  /// lock stays after this step exits and dies with the last of them (kill -9 included).
  /// - Throws: `ToolFailure` when the lock is held and `wait` is false, or cannot be taken.
  public static func lock(run: RunDirectory, fd: Int32, wait: Bool, tool: String) throws
    -> ExitStatus
  {
    guard fcntl(fd, F_GETFD) >= 0 else {
      throw ToolFailure.usage(
        "lock: descriptor \(fd) is not open (open it on \(run.layout.lock) first: exec \(fd)>>FILE)"
      )
    }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      var buffer = [UInt8](repeating: 0, count: 200)
      let reader = open(run.layout.lock, O_RDONLY | O_CLOEXEC)
      let count = reader >= 0 ? max(0, read(reader, &buffer, buffer.count)) : 0
      if reader >= 0 { close(reader) }
      let holder = String(decoding: buffer[0..<count], as: UTF8.self).trimmed
      let who = holder.isEmpty ? "another run" : "another run (\(holder))"
      guard wait else {
        throw ToolFailure.usage("\(run.path) is in use by \(who); run again when it has finished")
      }
      Diagnostics.say(tool, "\(run.path) is in use by \(who); waiting for it to finish")
      while flock(fd, LOCK_EX) != 0 {
        guard errno == EINTR else {
          throw ToolFailure.usage(
            "\(run.layout.lock): cannot lock: \(String(cString: strerror(errno)))")
        }
      }
      Diagnostics.say(tool, "\(run.path): the other run has finished; going on")
    }
    let holder = Array("pid \(getppid()), since \(Event.timestamp())\n".utf8)
    _ = ftruncate(fd, 0)
    _ = holder.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    return .completed
  }

  // MARK: - fresh

  /// After build-prompt: a record whose fingerprint is the one its stored result was built with
  /// is replaced by that result (so nothing is asked, and what uses it sees it unchanged); every
  /// other record passes through.
  public static func fresh(run: RunDirectory, tool: String) throws -> ExitStatus {
    let writer = RecordWriter()
    let kept = run.kept()
    try FilterLoop.forEach(inputs: []) { item, _ in
      switch item {
      case .event(_, let line): try writer.writeLine(line)
      case .record(let record):
        if record.status == .pending, let id = record.id, kept.contains(id),
          let stored = run.record(id), stored["status"]?.string == SectionStatus.completed.rawValue
        {
          // Not chosen for regeneration: it keeps its text, now counted as built from what is
          // there (so it is not stale later either).
          stored["fingerprint"] = record.json["fingerprint"]?.copy()
          Diagnostics.say(tool, "\(id): kept as it is (not chosen for regeneration)")
          RunProgress.passOn(run: run.layout, id: id)
          try writer.write(stored)
          return
        }
        guard record.status == .pending, let id = record.id, let stored = run.record(id),
          stored["status"]?.string == SectionStatus.completed.rawValue,
          stored["source"]?.string != "human",
          let now = record.json["fingerprint"]?["value"]?.string,
          stored["fingerprint"]?["value"]?.string == now
        else {
          try writer.write(record.json)
          return
        }
        Diagnostics.say(tool, "\(id): up to date (what it is built from has not changed)")
        RunProgress.passOn(run: run.layout, id: id)
        try writer.write(stored)
      }
    }
    return .completed
  }

  // MARK: - versions

  /// Lists the kept versions of a section, and the current one.
  public static func versions(run: RunDirectory, id: String) throws -> ExitStatus {
    guard Slug.isValid(id) else { throw ToolFailure.usage("versions: '\(id)' is not a section id") }
    func line(_ label: String, _ record: JSON?, _ text: String?) -> String {
      let content = text ?? record?["content"]?.string ?? ""
      let words = content.split(whereSeparator: { $0.isWhitespace }).count
      let first = content.split(separator: "\n").first.map { String($0.prefix(60)) } ?? ""
      let when = record?["archived_at"]?.string ?? record?["timing"]?["started_at"]?.string ?? ""
      let source = record?["source"]?.string ?? "llm"
      let note = record?["note"]?.string.map { "  note: \"\($0)\"" } ?? ""
      return "\(label)  \(when)  \(source)  \(words) words  \(first)\(note)\n"
    }
    var out = ""
    for number in run.versions(id) {
      out += line(String(number), run.version(id, number), nil)
    }
    if let current = run.record(id) {
      out += line("current", current, try run.markdown(id))
    }
    if out.isEmpty { out = "\(id): no result and no versions yet\n" }
    try RecordWriter().writeText(out)
    return .completed
  }

  /// Makes version `number` the section's result again, kept as a person's choice (`source:
  /// human`, so no later run regenerates over it without FORCE=1); the current result becomes a
  /// version.
  public static func restore(run: RunDirectory, id: String, number: Int, tool: String) throws
    -> ExitStatus
  {
    guard Slug.isValid(id), let version = run.version(id, number),
      let content = version["content"]?.string
    else {
      let known = run.versions(id).map(String.init).joined(separator: ", ")
      throw ToolFailure.usage(
        "restore: section '\(id)' has no version \(number) (kept: \(known.isEmpty ? "none" : known))"
      )
    }
    // The current result is kept as a version by the save (its text differs).
    version["archived_at"] = nil
    version["status"] = JSON(SectionStatus.completed.rawValue)
    version["source"] = JSON("human")
    version["content"] = JSON(content.trimmed)
    try run.save(version)
    Diagnostics.say(
      tool,
      "\(id): version \(number) restored (kept as a person's choice; the sections that use it follow it on the next make doc)"
    )
    return .completed
  }

  // MARK: - deps

  /// Marks a pending record `skipped` (`dependency_failed`) when a `depends_on` section has no
  /// completed record in the run directory.
  ///
  /// A section a person wrote comes out as that person's
  /// record (completed, `source: human`) unless `force`, so nothing after it asks a model.
  /// Everything else passes through.
  /// - Throws: `ToolFailure` for malformed input or a closed output.
  public static func deps(run: RunDirectory, force: Bool, starts: Bool = true) throws
    -> ExitStatus
  {
    let writer = RecordWriter()
    let gate = RunDirectory.ReviewGate(run: run)
    try FilterLoop.forEach(inputs: []) { item, _ in
      switch item {
      case .event(_, let line): try writer.writeLine(line)
      case .record(let record):
        if !force, let id = record.id, run.isHuman(id), let kept = run.record(id) {
          try writer.write(kept)
          return
        }
        if record.status == nil || record.status == .pending, run.wasPaused {
          // Paused: what runs finishes, nothing new starts; the next make doc resumes.
          record.status = .paused
          record.error = SheafError(
            .cancelled, "the run was paused before this section started", retryable: true,
            hint: "run make doc again to resume: completed sections are kept")
          try writer.write(record.json)
          return
        }
        if record.status == nil || record.status == .pending, run.wasInterrupted {
          // The run was interrupted: nothing new starts, whether or not make saw the signal.
          record.status = .cancelled
          record.error = SheafError(
            .cancelled, "the run was interrupted before this section started", retryable: true,
            hint: "run make doc again: completed sections are kept")
          try writer.write(record.json)
          return
        }
        if record.status == nil || record.status == .pending {
          _ = run.withNote(record.json)
        }
        if record.status == nil || record.status == .pending,
          let waiting = (record.dependsOn + record.context).first(where: { gate.awaits($0) })
        {
          // Held for a person: not a failure, and built by the first make doc after approval.
          record.status = .skipped
          record.error = SheafError(
            .awaitingReview, "waits for a person to approve '\(waiting)'", retryable: true,
            hint:
              "read \(run.layout.sections)/\(waiting).md, then sheaf-run approve --run \(run.path) \(waiting) (or edit it) and make doc again"
          )
        }
        if record.status == nil || record.status == .pending,
          let error = dependencyFailure(record, run: run)
        {
          record.status = .skipped
          record.error = error
        }
        if starts, record.status == nil || record.status == .pending, let id = record.id {
          RunProgress.begin(run: run.layout, id: id, order: record.json["order"]?.int)
          try? EventLog.append(
            RunProgress.event(run: run.layout, id: id, phase: "PREP", doc: record.doc),
            to: run.layout.events)
        }
        try writer.write(record.json)
      }
    }
    return .completed
  }

  /// Why a section must be skipped for the sections it uses, under its `on_dependency_failure`
  /// policy; `nil` when it goes on.
  static func dependencyFailure(_ record: Record, run: RunDirectory) -> SheafError? {
    func status(_ id: String) -> String? { run.record(id)?["status"]?.string }
    let completed = SectionStatus.completed.rawValue
    // The budget ran out before a section it uses was asked: whatever the policy, nothing more is
    // spent on a section built on what was not written.
    for used in record.dependsOn + record.context {
      guard let stored = run.record(used), stored["status"]?.string == "skipped" else { continue }
      if stored["error"]?["type"]?.string == ErrorType.batchPending.rawValue {
        // Its answer comes in the provider's next batch wave: this one waits, asking nothing.
        return SheafError(
          .batchPending, "uses '\(used)', whose answer comes in the next batch wave",
          retryable: true, hint: "make docs BATCH=1 asks it in the wave after")
      }
      guard stored["error"]?["type"]?.string == ErrorType.quota.rawValue else { continue }
      return SheafError(
        .dependencyFailed, "uses '\(used)', which was skipped for the budget", retryable: true,
        hint: "raise BUDGET (or llm.max_cost) and run again: skipped sections are retried")
    }
    let policy =
      record.json["on_dependency_failure"]?.string.flatMap(DependencyPolicy.init(rawValue:))
      ?? .skip
    switch policy {
    case .continue:
      return nil
    case .any:
      let used = record.dependsOn + record.context
      guard !used.isEmpty, !used.contains(where: { status($0) == completed }) else { return nil }
      return SheafError(
        .dependencyFailed,
        "none of the sections it uses completed (\(used.map { "'\($0)'" }.joined(separator: ", ")))",
        retryable: true, hint: "fix them and run again: skipped sections are retried")
    case .skip:
      for dependency in record.dependsOn {
        let found = status(dependency)
        guard found != completed else { continue }
        let why =
          found.map { "which \($0 == "skipped" ? "was skipped" : "is \($0)")" }
          ?? "which has no result"
        return SheafError(
          .dependencyFailed, "depends on '\(dependency)', \(why)", retryable: true,
          hint: "fix '\(dependency)' and run again: skipped sections are retried")
      }
      return nil
    }
  }

  // MARK: - save

  /// Writes each record into the run directory (a person's section is kept unless `force`), says
  /// how each went, and logs failures that happened before any model was asked.
  /// - Throws: `ToolFailure` when nothing arrived (so make sees the section fail) or a file cannot
  ///   be written.
  public static func save(run: RunDirectory, force: Bool, tool: String) throws -> ExitStatus {
    var saved = 0
    try FilterLoop.forEach(inputs: []) { item, _ in
      guard case .record(let record) = item, let id = record.id else { return }
      if !force && run.isHuman(id) && record.json["source"]?.string != "human" {
        Diagnostics.say(tool, "\(id): kept, a person wrote it (FORCE=1 regenerates it)")
        saved += 1
        return
      }
      if record.json["source"]?.string == "human" && record.status == .completed {
        // A person's section passed through: its files stay exactly as the person left them.
        let now = Date()
        try? FileManager.default.setAttributes(
          [.modificationDate: now], ofItemAtPath: run.layout.record(id))
        Diagnostics.say(tool, "✎ \(id) (kept, a person wrote it)")
        saved += 1
        return
      }
      try? EventLog.append(
        RunProgress.event(run: run.layout, id: id, phase: "SAVE", doc: record.doc),
        to: run.layout.events)
      try run.save(record.json)
      // A section that was asked, answered or not, took the time a section takes; an answer
      // from the cache, or a section skipped or cancelled, did not.
      RunProgress.finish(
        run: run.layout, id: id,
        completed: (record.status == .completed || record.status == .failed)
          && record.json["cache"]?.string != "hit")
      try? EventLog.append(
        RunProgress.event(run: run.layout, id: id, phase: "DONE", doc: record.doc),
        to: run.layout.events)
      saved += 1
      let json = record.json
      if record.status == .cancelled && !run.wasPaused { run.markInterrupted() }
      // Under make doc's live view, the view shows each section: no line of its own.
      if ProcessInfo.processInfo.environment["SHEAF_LIVE"] == "1" { return }
      switch record.status {
      case .completed:
        let seconds = json["timing"]?["seconds"]?.double.map { String(format: "%.1f s", $0) } ?? "-"
        let tokens = json["usage"]?["output_tokens"]?.int.map { "\($0) tokens" } ?? ""
        let cached = json["cache"]?.string == "hit" ? ", cached" : ""
        Diagnostics.say(tool, "✓ \(id) (\(seconds)\(tokens.isEmpty ? "" : ", " + tokens)\(cached))")
      case .skipped where record.error?.type == .awaitingReview:
        Diagnostics.say(tool, "⏸ \(id): \(record.error?.message ?? "waits for review")")
      default:
        let error = record.error
        // What went wrong, where (the file, line and field a tool named), then what to do.
        let detail = error?.shown
        Diagnostics.say(
          tool,
          "✗ \(id): \(record.status?.rawValue ?? "?") (\(error?.type.rawValue ?? "?")): \(detail ?? "")"
        )
        if json["attempts"] == nil, let error {
          // A side log: failing to write it never undoes the saved record.
          do {
            try EventLog.append(
              Event.make(
                .sectionFailed, doc: record.doc, fields: ["id": JSON(id), "error": error.json]),
              to: run.layout.events)
          } catch let failure as ToolFailure {
            Diagnostics.say(tool, "warning: \(failure.message)")
          }
        }
      }
    }
    guard saved > 0 else {
      throw ToolFailure(
        .someFailed,
        "no record arrived to save (an earlier tool in the pipeline failed; see its message above)")
    }
    return .completed
  }
}
