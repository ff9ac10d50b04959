import Foundation
import SheafCore

/// The run's sections as a dependency graph, in SVG (`sheaf-run graph --run DIR > graph.svg`,
/// and on the live page): a column per stage, a box per section coloured by its status, an arrow
/// from each section to the ones that use it (dashed when it is only context).
public enum RunGraph {
  /// The SVG of the run's plan and its sections' statuses.
  /// - Throws: `ToolFailure` when the run has no plan.
  public static func svg(run: RunDirectory) throws -> String {
    let planned = run.plannedRecords()
    guard !planned.isEmpty else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    let stages = Set(planned.map { $0["stage"]?.int ?? 1 }).sorted()
    var columns: [Int: [JSON]] = [:]
    for record in planned { columns[record["stage"]?.int ?? 1, default: []].append(record) }
    for stage in stages {
      columns[stage]?.sort { ($0["order"]?.int ?? 0) < ($1["order"]?.int ?? 0) }
    }
    let boxWidth = 190.0
    let boxHeight = 26.0
    let columnWidth = boxWidth + 70
    let rowHeight = boxHeight + 12
    var place: [String: (x: Double, y: Double)] = [:]
    for (column, stage) in stages.enumerated() {
      for (row, record) in (columns[stage] ?? []).enumerated() {
        guard let id = record["id"]?.string else { continue }
        place[id] = (20 + Double(column) * columnWidth, 44 + Double(row) * rowHeight)
      }
    }
    let rows = stages.map { columns[$0]?.count ?? 0 }.max() ?? 0
    let width = 40 + Double(stages.count) * columnWidth - 70
    let height = 64 + Double(rows) * rowHeight
    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
      font-family="Helvetica, Arial, sans-serif" font-size="11">
      <title>\(Timeline.escape((run.path as NSString).lastPathComponent)): what uses what</title>
      <defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" \
      orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#777"/></marker></defs>

      """
    for (column, stage) in stages.enumerated() {
      out +=
        "<text x=\"\(Int(20 + Double(column) * columnWidth))\" y=\"24\" font-size=\"12\" font-weight=\"bold\">stage \(stage)</text>\n"
    }
    for record in planned {
      guard let id = record["id"]?.string, let to = place[id] else { continue }
      let hard = Set(record["depends_on"]?.array?.compactMap(\.string) ?? [])
      let soft = record["context"]?.array?.compactMap(\.string) ?? []
      for used in hard.sorted() + soft {
        guard let from = place[used] else { continue }
        let (x1, y1) = (from.x + boxWidth, from.y + boxHeight / 2)
        let (x2, y2) = (to.x, to.y + boxHeight / 2)
        let bend = max(20, (x2 - x1) / 2)
        out +=
          "<path d=\"M\(Int(x1)),\(Int(y1)) C\(Int(x1 + bend)),\(Int(y1)) \(Int(x2 - bend)),\(Int(y2)) \(Int(x2)),\(Int(y2))\" fill=\"none\" stroke=\"#999\" marker-end=\"url(#arrow)\"\(hard.contains(used) ? "" : " stroke-dasharray=\"4 3\"")/>\n"
      }
    }
    for record in planned {
      guard let id = record["id"]?.string, let at = place[id] else { continue }
      let status = Self.status(run.stored(id))
      let title = record["title"]?.string ?? id
      let shown = title.count > 28 ? String(title.prefix(27)) + "…" : title
      out +=
        "<g class=\"node\" data-id=\"\(Timeline.escape(id))\" data-status=\"\(Timeline.escape(status))\"><rect x=\"\(Int(at.x))\" y=\"\(Int(at.y))\" width=\"\(Int(boxWidth))\" height=\"\(Int(boxHeight))\" rx=\"4\" fill=\"\(Self.fill(status))\" stroke=\"#666\"><title>\(Timeline.escape(title)) (\(Timeline.escape(id))): \(Timeline.escape(status))</title></rect>"
        + "<text x=\"\(Int(at.x + 8))\" y=\"\(Int(at.y + 17))\">\(Timeline.escape(shown))</text></g>\n"
    }
    return out + "</svg>\n"
  }

  /// A stored section's status (pending when it has no record).
  static func status(_ stored: RunDirectory.Stored) -> String {
    switch stored {
    case .record(let record): return record["status"]?.string ?? "pending"
    case .damaged: return "damaged"
    case .missing: return "pending"
    }
  }

  private static func fill(_ status: String) -> String {
    switch status {
    case "completed": return "#d8f0d8"
    case "failed", "damaged": return "#f6d5d5"
    case "skipped", "cancelled", "paused": return "#e4e4e4"
    case "processing": return "#fbe7c2"
    default: return "#ffffff"
    }
  }
}

extension RunDirectory {
  /// The sections that use `id` through `depends_on` or `context`, directly or not, in
  /// document order: what `make regen SECTION=id` redoes unless CASCADE= says otherwise.
  public func affected(by id: String) -> [String] {
    let planned = plannedRecords().sorted {
      ($0["stage"]?.int ?? 1, $0["order"]?.int ?? 0) < (
        $1["stage"]?.int ?? 1, $1["order"]?.int ?? 0
      )
    }
    var affected: Set<String> = [id]
    // By stage, then order: what a section uses nearly always comes before it, so a pass or two.
    var grew = true
    while grew {
      grew = false
      for record in planned {
        guard let user = record["id"]?.string, !affected.contains(user) else { continue }
        let uses = (record["depends_on"]?.array ?? []) + (record["context"]?.array ?? [])
        if uses.contains(where: { $0.string.map(affected.contains) ?? false }) {
          affected.insert(user)
          grew = true
        }
      }
    }
    affected.remove(id)
    return planned.sorted { ($0["order"]?.int ?? 0) < ($1["order"]?.int ?? 0) }
      .compactMap { $0["id"]?.string }.filter(affected.contains)
  }
}
