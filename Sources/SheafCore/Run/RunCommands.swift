import Foundation

/// The run-directory steps of a staged run (`pipelines/sheaf.mk` calls them).
public enum RunCommands {
  // MARK: - prepare

  /// Gets a run ready: writes `plan.ndjson` and `sections.mk`, adopts people's edits (and clears
  /// the sections that use them), clears failed, skipped and cancelled sections so make builds
  /// them again, and clears the sections a regeneration asks for. Returns the document id.
  /// - Throws: `ToolFailure` for a bad plan or an unknown section.
  public static func prepare(
    planPath: String, runs: String, mode: String?, force: Bool, regenerate: String?, cascade: Bool, tool: String
  ) throws -> String {
    let plan = try PlanReader.read(path: planPath)
    let graph: SectionGraph
    do {
      graph = try SectionGraph(plan: plan, mode: mode)
    } catch let problems as PlanProblems {
      throw ToolFailure.usage(problems.lines.map { "\(plan.source): \($0)" }.joined(separator: "\n"))
    }
    let run = RunDirectory(path: "\(runs)/\(plan.id)")
    try FileManager.default.createDirectory(atPath: run.sectionsPath, withIntermediateDirectories: true)
    run.removeLeftovers()
    let records = graph.sections.map { PlanEmitter.record(for: $0, in: graph) }
    try AtomicFile.write(records.map { $0.compactText + "\n" }.joined(), to: run.planPath)
    try AtomicFile.write(PlanEmitter.makefile(graph, sections: graph.sections, planPath: planPath), to: "\(run.path)/sections.mk")
    let ids = graph.sections.map(\.section.id)
    func names(_ list: [String]) -> String { list.isEmpty ? "none" : list.joined(separator: ", ") }

    // A person's edit: kept as the section's record, and the sections that use it are redone.
    for planned in graph.sections where run.hasFreshEdit(planned.section.id) {
      let id = planned.section.id
      if force {
        Diagnostics.say(tool, "\(id): FORCE=1, so your edit of \(id).md will be regenerated over")
        run.clear(id)
        continue
      }
      let record = PlanEmitter.record(for: planned, in: graph)
      record["status"] = JSON(SectionStatus.completed.rawValue)
      record["content"] = JSON((run.markdown(id) ?? "").trimmed)
      record["source"] = JSON("human")
      try AtomicFile.write(record.compactText + "\n", to: run.recordPath(id))
      let users = graph.affected(by: id).map(\.section.id).filter { !run.isHuman($0) }
      users.forEach(run.clear)
      Diagnostics.say(tool, "\(id): your edit is kept (source: human); regenerating the sections that use it: \(names(users))")
    }

    if let section = regenerate {
      guard ids.contains(section) else {
        let hint = PlanReader.closest(to: section, in: ids).map { " (did you mean '\($0)'?)" } ?? ""
        throw ToolFailure.usage("SECTION: unknown section '\(section)'\(hint)")
      }
      let users = cascade ? graph.affected(by: section).map(\.section.id) : []
      Diagnostics.say(tool, "regenerating \(section)" + (cascade ? " and the sections that use it: \(names(users))" : " only (CASCADE=no)"))
      for id in [section] + users {
        if run.isHuman(id) && !force {
          Diagnostics.say(tool, "\(id): kept, a person wrote it (FORCE=1 regenerates it)")
        } else {
          run.clear(id)
        }
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
      Event.make(.progress, doc: plan.id, fields: ["phase": JSON("INIT"), "items_total": JSON(ids.count), "items_processed": JSON(done)]),
      to: run.eventsPath)
    return plan.id
  }

  // MARK: - deps

  /// Marks a pending record `skipped` (`dependency_failed`) when a `depends_on` section has no
  /// completed record in the run directory. A section a person wrote comes out as that person's
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
        if record.status == nil || record.status == .pending {
          for dependency in record.dependsOn {
            let status = run.record(dependency)?["status"]?.string
            guard status != SectionStatus.completed.rawValue else { continue }
            record.status = .skipped
            let why = status.map { "which \($0 == "skipped" ? "was skipped" : "is \($0)")" } ?? "which has no result"
            record.error = SheafError(
              .dependencyFailed, "depends on '\(dependency)', \(why)", retryable: true,
              hint: "fix '\(dependency)' and run again: skipped sections are retried")
            break
          }
        }
        try writer.write(record.json)
      }
    }
    return .completed
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
        try? FileManager.default.setAttributes([.modificationDate: now], ofItemAtPath: run.recordPath(id))
        Diagnostics.say(tool, "✎ \(id) (kept, a person wrote it)")
        saved += 1
        return
      }
      try run.save(record.json)
      saved += 1
      let json = record.json
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
        Diagnostics.say(tool, "✗ \(id): \(record.status?.rawValue ?? "?") (\(error?.type.rawValue ?? "?")): \(detail ?? "")")
        if json["attempts"] == nil, let error {
          try EventLog.append(Event.make(.sectionFailed, doc: record.doc, fields: ["id": JSON(id), "error": error.json]), to: run.eventsPath)
        }
      }
    }
    guard saved > 0 else { throw ToolFailure(.someFailed, "no record arrived to save (an earlier tool in the pipeline failed; see its message above)") }
    return .completed
  }
}
