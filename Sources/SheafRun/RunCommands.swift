import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// The run-directory steps of a staged run (`pipelines/sheaf.mk` calls them).
public enum RunCommands {
  // MARK: - prepare

  /// What `prepare` is asked to do.
  public struct PrepareOptions {
    /// The plan, and the root of the run directories.
    public var planPath: String
    public var runs: String
    /// The plan's mode (`nil`: its default).
    public var mode: String?
    /// Regenerate over people's edits.
    public var force = false
    /// Regenerate this section, and with `cascade`: `yes` (what uses it), `no`, or chosen ids.
    public var regenerate: String?
    public var cascade = "yes"
    /// A note for the regenerated section, kept as its instructions until cleared (`nil`: keep
    /// the note it has).
    public var note: String?
    public var clearNote = false
    /// Say what would be asked, and its estimated cost; change nothing.
    public var dryRun = false
    /// Let the plan read files outside its folder.
    public var allowOutside = false
    /// build-prompt's options as the run gives them (PROMPT_FLAGS), so fingerprints match.
    public var prompts = PromptOptions()
    /// Prices, for the estimate.
    public var prices = PriceList()
    /// `ONLY=a,b`: the sections to build (checked here: known ids, not none).
    public var only: [String]?

    /// Options for a plan and a root of run directories.
    public init(planPath: String, runs: String) {
      self.planPath = planPath
      self.runs = runs
    }
  }

  /// Gets a run ready: finishes what a killed run left half-saved, writes `run.json`,
  /// `plan.ndjson` and `sections.mk`, adopts people's edits, and clears what must be built again:
  /// sections that did not complete, sections whose fingerprint would change (each said with its
  /// reason, the old result kept as a version), and the sections a regeneration asks for.
  ///
  /// Returns the document id.
  /// - Throws: `ToolFailure` for a bad plan, an unknown section, or a `.md` that is not UTF-8.
  public static func prepare(_ options: PrepareOptions, tool: String) throws -> String {
    let plan = try PlanReader.read(
      path: options.planPath, allowOutside: options.allowOutside || PlanPaths.allowOutside())
    let graph: SectionGraph
    do {
      graph = try SectionGraph(plan: plan, mode: options.mode)
    } catch let problems as PlanProblems {
      throw ToolFailure.usage(
        problems.lines.map { "\(plan.source): \($0)" }.joined(separator: "\n"))
    }
    let run = RunDirectory(path: "\(options.runs)/\(plan.id)")
    let dry = options.dryRun
    func change(_ work: () throws -> Void) rethrows { if !dry { try work() } }
    try change {
      do {
        try FileManager.default.createDirectory(
          atPath: run.sectionsPath, withIntermediateDirectories: true)
      } catch {
        throw ToolFailure.usage(
          "\(run.sectionsPath): cannot create the run directory: \(SystemReason.of(error))")
      }
      for id in run.recover() {
        Diagnostics.say(
          tool, "\(id): finished saving it (the last run stopped between its two files)")
      }
      run.clearInterrupted()
      run.clearPaused()
      run.resetRateLimits()
    }
    let ids = graph.sections.map(\.section.id)
    func names(_ list: [String]) -> String { list.isEmpty ? "none" : list.joined(separator: ", ") }
    if let only = options.only {
      // Checked before anything is changed: the selection is make text (section ids only).
      guard !only.isEmpty else {
        throw ToolFailure.usage("ONLY: the selection is empty (give section ids: ONLY=a,b)")
      }
      for id in only where !ids.contains(id) {
        let hint = PlanReader.closest(to: id, in: ids).map { " (did you mean '\($0)'?)" } ?? ""
        throw ToolFailure.usage("ONLY: unknown section '\(id)'\(hint)")
      }
    }

    var lines = [PlanEmitter.outlineEvent(graph)]
    for planned in graph.sections { lines.append(PlanEmitter.record(for: planned, in: graph)) }
    try change {
      // Where this run's events start, so status and watch read this run's only.
      let eventsStart =
        (try? FileManager.default.attributesOfItem(atPath: run.eventsPath)[.size] as? NSNumber)?
        .int64Value ?? 0
      let state = JSON.object()
      state["plan"] = JSON(absolutePath(options.planPath))
      state["mode"] = graph.mode.map { JSON($0) } ?? .null
      state["events_offset"] = JSON(Int(eventsStart))
      // The provider settings the run was given, so that `status` judges sections as the next
      // `make doc` with the same settings will.
      let prompt = options.prompts
      state["prompt_options"] = .object([
        "prompts": .array(prompt.promptDirs.map { JSON($0) }),
        "set": prompt.set.map { JSON($0) } ?? .null, "lax": JSON(prompt.lax),
        "max_input_tokens": prompt.maxInputTokens.map { JSON($0) } ?? .null,
        "outline": JSON(prompt.outline),
      ])
      let environment = options.prompts.environment
      for variable in RunDirectory.settingVariables {
        if let value = environment[variable], !value.isEmpty { state[variable] = JSON(value) }
      }
      try AtomicFile.write(state.compactText + "\n", to: run.statePath)
      try AtomicFile.write(lines.map { $0.compactText + "\n" }.joined(), to: run.planPath)
      try AtomicFile.write(
        PlanEmitter.makefile(graph, sections: graph.sections), to: "\(run.path)/sections.mk")
      // What the plan holds for review now (a section's stored record says what it was built as).
      try run.setReviewed(
        graph.sections.map(\.section).filter { section in
          section.extra.contains { $0.key == "review" && $0.value.bool == true }
        }.map(\.id))
    }

    // Sections to build again whatever their fingerprint: cleared only after every section has
    // been judged against what is stored now (a cleared one would read as gone to its users).
    var regenerated: [String] = []
    // A record that does not parse is rebuilt, never mistaken for a person's edit.
    for id in ids {
      if case .damaged = run.stored(id) {
        Diagnostics.say(
          tool, "\(id): \(run.recordPath(id)) is damaged (not one JSON record); it is rebuilt")
        regenerated.append(id)
      }
    }
    // A person's edit: kept as the section's record; what uses it is stale through its content.
    for planned in graph.sections where try run.hasFreshEdit(planned.section.id) {
      let id = planned.section.id
      if options.force {
        Diagnostics.say(tool, "\(id): FORCE=1, so your edit of \(id).md will be regenerated over")
        regenerated.append(id)
        continue
      }
      let record = PlanEmitter.record(for: planned, in: graph)
      record["status"] = JSON(SectionStatus.completed.rawValue)
      record["content"] = JSON((try run.markdown(id) ?? "").trimmed)
      record["source"] = JSON("human")
      try change {
        try run.archive(id)
        try AtomicFile.write(record.compactText + "\n", to: run.recordPath(id))
      }
      Diagnostics.say(tool, "\(id): your edit is kept (source: human)")
    }

    if let section = options.regenerate {
      guard ids.contains(section) else {
        let hint = PlanReader.closest(to: section, in: ids).map { " (did you mean '\($0)'?)" } ?? ""
        throw ToolFailure.usage("SECTION: unknown section '\(section)'\(hint)")
      }
      let users = graph.affected(by: section).map(\.section.id)
      let chosen: [String]
      switch options.cascade.lowercased() {
      case "yes", "true", "1", "": chosen = users
      case "no", "false", "0": chosen = []
      default:
        chosen = commaSeparated([options.cascade])
        for id in chosen where !users.contains(id) {
          throw ToolFailure.usage(
            "CASCADE: '\(id)' does not use '\(section)' (the sections that do: \(names(users)))")
        }
      }
      Diagnostics.say(
        tool,
        "regenerating \(section)"
          + (chosen.isEmpty
            ? " only" : " and \(names(chosen))")
          + (users.isEmpty ? "" : " (the sections that use it: \(names(users)))"))
      try change {
        if options.clearNote {
          try run.setNote(section, nil)
        } else if let note = options.note, !note.trimmed.isEmpty {
          try run.setNote(section, note)
        }
      }
      // The sections that use it and were not chosen keep their text, for this run.
      try change { try run.setKept(users.filter { !chosen.contains($0) }) }
      for id in [section] + chosen {
        if run.isHuman(id) && !options.force {
          Diagnostics.say(tool, "\(id): kept, a person wrote it (FORCE=1 regenerates it)")
        } else {
          regenerated.append(id)
        }
      }
    }

    // Built from exactly what it would be built from now: every section is judged against the
    // sections as they are stored, before anything is cleared.
    if options.regenerate == nil { try change { try run.setKept([]) } }
    // Only what the regeneration names is asked again over the cache; what follows from it is
    // asked only when its request changed.
    try change { try run.setRefresh(options.regenerate == nil ? [] : regenerated) }
    let freshness = Freshness(run: run, prompts: options.prompts)
    var verdicts = freshness.verdicts(lines, render: dry)
    for index in verdicts.indices where regenerated.contains(verdicts[index].id) {
      verdicts[index].verdict = .toBuild("regenerated")
    }
    // ONLY=a,b: the selection and what it needs are built; the rest is left as it is.
    if let only = options.only {
      var uses: [String: [String]] = [:]
      for planned in graph.sections {
        uses[planned.section.id] = planned.section.dependsOn + planned.section.context
      }
      var selected = Set(only)
      var pending = only
      while let next = pending.popLast() {
        for used in uses[next] ?? [] where selected.insert(used).inserted { pending.append(used) }
      }
      verdicts = verdicts.filter { selected.contains($0.id) }
    }
    var staleByReason: [(reason: String, ids: [String])] = []
    for (id, verdict, _, _) in verdicts {
      if case .stale(let reasons) = verdict {
        let reason = reasons.joined(separator: "; ")
        if let index = staleByReason.firstIndex(where: { $0.reason == reason }) {
          staleByReason[index].ids.append(id)
        } else {
          staleByReason.append((reason, [id]))
        }
      } else if !regenerated.contains(id) {
        continue
      }
      try change {
        try run.archive(id)
        run.clear(id)
      }
    }
    // Each reason once: a few sections by name, many counted.
    for (reason, stale) in staleByReason {
      let who =
        stale.count <= 3
        ? stale.joined(separator: ", ")
        : "\(stale.count) sections (\(stale.prefix(3).joined(separator: ", ")), …)"
      Diagnostics.say(
        tool, "\(who): stale (\(reason)); \(stale.count == 1 ? "it is" : "they are") built again")
    }
    // What did not complete is asked for again.
    for (id, verdict, _, _) in verdicts {
      if case .toBuild = verdict { change { run.clear(id) } }
    }
    if dry {
      let forecast = Forecast(verdicts: verdicts, run: run, prices: options.prices)
      try RecordWriter().writeText(Self.describe(forecast))
      return plan.id
    }
    let done = ids.filter { run.record($0) != nil }.count
    // The progress ledger: each section's stage, and what is done before the run starts.
    RunProgress.start(
      runPath: run.path, stages: graph.sections.map { ($0.section.id, $0.stage) },
      done: ids.filter { id in
        run.record(id)?["status"]?.string.map { ["completed", "failed", "skipped"].contains($0) }
          ?? false
      })
    try EventLog.append(
      Event.make(
        .progress, doc: plan.id,
        fields: [
          "phase": JSON("INIT"), "items_total": JSON(ids.count), "items_processed": JSON(done),
        ]),
      to: run.eventsPath)
    return plan.id
  }

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
    return out + "next make doc: \(total)\n"
  }

  /// A file's modification time, in seconds.
  private static func modified(_ path: String) -> Double? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
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
    guard let state = run.state else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    try RecordWriter().writeText((state[key]?.string ?? "") + "\n")
    return .completed
  }

  // MARK: - lock

  /// The run directory of a plan (`runs/<doc>`), created when missing.
  /// - Throws: `ToolFailure` for a bad plan or a folder that cannot be created.
  public static func runDirectory(plan: String, runs: String) throws -> RunDirectory {
    let id = try PlanReader.read(path: plan, allowOutside: true).id
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
        "lock: descriptor \(fd) is not open (open it on \(run.lockPath) first: exec \(fd)>>FILE)")
    }
    if flock(fd, LOCK_EX | LOCK_NB) != 0 {
      var buffer = [UInt8](repeating: 0, count: 200)
      let reader = open(run.lockPath, O_RDONLY | O_CLOEXEC)
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
            "\(run.lockPath): cannot lock: \(String(cString: strerror(errno)))")
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
      return "\(label)  \(when)  \(source)  \(words) words  \(first)\n"
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
  public static func deps(run: RunDirectory, force: Bool) throws -> ExitStatus {
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
          record.status = .cancelled
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
              "read \(run.sectionsPath)/\(waiting).md, then sheaf-run approve --run \(run.path) \(waiting) (or edit it) and make doc again"
          )
        }
        if record.status == nil || record.status == .pending,
          let error = dependencyFailure(record, run: run)
        {
          record.status = .skipped
          record.error = error
        }
        if record.status == nil || record.status == .pending, let id = record.id {
          try? EventLog.append(
            RunProgress.event(runPath: run.path, id: id, phase: "PREP", doc: record.doc),
            to: run.eventsPath)
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
          [.modificationDate: now], ofItemAtPath: run.recordPath(id))
        Diagnostics.say(tool, "✎ \(id) (kept, a person wrote it)")
        saved += 1
        return
      }
      try? EventLog.append(
        RunProgress.event(runPath: run.path, id: id, phase: "SAVE", doc: record.doc),
        to: run.eventsPath)
      try run.save(record.json)
      RunProgress.finish(
        runPath: run.path, id: id, completed: record.status == .completed,
        seconds: record.json["timing"]?["seconds"]?.double)
      try? EventLog.append(
        RunProgress.event(runPath: run.path, id: id, phase: "DONE", doc: record.doc),
        to: run.eventsPath)
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
        // A validation failure says what was wrong; others say what to do.
        let detail = error?.type == .validation ? error?.message : (error?.hint ?? error?.message)
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
              to: run.eventsPath)
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
