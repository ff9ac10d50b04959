import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

extension RunCommands {
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
    /// build-prompt's flags as the run gives them (PROMPT_FLAGS), stored for every tool.
    public var prompts = PromptSettings()
    /// The request settings call-llm's flags give (CALL_FLAGS), stored for every tool.
    public var request: JSON?
    /// The rules that only warn (WARN=), stored for every tool; `nil`: the ones the run stored.
    public var warn: [String]?
    /// The run's budget in USD (BUDGET=), stored for call-llm.
    public var budget: Double?
    /// Sections at once (J=), for the ETA.
    public var jobs = 4
    /// Forget the settings earlier runs were given (FORGET=1).
    public var forget = false
    /// Prices, for the estimate.
    public var prices = PriceList()
    /// `ONLY=a,b`: the sections to build (checked here: known ids, not none).
    public var only: [String]?
    /// One document of the plan (`DOC=`, a row of `make docs`): its run is `<runs>/<document>`,
    /// and its `row.json`, when it has one, gives its inputs.
    public var document: String?
    /// The document's row as given (a forecast of `make status ROWS=`), instead of its
    /// `row.json`.
    public var row: [(key: String, value: String)]?
    /// A document of a set: the set's shared rate-limit folder and spending ledger.
    public var set: (rate: String, ledger: String)?

    /// Options for a plan and a root of run directories.
    public init(planPath: String, runs: String) {
      self.planPath = planPath
      self.runs = runs
    }
  }

  /// Gets a run ready: finishes what a killed run left half-saved, writes `run.json` (with the
  /// settings every tool of the run reads), `plan.ndjson` and `sections.mk`, adopts people's
  /// edits, and clears what must be built again: sections that did not complete, sections whose
  /// fingerprint would change (each said with its reason, the old result kept as a version), and
  /// the sections a regeneration asks for.
  ///
  /// Returns the document id.
  /// - Throws: `ToolFailure` for a bad plan, an unknown section, or a `.md` that is not UTF-8.
  public static func prepare(_ options: PrepareOptions, tool: String) throws -> String {
    let (id, forecast) = try prepared(options, tool: tool)
    if let forecast { try RecordWriter().writeText(Self.describe(forecast)) }
    return id
  }

  /// What the next `make doc` given `options` would ask for, and its estimated cost; nothing is
  /// changed (`DRY=1`).
  public static func forecast(_ options: PrepareOptions, tool: String) throws -> Forecast {
    var options = options
    options.dryRun = true
    return try prepared(options, tool: tool).forecast ?? Forecast()
  }

  /// `prepare`, or with `dryRun` its forecast.
  static func prepared(_ options: PrepareOptions, tool: String) throws -> (
    id: String, forecast: Forecast?
  ) {
    let (plan, graph) = try readPlan(options)
    let run = RunDirectory(path: "\(options.runs)/\(plan.id)")
    try checkOwner(run, plan: plan)
    let step = PrepareStep(run: run, options: options, graph: graph, tool: tool)
    try step.change {
      DocumentSet.clearStamps(run.layout, inSet: options.set != nil)
      try step.startRun()
    }
    try step.checkOnly()
    var lines = [PlanEmitter.outlineEvent(graph)]
    for planned in graph.sections { lines.append(PlanEmitter.record(for: planned, in: graph)) }
    try step.change { try step.writeState(lines) }
    // Sections to build again whatever their fingerprint: cleared only after every section has
    // been judged against what is stored now (a cleared one would read as gone to its users).
    var regenerated = step.damaged()
    regenerated += try step.adoptEdits()
    if let section = options.regenerate {
      regenerated += try step.chooseRegeneration(section)
    } else {
      // Built from exactly what it would be built from now.
      try step.change { try run.setKept([]) }
    }
    // Only what the regeneration names is asked again over the cache; what follows from it is
    // asked only when its request changed.
    try step.change { try run.setRefresh(options.regenerate == nil ? [] : regenerated) }
    let freshness = Freshness(run: run, prompts: step.promptOptions)
    let verdicts = step.judge(lines, regenerated: regenerated, freshness: freshness)
    try step.clearStale(verdicts, regenerated: regenerated)
    if options.dryRun {
      let forecast = Forecast(
        verdicts: verdicts, run: run, prices: options.prices, options: step.promptOptions,
        summaries: freshness.pendingSummaries)
      return (plan.id, forecast)
    }
    try step.startProgress(doc: plan.id)
    return (plan.id, nil)
  }

  /// A document of a plan is not built over the run of another plan's document.
  /// - Throws: `ToolFailure.usage` naming both plans.
  static func checkOwner(_ run: RunDirectory, plan: Plan) throws {
    try checkOwner(run, plan: plan.planID ?? plan.id)
  }

  /// The run at `run` is one of the plan whose id is `plan`, or has none yet.
  /// - Throws: `ToolFailure.usage` naming both plans.
  static func checkOwner(_ run: RunDirectory, plan mine: String) throws {
    guard let first = run.plannedRecords().first,
      let owner = first["plan_id"]?.string ?? first["doc"]?.string, owner != mine
    else { return }
    throw ToolFailure.usage(
      "\(run.path): this run is a document of the plan '\(owner)', not of '\(mine)': give another DOC_ID= (or RUNS=), or remove the folder"
    )
  }

  /// The plan and its graph in the chosen mode.
  static func readPlan(_ options: PrepareOptions) throws -> (Plan, SectionGraph) {
    var plan = try PlanReader.read(
      path: options.planPath, allowOutside: options.allowOutside || PlanPaths.allowOutside())
    if let document = options.document {
      let row = try options.row ?? DocumentSet.storedRow(RunLayout("\(options.runs)/\(document)"))
      plan.document(document, row: row)
    }
    do {
      return (plan, try SectionGraph(plan: plan, mode: options.mode))
    } catch let problems as PlanProblems {
      throw ToolFailure.usage(
        problems.lines.map { "\(plan.source): \($0)" }.joined(separator: "\n"))
    }
  }
}

/// One `prepare`: its run, options and graph, and its steps in the order they run.
struct PrepareStep {
  let run: RunDirectory
  let options: RunCommands.PrepareOptions
  let graph: SectionGraph
  let tool: String

  var ids: [String] { graph.sections.map(\.section.id) }

  /// Runs `work` unless this is a dry run (which changes nothing).
  func change(_ work: () throws -> Void) rethrows { if !options.dryRun { try work() } }

  static func names(_ list: [String]) -> String {
    list.isEmpty ? "none" : list.joined(separator: ", ")
  }

  /// Creates the run directory, finishes half-saved pairs, and starts a new run: not paused, not
  /// interrupted, no lowered rate limit, nothing spent.
  func startRun() throws {
    do {
      try FileManager.default.createDirectory(
        atPath: run.layout.sections, withIntermediateDirectories: true)
    } catch {
      throw ToolFailure.usage(
        "\(run.layout.sections): cannot create the run directory: \(SystemReason.of(error))")
    }
    for id in run.recover() {
      Diagnostics.say(
        tool, "\(id): finished saving it (the last run stopped between its two files)")
    }
    run.clearInterrupted()
    run.clearPaused()
    run.resetRateLimits()
  }

  /// `ONLY=a,b`, checked before anything is changed: known ids, not none.
  func checkOnly() throws {
    guard let only = options.only else { return }
    guard !only.isEmpty else {
      throw ToolFailure.usage("ONLY: the selection is empty (give section ids: ONLY=a,b)")
    }
    for id in only where !ids.contains(id) {
      let hint = PlanReader.closest(to: id, in: ids).map { " (did you mean '\($0)'?)" } ?? ""
      throw ToolFailure.usage("ONLY: unknown section '\(id)'\(hint)")
    }
  }

  /// Writes `run.json` (the plan, mode, event offset and the settings every tool of the run
  /// reads), `plan.ndjson`, `sections.mk` and the plan's review list.
  func writeState(_ lines: [JSON]) throws {
    // Where this run's events start, so status and watch read this run's only.
    let eventsStart =
      (try? FileManager.default.attributesOfItem(atPath: run.layout.events)[.size] as? NSNumber)?
      .int64Value ?? 0
    let state = JSON.object()
    state["plan"] = JSON(RunCommands.absolutePath(options.planPath))
    state["mode"] = graph.mode.map { JSON($0) } ?? .null
    state["events_offset"] = JSON(Int(eventsStart))
    // The settings the run was given, stored once: build-prompt, call-llm, validate-format and
    // status read them from here, so every fingerprint is the one the next make doc computes.
    state["prompt_options"] = promptFlags.stored
    state["request"] = storedRequest()
    state["warn"] = JSON(warn.joined(separator: ","))
    state["budget"] = options.budget.map { JSON($0) } ?? .null
    state["jobs"] = JSON(options.jobs)
    state["only"] = options.only.map { .array($0.map { JSON($0) }) } ?? .null
    state["sections"] = JSON(graph.sections.count)
    if let set = options.set {
      state["rate"] = JSON(RunCommands.absolutePath(set.rate))
      state["ledger"] = JSON(RunCommands.absolutePath(set.ledger))
    }
    try AtomicFile.write(state.compactText + "\n", to: run.layout.state)
    try AtomicFile.write(lines.map { $0.compactText + "\n" }.joined(), to: run.layout.plan)
    try writePlanned()
    try AtomicFile.write(
      PlanEmitter.makefile(graph, sections: graph.sections, summarize: summarizing(lines)),
      to: run.layout.sectionsMakefile)
    // What the plan holds for review now (a section's stored record says what it was built as).
    try run.setReviewed(
      graph.sections.map(\.section).filter { section in
        section.extra.contains { $0.key == "review" && $0.value.bool == true }
      }.map(\.id))
  }

  /// Writes `planned/<id>.ndjson` for every section (a file whose text is already that is left
  /// alone) and removes the files of sections the plan no longer has: each section's pipeline
  /// starts from its own file, so its cost does not grow with the plan.
  func writePlanned() throws {
    try FileManager.default.createDirectory(
      atPath: run.layout.planned, withIntermediateDirectories: true)
    let index = OutlineIndex(graph)
    var names = Set<String>()
    for planned in graph.sections {
      let path = run.layout.planned(planned.section.id)
      names.insert("\(planned.section.id).ndjson")
      let text = PlanEmitter.sectionText(planned, in: graph, index: index)
      if (try? String(contentsOfFile: path, encoding: .utf8)) == text { continue }
      try AtomicFile.write(text, to: path, durable: false)
    }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: run.layout.planned)) ?? []
    where !names.contains(name) {
      try? FileManager.default.removeItem(atPath: "\(run.layout.planned)/\(name)")
    }
  }

  /// build-prompt's options as this run gives them.
  var promptOptions: PromptOptions {
    var options = run.promptOptions(given: promptFlags, request: storedRequest())
    options.warn = warn  // as this run gives it (a dry run writes no run.json)
    return options
  }

  /// What the run remembers from before (`run.json`, read before this run writes it).
  let remembered: RunSettings

  init(run: RunDirectory, options: RunCommands.PrepareOptions, graph: SectionGraph, tool: String) {
    self.run = run
    self.options = options
    self.graph = graph
    self.tool = tool
    // FORGET=1: what earlier runs were given is not remembered; only what is given now.
    remembered = options.forget ? RunSettings(state: nil) : run.layout.settings
  }

  /// PROMPT_FLAGS as given, else as the run remembers them.
  var promptFlags: PromptSettings {
    options.prompts.isEmpty ? PromptSettings(stored: remembered.promptOptions) : options.prompts
  }

  /// WARN as given, else as the run remembers it.
  var warn: [String] { options.warn ?? remembered.warn }

  /// The request settings of this run, remembered until given again.
  ///
  /// What the last run stored, under the environment's `SHEAF_*` (PROVIDER=, MODEL=, BASE_URL=,
  /// MAX_TOKENS=), under call-llm's flags (CALL_FLAGS): `status` later judges as this run did,
  /// whatever its own environment.
  func storedRequest() -> JSON {
    RunDirectory.request(remembered: remembered.request, given: options.request)
  }

  /// The sections whose prompt has a budget (`--max-input-tokens`, `llm.max_input_tokens`):
  /// their pipeline starts with the summary step.
  func summarizing(_ lines: [JSON]) -> [String] {
    let budget = promptFlags.maxInputTokens
    return lines.filter { line in
      !Event.isEvent(line) && (budget != nil || line["llm"]?["max_input_tokens"] != nil)
    }.compactMap { $0["id"]?.string }
  }

  /// Sections whose record does not parse: rebuilt, never mistaken for a person's edit.
  func damaged() -> [String] {
    ids.filter { id in
      guard case .damaged = run.stored(id) else { return false }
      Diagnostics.say(
        tool, "\(id): \(run.layout.record(id)) is damaged (not one JSON record); it is rebuilt")
      return true
    }
  }

  /// A person's edit is kept as the section's record.
  ///
  /// What uses it is stale through its content; with FORCE=1 it is regenerated over. Returns the
  /// sections regenerated so.
  func adoptEdits() throws -> [String] {
    var regenerated: [String] = []
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
        try AtomicFile.write(record.compactText + "\n", to: run.layout.record(id))
      }
      Diagnostics.say(tool, "\(id): your edit is kept (source: human)")
    }
    return regenerated
  }

  /// `make regen SECTION=`: the section and the users CASCADE chooses.
  ///
  /// The others keep their text for this run; the section's note is kept or cleared. Returns the
  /// sections to build again.
  func chooseRegeneration(_ section: String) throws -> [String] {
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
          "CASCADE: '\(id)' does not use '\(section)' (the sections that do: \(Self.names(users)))"
        )
      }
    }
    Diagnostics.say(
      tool,
      "regenerating \(section)" + (chosen.isEmpty ? " only" : " and \(Self.names(chosen))")
        + (users.isEmpty ? "" : " (the sections that use it: \(Self.names(users)))"))
    try change {
      if options.clearNote {
        try run.setNote(section, nil)
      } else if let note = options.note, !note.trimmed.isEmpty {
        try run.setNote(section, note)
      }
      // The sections that use it and were not chosen keep their text, for this run.
      try run.setKept(users.filter { !chosen.contains($0) })
    }
    return ([section] + chosen).filter { id in
      guard run.isHuman(id) && !options.force else { return true }
      Diagnostics.say(tool, "\(id): kept, a person wrote it (FORCE=1 regenerates it)")
      return false
    }
  }

  /// Every section judged against the sections as they are stored (nothing cleared yet); under
  /// ONLY=, the selection and what it needs.
  func judge(_ lines: [JSON], regenerated: [String], freshness: Freshness) -> [(
    id: String, verdict: Freshness.Verdict, current: JSON?, planned: JSON
  )] {
    var verdicts = freshness.verdicts(lines, render: options.dryRun)
    for index in verdicts.indices where regenerated.contains(verdicts[index].id) {
      verdicts[index].verdict = .toBuild("regenerated")
    }
    guard let only = options.only else { return verdicts }
    var uses: [String: [String]] = [:]
    for planned in graph.sections {
      uses[planned.section.id] = planned.section.dependsOn + planned.section.context
    }
    var selected = Set(only)
    var pending = only
    while let next = pending.popLast() {
      for used in uses[next] ?? [] where selected.insert(used).inserted { pending.append(used) }
    }
    return verdicts.filter { selected.contains($0.id) }
  }

  /// Clears what will be built (stale results kept as versions), saying each reason once.
  func clearStale(
    _ verdicts: [(id: String, verdict: Freshness.Verdict, current: JSON?, planned: JSON)],
    regenerated: [String]
  ) throws {
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
  }

  /// The progress ledger (each section's stage, what is done before the run starts) and the
  /// run's first event.
  func startProgress(doc: String) throws {
    // Each stored record read once: what is there, what is finished, and earlier runs' times
    // (for an ETA before this run has timed a section).
    var present = 0
    var finished: [String] = []
    var times: [Double] = []
    for id in ids {
      guard let record = run.record(id) else { continue }
      present += 1
      let status = record["status"]?.string ?? ""
      if ["completed", "failed", "skipped"].contains(status) { finished.append(id) }
      if status == "completed", let seconds = record["timing"]?["seconds"]?.double {
        times.append(seconds)
      }
    }
    RunProgress.start(
      run: run.layout,
      sections: graph.sections.map {
        (
          $0.section.id, $0.stage, $0.order,
          Array(Set($0.section.dependsOn + $0.section.context)).sorted()
        )
      },
      done: finished, jobs: options.jobs,
      priorMean: times.isEmpty ? nil : times.reduce(0, +) / Double(times.count))
    let done = present
    try EventLog.append(
      Event.make(
        .progress, doc: doc,
        fields: [
          "phase": JSON("INIT"), "items_total": JSON(ids.count), "items_processed": JSON(done),
        ]),
      to: run.layout.events)
  }
}
