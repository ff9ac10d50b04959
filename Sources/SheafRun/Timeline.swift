import Foundation
import SheafCore

/// Where the last run's time went, as an SVG file (`sheaf-run timeline --run DIR > timeline.svg`):
/// one row per section in document order, one bar per request (its `attempt` event: from its
/// start to its end, green when answered, red when it failed, amber when the answer was asked
/// again), stage by stage, on a time axis from the run's start.
public enum Timeline {
  /// One bar: a request of a section.
  struct Bar {
    var id: String
    var start: Double
    var end: Double
    var attempt: Int
    var error: String?
  }

  /// The SVG of the run's last `make doc`.
  /// - Throws: `ToolFailure` when the run has no plan.
  public static func svg(run: RunDirectory) throws -> String {
    let planned = run.plannedRecords()
    guard !planned.isEmpty else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    let sections = planned.compactMap {
      record -> (id: String, title: String, order: Int, stage: Int)? in
      guard let id = record["id"]?.string else { return nil }
      return (
        id, record["title"]?.string ?? id, record["order"]?.int ?? 0, record["stage"]?.int ?? 1
      )
    }.sorted { ($0.stage, $0.order) < ($1.stage, $1.order) }
    let (bars, origin) = readBars(run)
    let row = Dictionary(sections.enumerated().map { ($1.id, $0) }) { first, _ in first }
    let span = max(1, (bars.map(\.end).max() ?? origin + 1) - origin)
    let label = 230.0
    let width = 960.0
    let plot = width - label - 20
    let rowHeight = 18.0
    let top = 40.0
    let height = top + Double(sections.count) * rowHeight + 40
    func x(_ time: Double) -> Double { label + (time - origin) / span * plot }
    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
      font-family="sans-serif" font-size="11">
      <title>\(escape(run.path)): where the time went</title>
      <text x="8" y="18" font-size="13">\(escape((run.path as NSString).lastPathComponent)): \
      \(bars.count) request\(bars.count == 1 ? "" : "s") in \(format(span)) s</text>

      """
    var lastStage: Int?
    for (index, section) in sections.enumerated() {
      let y = top + Double(index) * rowHeight
      if section.stage != lastStage {
        lastStage = section.stage
        out += "<line x1=\"0\" x2=\"\(Int(width))\" y1=\"\(y)\" y2=\"\(y)\" stroke=\"#ccc\"/>\n"
        out +=
          "<text x=\"\(Int(width) - 8)\" y=\"\(y + 12)\" text-anchor=\"end\" fill=\"#888\">stage \(section.stage)</text>\n"
      }
      let shown = section.title.count > 34 ? String(section.title.prefix(33)) + "…" : section.title
      out += "<text x=\"8\" y=\"\(y + 13)\">\(escape(shown))</text>\n"
    }
    for bar in bars {
      guard let index = row[bar.id] else { continue }
      let y = top + Double(index) * rowHeight + 3
      let left = x(bar.start)
      let color = bar.error == nil ? "#3a3" : bar.error == "validation" ? "#e90" : "#c33"
      out +=
        "<rect class=\"attempt\" x=\"\(format(left))\" y=\"\(y)\" width=\"\(format(max(1, x(bar.end) - left)))\" height=\"\(rowHeight - 6)\" fill=\"\(color)\">"
      out +=
        "<title>\(escape(bar.id)) attempt \(bar.attempt): \(format(bar.end - bar.start)) s\(bar.error.map { ", \(escape($0))" } ?? "")</title></rect>\n"
    }
    let axis = top + Double(sections.count) * rowHeight + 16
    for step in 0...4 {
      let time = origin + span * Double(step) / 4
      out +=
        "<text x=\"\(format(x(time)))\" y=\"\(axis)\" text-anchor=\"middle\" fill=\"#555\">\(format(time - origin)) s</text>\n"
    }
    return out + "</svg>\n"
  }

  /// The requests of the last run, from its `attempt` events, and when the run started.
  static func readBars(_ run: RunDirectory) -> ([Bar], Double) {
    var bars: [Bar] = []
    var origin: Double?
    // The run's own reader: this run's events only, torn lines skipped, chunks left unparsed.
    for event in RunView(run: run).readEvents() {
      guard let ts = event["ts"]?.string.flatMap(Event.date)?.timeIntervalSince1970 else {
        continue
      }
      switch event["event"]?.string {
      case "progress" where event["phase"]?.string == "INIT":
        origin = origin ?? ts
      case "attempt":
        let seconds = event["seconds"]?.double ?? 0
        bars.append(
          Bar(
            id: event["id"]?.string ?? "?", start: ts - seconds, end: ts,
            attempt: event["attempt"]?.int ?? 1, error: event["error_type"]?.string))
      default:
        break
      }
    }
    // An answer asked again: the request before it is amber (its answer broke the format).
    var byID: [String: [Int]] = [:]
    for (index, bar) in bars.enumerated() { byID[bar.id, default: []].append(index) }
    for indices in byID.values where indices.count > 1 {
      for index in indices.dropLast() where bars[index].error == nil {
        bars[index].error = "validation"
      }
    }
    let start = origin ?? bars.map(\.start).min() ?? 0
    return (bars, min(start, bars.map(\.start).min() ?? start))
  }

  static func escape(_ text: String) -> String { Markup.escape(text) }

  static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
