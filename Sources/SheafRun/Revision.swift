import Foundation
import SheafCore
import SheafPrompt

/// Applies the edits a reviewing section answers (`"revises": true`, a JSON section whose data
/// has `edits` and `followups`) to the sections they name, into `revised/<id>.json`: exact
/// replacements here, instructions through one revision request per section that has any.
///
/// An edit is `{"chapter" (or "section"): id, "passage": text, "replacement": text}` or
/// `{"chapter": id, "instruction": text}`; a passage that is not in the text becomes an
/// instruction. A revision is keyed by the text it starts from and its edits, so a run with
/// nothing new asks nothing; the sections' own records are never changed (nothing that uses them
/// goes stale). `followups` (questions for the author) are written to `followups.md`.
public enum Revision {
  /// Removes a section's revision, its record and its text.
  static func removeRevision(_ run: RunDirectory, _ id: String) {
    unlink(run.layout.revisedRecord(id))
    unlink(run.layout.revisedMarkdown(id))
  }

  /// One section's edits, gathered from every reviewing section.
  struct Work {
    var id: String
    var from: [String] = []
    var edits: [JSON] = []
  }

  /// Writes what can be revised here, and the revision requests for the rest (for
  /// `build-prompt | call-llm | validate-format | sheaf-run revise --save`).
  /// - Throws: `ToolFailure` when a file cannot be written or the output is closed.
  ///
  /// With `prune`, nothing is revised or asked: revisions whose text or edits changed are only
  /// removed (make doc ONLY=…, which leaves the continuity pass for a whole run).
  public static func emit(run: RunDirectory, tool: String, prune: Bool = false) throws
    -> ExitStatus
  {
    // Paused or interrupted: nothing new starts (the next make doc revises).
    if run.wasPaused || run.wasInterrupted { return .completed }
    let planned = run.plannedRecords()
    let (work, followups) = gather(run: run, planned: planned, tool: tool)
    if !prune { try writeFollowups(run: run, followups) }

    let writer = RecordWriter()
    try FileManager.default.createDirectory(
      atPath: run.layout.revised, withIntermediateDirectories: true)
    // Revisions of sections that have no edits now are gone.
    for name in (try? FileManager.default.contentsOfDirectory(atPath: run.layout.revised)) ?? []
    where name.hasSuffix(".json") {
      let id = String(name.dropLast(5))
      if work[id] == nil {
        removeRevision(run, id)
      }
    }
    for record in planned {
      guard let id = record["id"]?.string, let job = work[id] else { continue }
      // A section that did not complete has no text to revise: an old revision never stands in.
      guard let stored = run.record(id),
        stored["status"]?.string == SectionStatus.completed.rawValue
      else {
        removeRevision(run, id)
        continue
      }
      // A person's text is theirs: edits are said, not made.
      if stored["source"]?.string == "human" || (try? run.hasFreshEdit(id)) == true {
        removeRevision(run, id)
        if !prune {
          Diagnostics.say(
            tool,
            "\(id): \(job.edits.count) continuity edit\(job.edits.count == 1 ? "" : "s") not applied: a person wrote it (see \(job.from.joined(separator: ", ")))"
          )
        }
        continue
      }
      let base = (stored["content"]?.string ?? "").trimmed
      let editsJSON = JSON.array(job.edits.map { $0.copy() })
      let key = String(Fingerprint.hash(base + "\u{0}" + editsJSON.compactText).prefix(16))
      if let revised = RunDirectory.readJSON(run.layout.revisedRecord(id)),
        revised["id"]?.string == id,
        revised["revision"]?["key"]?.string == key, revised["revision"]?["complete"]?.bool == true
      {
        continue
      }
      if prune {
        removeRevision(run, id)
        continue
      }
      let (text, applied, instructions) = apply(job.edits, to: base)
      let revision = JSON.object()
      revision["from"] = .array(job.from.map { JSON($0) })
      revision["key"] = JSON(key)
      revision["replaced"] = JSON(applied)
      revision["instructions"] = .array(instructions.map { JSON($0) })
      revision["text"] = JSON(text)
      if instructions.isEmpty {
        try writeRevised(run: run, stored: stored, text: text, revision: revision, answer: nil)
        Diagnostics.say(tool, "✎ \(id): \(applied) replacement\(applied == 1 ? "" : "s") applied")
        continue
      }
      // One request for the section: its text (with the exact replacements made) and every
      // instruction; it is built as the section is (its format, settings and prompt set).
      let request = record.copy()
      request["template"] = JSON("_revise")
      request["revision"] = revision
      request["status"] = JSON(SectionStatus.pending.rawValue)
      try writer.write(request)
    }
    return .completed
  }

  /// Every reviewing section's edits, by the section they name (only sections it read), and
  /// its questions for the author.
  static func gather(run: RunDirectory, planned: [JSON], tool: String) -> (
    [String: Work], [(from: String, text: String)]
  ) {
    let byID = Dictionary(
      planned.compactMap { record in record["id"]?.string.map { ($0, record) } },
      uniquingKeysWith: { first, _ in first })
    var work: [String: Work] = [:]
    var followups: [(from: String, text: String)] = []
    for reviewer in planned {
      guard let reviewerID = reviewer["id"]?.string, reviewer["revises"]?.bool == true,
        let record = run.record(reviewerID),
        record["status"]?.string == SectionStatus.completed.rawValue
      else { continue }
      let data =
        record["data"]
        ?? (record["content"]?.string).flatMap { text in
          try? JSON.parse(text)
        }
      let allowed = Set(
        ["depends_on", "context"].flatMap { reviewer[$0]?.array?.compactMap(\.string) ?? [] })
      for (index, edit) in (data?["edits"]?.array ?? []).enumerated() {
        guard let target = edit["chapter"]?.string ?? edit["section"]?.string else { continue }
        guard allowed.contains(target), byID[target] != nil else {
          Diagnostics.say(
            tool,
            "warning: \(reviewerID): edit \(index + 1) names '\(target)', which is not among the sections it read; left alone"
          )
          continue
        }
        work[target, default: Work(id: target)].edits.append(edit)
        if !(work[target]?.from.contains(reviewerID) ?? true) {
          work[target]?.from.append(reviewerID)
        }
      }
      for question in data?["followups"]?.array?.compactMap(\.string) ?? [] {
        followups.append((reviewerID, question))
      }
    }
    return (work, followups)
  }

  /// The exact replacements whose passage is in the text, made; the rest (and every
  /// instruction) as instructions for a revision request.
  static func apply(_ edits: [JSON], to base: String) -> (
    text: String, applied: Int, instructions: [String]
  ) {
    var text = base
    var applied = 0
    var instructions: [String] = []
    for edit in edits {
      let reason = edit["reason"]?.string.map { " (\($0))" } ?? ""
      if let passage = edit["passage"]?.string, !passage.isEmpty,
        let replacement = edit["replacement"]?.string
      {
        if text.contains(passage) {
          text = text.replacingOccurrences(of: passage, with: replacement)
          applied += 1
        } else {
          instructions.append("Replace \"\(passage)\" with \"\(replacement)\"\(reason).")
        }
      }
      if let instruction = edit["instruction"]?.string, !instruction.trimmed.isEmpty {
        instructions.append(instruction.trimmed + reason)
      }
    }
    return (text, applied, instructions)
  }

  /// Keeps each answered revision (or, when the request failed, the text with its exact
  /// replacements, marked incomplete so that the next run asks again).
  /// - Throws: `ToolFailure` when a file cannot be written.
  public static func save(run: RunDirectory, tool: String) throws -> ExitStatus {
    try FilterLoop.forEach(inputs: []) { item, _ in
      guard case .record(let record) = item, let id = record.id, Slug.isValid(id),
        let revision = record.json["revision"], let stored = run.record(id)
      else { return }
      if record.status == .completed, let content = record.content, !content.trimmed.isEmpty {
        revision["complete"] = JSON(true)
        try writeRevised(
          run: run, stored: stored, text: content.trimmed, revision: revision, answer: record.json)
        Diagnostics.say(tool, "✎ \(id): revised")
      } else {
        revision["complete"] = JSON(false)
        revision["error"] = record.json["error"]?.copy()
        try writeRevised(
          run: run, stored: stored, text: revision["text"]?.string ?? "", revision: revision,
          answer: nil)
        Diagnostics.say(
          tool,
          "warning: \(id): the revision failed (\(record.error?.message ?? "no answer")); the document uses its text with only the exact replacements, and the next make doc asks again"
        )
      }
    }
    return .completed
  }

  private static func writeRevised(
    run: RunDirectory, stored: JSON, text: String, revision: JSON, answer: JSON?
  ) throws {
    guard let id = stored["id"]?.string else { return }
    let revised = stored.copy()
    revised["content"] = JSON(text)
    revised["data"] = nil
    revision["text"] = nil
    if revision["complete"] == nil { revision["complete"] = JSON(true) }
    if let answer {
      for field in ["provider", "model", "usage", "cost", "attempts", "request_key"] {
        revision[field] = answer[field]?.copy()
      }
    }
    revised["revision"] = revision
    try AtomicFile.write(revised.compactText + "\n", to: run.layout.revisedRecord(id))
    try AtomicFile.write(text + "\n", to: run.layout.revisedMarkdown(id))
  }

  private static func writeFollowups(
    run: RunDirectory, _ followups: [(from: String, text: String)]
  ) throws {
    let path = run.layout.followups
    guard !followups.isEmpty else {
      unlink(path)
      return
    }
    var text = "# Questions for the author\n\n"
    for (index, item) in followups.enumerated() { text += "\(index + 1). \(item.text)\n" }
    try AtomicFile.write(text, to: path)
  }
}
