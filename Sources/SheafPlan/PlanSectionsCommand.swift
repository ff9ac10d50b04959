import Foundation
import SheafCore
import SheafValidate

/// What plan-sections writes.
public enum PlanEmitFormat: String, CaseIterable, Sendable {
  case ndjson, make, dot
}

/// plan-sections' work, given its options.
public enum PlanSectionsCommand {
  /// Reads the plan, selects the sections, and writes them to standard output.
  /// - Throws: `ToolFailure` for an unreadable or invalid plan, an unknown id or mode, or a
  ///   closed output.
  public static func run(
    planPath: String?, mode: String?, only: [String], affectedBy: String?, emit: PlanEmitFormat,
    inputs: [String], events: Bool, instructions: String? = nil, allowOutside: Bool = false
  ) throws -> ExitStatus {
    let plan = try PlanReader.read(
      path: planPath, overrides: inputs, allowOutside: allowOutside || PlanPaths.allowOutside())
    // The flag, then SHEAF_MODE, then the plan's default_mode.
    let environmentMode = ProcessInfo.processInfo.environment["SHEAF_MODE"].flatMap {
      $0.isEmpty ? nil : $0
    }
    let graph: SectionGraph
    do {
      graph = try SectionGraph(plan: plan, mode: mode ?? environmentMode)
    } catch let problems as PlanProblems {
      throw ToolFailure.usage(
        problems.lines.map { "\(plan.source): \($0)" }.joined(separator: "\n"))
    }
    let inMode = Set(graph.sections.map(\.section.id))
    let inPlan = Set(plan.sections.map(\.id))
    func check(_ id: String, _ flag: String) throws {
      guard !inMode.contains(id) else { return }
      if inPlan.contains(id) {
        throw ToolFailure.usage("\(flag): section '\(id)' is not in mode '\(graph.mode ?? "")'")
      }
      let hint =
        PlanReader.closest(to: id, in: Array(inPlan)).map { " (did you mean '\($0)'?)" } ?? ""
      throw ToolFailure.usage("\(flag): unknown section '\(id)'\(hint)")
    }
    var selected = graph.sections
    let onlyIDs = Set(commaSeparated(only))
    if !only.isEmpty && onlyIDs.isEmpty {
      throw ToolFailure.usage("--only: give the ids of the sections to write (it is empty)")
    }
    if !onlyIDs.isEmpty {
      for id in onlyIDs.sorted() { try check(id, "--only") }
      selected = selected.filter { onlyIDs.contains($0.section.id) }
    }
    if let affectedBy {
      try check(affectedBy, "--affected-by")
      let affected = Set(graph.affected(by: affectedBy).map(\.section.id))
      selected = selected.filter { affected.contains($0.section.id) }
    }

    let writer = RecordWriter()
    switch emit {
    case .ndjson:
      try writer.write(
        PlanEmitter.outlineEvent(graph, selected: onlyIDs.isEmpty ? nil : onlyIDs))
      var lastStage: Int?
      var byStage: [Int: [PlannedSection]] = [:]
      if events { for planned in selected { byStage[planned.stage, default: []].append(planned) } }
      for planned in selected {
        if events && planned.stage != lastStage {
          lastStage = planned.stage
          try writer.write(
            PlanEmitter.stageEvent(
              planned.stage, sections: byStage[planned.stage] ?? [], doc: plan.id))
        }
        let record = PlanEmitter.record(for: planned, in: graph)
        if let instructions, !instructions.isEmpty { record["instructions"] = JSON(instructions) }
        try writer.write(record)
      }
    case .make:
      try writer.writeText(PlanEmitter.makefile(graph, sections: selected))
    case .dot:
      try writer.writeText(PlanEmitter.dot(graph, sections: selected))
    }
    return .completed
  }
}
