import Foundation
import SheafCore
import SheafMarkdown

/// The state of a run as one JSON value, for the live page (`sheaf-run serve`): what `make
/// status` and the live block show, section by section, with the text being written.
extension RunView {
  /// The run as JSON: the document's progress and every section in document order.
  ///
  /// `offset` is where in `events.ndjson` the events it has seen end: a page that shows this
  /// state follows on from there and misses nothing.
  public func snapshot(now: Date = Date()) -> JSON {
    let gate = RunDirectory.ReviewGate(run: run)
    let (states, done, openStages) = tally()
    let out = JSON.object()
    out["doc"] = doc.map { JSON($0) } ?? .null
    out["offset"] = JSON(Int(clamping: offset))
    out["sections"] = JSON.array(
      states.map { entry in
        section(entry.section, stored: entry.stored, state: entry.state, gate: gate)
      })
    let summary = JSON.readObject(run.layout.summary)
    out["title"] = summary?["title"]?.copy() ?? doc.map { JSON($0) } ?? .null
    // The document's status: this run's `complete` event, else the last merge's.
    let status = completeStatus ?? (runStart == nil ? summary?["status"]?.string : nil)
    out["status"] = status.map { JSON($0) } ?? .null
    out["running"] = JSON(runStart != nil && completeStatus == nil)
    out["paused"] = JSON(FileManager.default.fileExists(atPath: run.layout.paused))
    out["progress"] = progress(states.map(\.state), done: done, open: openStages, now: now)
    let records = sections.compactMap { run.record($0.id) }
    out["tokens"] = Self.tokens(records).map { JSON($0) } ?? .null
    let costs = records.compactMap { $0["cost"]?.double }
    out["cost"] = costs.isEmpty ? .null : JSON(Price.rounded(costs.reduce(0, +)))
    out["review"] = run.reviewLine().map { JSON($0) } ?? .null
    return out
  }

  /// done/total, the stage under way, the elapsed time and the ETA.
  private func progress(_ states: [String], done: Int, open: Set<Int>, now: Date) -> JSON {
    let out = JSON.object()
    out["done"] = JSON(done)
    out["total"] = JSON(sections.count)
    out["counts"] = JSON(Self.counts(states, total: sections.count))
    let stages = Set(sections.map(\.stage)).sorted()
    out["stages"] = JSON(stages.count)
    out["stage"] =
      open.min().flatMap { stages.firstIndex(of: $0) }.map { JSON($0 + 1) } ?? .null
    if let runStart {
      let end = isComplete ? (lastEvent ?? now) : now
      out["elapsed_s"] = JSON(max(0, end.timeIntervalSince(runStart)))
      out["started"] = JSON(Event.timestamp(runStart))
    }
    let eta =
      !isComplete && done < sections.count ? RunProgress.eta(run: run.layout, now: now) : nil
    out["eta_s"] = eta.map { JSON($0) } ?? .null
    return out
  }

  /// One section: its status, what its requests did, its error with the hint, and the text
  /// being written (a section not yet saved).
  private func section(
    _ section: (id: String, title: String, order: Int, stage: Int), stored: RunDirectory.Stored,
    state: String, gate: RunDirectory.ReviewGate
  ) -> JSON {
    let out = JSON.object()
    out["id"] = JSON(section.id)
    out["title"] = JSON(section.title)
    out["order"] = JSON(section.order)
    out["stage"] = JSON(section.stage)
    out["status"] = JSON(state)
    out["mark"] = JSON(Self.mark(state))
    if let count = attempts[section.id] { out["requests"] = JSON(count) }
    if case .record(let record) = stored {
      for key in ["attempts", "repairs", "cost", "warnings", "violations"] {
        if let value = record[key] { out[key] = value.copy() }
      }
      out["seconds"] = record["timing"]?["seconds"]?.copy() ?? .null
      out["output_tokens"] = record["usage"]?["output_tokens"]?.copy() ?? .null
      if let error = record["error"], state != "completed" {
        let shown = SheafError(json: error)
        let described = JSON.object()
        described["type"] = error["type"]?.copy() ?? .null
        described["message"] = JSON(shown.message)
        described["hint"] = shown.hint.map { JSON($0) } ?? .null
        out["error"] = described
      }
      if state == "completed" || state == "human" {
        out["awaits_review"] = JSON(gate.awaits(section.id, record: record))
      }
      // What the page compares to know a section changed (its text, status and tries).
      let content = record["content"]?.string ?? ""
      out["version"] = JSON(
        String(SHA256.hex("\(state)|\(record["attempts"]?.int ?? 0)|\(content)").prefix(16)))
    } else {
      out["version"] = JSON(state)
      if state == "processing", let text = live[section.id]?.text { out["text"] = JSON(text) }
    }
    return out
  }

  /// A section's text as HTML for the page: Markdown rendered by cmark, where any HTML the model
  /// wrote is shown as the characters it is, never as markup.
  public static func contentHTML(_ record: JSON) -> String {
    guard let content = record["content"]?.string, !content.isEmpty else { return "" }
    return MarkdownDocument(content)?.htmlShowingMarkup() ?? ""
  }
}

extension RunView {
  /// The sections' ids and titles, in document order.
  public var sectionTitles: [(id: String, title: String)] { sections.map { ($0.id, $0.title) } }
}
