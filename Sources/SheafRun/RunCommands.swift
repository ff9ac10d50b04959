import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// The run-directory steps of a staged run (`pipelines/sheaf.mk` calls them).
public enum RunCommands {
  // MARK: - prepare

  /// Gets a run ready: finishes what a killed run left half-saved, writes `run.json`,
  /// `plan.ndjson` and `sections.mk`, adopts people's edits (and clears the sections that use
  /// them), clears damaged, stale, failed, skipped and cancelled sections so make builds them
  /// again, and clears the sections a regeneration asks for.
  ///
  /// Returns the document id.
  /// - Throws: `ToolFailure` for a bad plan, an unknown section, or a `.md` that is not UTF-8.
  public static func prepare(
    planPath: String, runs: String, mode: String?, force: Bool, regenerate: String?, cascade: Bool,
    allowOutside: Bool = false, tool: String
  ) throws -> String {
    let plan = try PlanReader.read(
      path: planPath, allowOutside: allowOutside || PlanPaths.allowOutside())
    let graph: SectionGraph
    do {
      graph = try SectionGraph(plan: plan, mode: mode)
    } catch let problems as PlanProblems {
      throw ToolFailure.usage(
        problems.lines.map { "\(plan.source): \($0)" }.joined(separator: "\n"))
    }
    let run = RunDirectory(path: "\(runs)/\(plan.id)")
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
    let ids = graph.sections.map(\.section.id)
    func names(_ list: [String]) -> String { list.isEmpty ? "none" : list.joined(separator: ", ") }

    // Where this run's events start, so status and watch read this run's only.
    let eventsStart =
      (try? FileManager.default.attributesOfItem(atPath: run.eventsPath)[.size] as? NSNumber)?
      .int64Value ?? 0
    let state = JSON.object()
    state["plan"] = JSON(absolutePath(planPath))
    state["mode"] = graph.mode.map { JSON($0) } ?? .null
    state["events_offset"] = JSON(Int(eventsStart))
    try AtomicFile.write(state.compactText + "\n", to: run.statePath)
    var lines = PlanEmitter.outlineEvent(graph).compactText + "\n"
    for planned in graph.sections {
      lines += PlanEmitter.record(for: planned, in: graph).compactText + "\n"
    }
    try AtomicFile.write(lines, to: run.planPath)
    try AtomicFile.write(
      PlanEmitter.makefile(graph, sections: graph.sections), to: "\(run.path)/sections.mk")

    // A record that does not parse is rebuilt, never mistaken for a person's edit.
    for id in ids {
      if case .damaged = run.stored(id) {
        Diagnostics.say(
          tool, "\(id): \(run.recordPath(id)) is damaged (not one JSON record); it is rebuilt")
        run.clear(id)
      }
    }

    // A person's edit: kept as the section's record, and the sections that use it are redone.
    for planned in graph.sections where try run.hasFreshEdit(planned.section.id) {
      let id = planned.section.id
      if force {
        Diagnostics.say(tool, "\(id): FORCE=1, so your edit of \(id).md will be regenerated over")
        run.clear(id)
        continue
      }
      let record = PlanEmitter.record(for: planned, in: graph)
      record["status"] = JSON(SectionStatus.completed.rawValue)
      record["content"] = JSON((try run.markdown(id) ?? "").trimmed)
      record["source"] = JSON("human")
      try AtomicFile.write(record.compactText + "\n", to: run.recordPath(id))
      let users = graph.affected(by: id).map(\.section.id).filter { !run.isHuman($0) }
      users.forEach(run.clear)
      Diagnostics.say(
        tool,
        "\(id): your edit is kept (source: human); regenerating the sections that use it: \(names(users))"
      )
    }

    if let section = regenerate {
      guard ids.contains(section) else {
        let hint = PlanReader.closest(to: section, in: ids).map { " (did you mean '\($0)'?)" } ?? ""
        throw ToolFailure.usage("SECTION: unknown section '\(section)'\(hint)")
      }
      let users = cascade ? graph.affected(by: section).map(\.section.id) : []
      Diagnostics.say(
        tool,
        "regenerating \(section)"
          + (cascade ? " and the sections that use it: \(names(users))" : " only (CASCADE=no)"))
      for id in [section] + users {
        if run.isHuman(id) && !force {
          Diagnostics.say(tool, "\(id): kept, a person wrote it (FORCE=1 regenerates it)")
        } else {
          run.clear(id)
        }
      }
    }

    // A section older than the plan, its inputs or its prompt files is built again.
    let library = TemplateLibrary(promptDirs: [])
    let planDir = plan.source == "stdin" ? "." : (plan.source as NSString).deletingLastPathComponent
    // The plan and its inputs, each with its time, once (a file that is gone has none).
    let shared = ([plan.source] + plan.inputFiles).compactMap { path in
      modified(path).map { (path, $0) }
    }
    let folders = library.folders(
      set: plan.promptSet ?? plan.id, planDir: planDir.isEmpty ? "." : planDir)
    for planned in graph.sections {
      let id = planned.section.id
      guard let built = modified(run.recordPath(id)), !run.isHuman(id) else { continue }
      let prompts = [planned.section.template ?? id, "shared_context"].compactMap {
        library.find($0, in: folders)
      }
      let changed =
        shared.first { $0.1 > built }?.0
        ?? prompts.first { (modified($0) ?? 0) > built }
      if let changed {
        Diagnostics.say(tool, "\(id): \(changed) changed since it was written; it is built again")
        run.clear(id)
      }
    }

    // What did not complete is asked for again.
    for id in ids {
      guard let record = run.record(id) else {
        run.clear(id)
        continue
      }
      if record["status"]?.string != SectionStatus.completed.rawValue { run.clear(id) }
    }
    let done = ids.filter { run.record($0) != nil }.count
    try EventLog.append(
      Event.make(
        .progress, doc: plan.id,
        fields: [
          "phase": JSON("INIT"), "items_total": JSON(ids.count), "items_processed": JSON(done),
        ]),
      to: run.eventsPath)
    return plan.id
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

  /// The plan or mode of the last run in `run` (`plan`, `mode`), for `make regen`.
  public static func info(run: RunDirectory, key: String) throws -> ExitStatus {
    guard let data = FileManager.default.contents(atPath: run.statePath),
      let state = try? data.withUnsafeBytes({ try JSON.parse($0) })
    else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    try RecordWriter().writeText((state[key]?.string ?? "") + "\n")
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
    try FilterLoop.forEach(inputs: []) { item, _ in
      switch item {
      case .event(_, let line): try writer.writeLine(line)
      case .record(let record):
        if !force, let id = record.id, run.isHuman(id), let kept = run.record(id) {
          try writer.write(kept)
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
        if record.status == nil || record.status == .pending,
          let error = dependencyFailure(record, run: run)
        {
          record.status = .skipped
          record.error = error
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
      try run.save(record.json)
      saved += 1
      let json = record.json
      if record.status == .cancelled { run.markInterrupted() }
      switch record.status {
      case .completed:
        let seconds = json["timing"]?["seconds"]?.double.map { String(format: "%.1f s", $0) } ?? "-"
        let tokens = json["usage"]?["output_tokens"]?.int.map { "\($0) tokens" } ?? ""
        let cached = json["cache"]?.string == "hit" ? ", cached" : ""
        Diagnostics.say(tool, "✓ \(id) (\(seconds)\(tokens.isEmpty ? "" : ", " + tokens)\(cached))")
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
