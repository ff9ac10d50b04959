import Foundation
import SheafCore
import SheafPlan

extension DocumentSet {
  /// `make status PLAN= ROWS=` (and `make docs DRY=1`): each document of the set (this shard's)
  /// with its status (ready, partial, failed, cancelled, or pending before its first run), its
  /// cost so far and what the next `make docs` asks of it; then the totals.
  ///
  /// An unchanged document that is ready asks nothing; another's requests are forecast as
  /// `make doc DRY=1` would, with its row as the table has it now.
  /// - Throws: `ToolFailure.usage` for a bad plan or table.
  public static func report(_ options: Options, listing: Listing, tool: String) throws
    -> ExitStatus
  {
    let (plan, members, rows) = try members(options)
    var counts: [String: Int] = [:]
    var spent: Double = 0
    var requests = 0
    var estimate: Double? = 0
    var out = ""
    let width = min(40, members.map(\.id.count).max() ?? 0)
    let set = SetLayout(runs: options.runs, plan: plan.id, shard: options.shard)
    // The documents this make docs built that did not come out ready (docs.mk lists them).
    let failed = Set(
      ((try? String(contentsOfFile: set.failed, encoding: .utf8)) ?? "").split(separator: "\n")
        .map(String.init))
    for member in members {
      let summary = JSON.readObject(member.layout.summary)
      let status = Self.status(summary)
      counts[status, default: 0] += 1
      let cost = summary?["totals"]?["cost"]?.double
      spent += cost ?? 0
      let forecast: Forecast
      do {
        forecast = unchanged(member) ? Forecast() : try self.forecast(member, plan, options)
      } catch let failure as ToolFailure {
        // One document that cannot be forecast (another plan's run) is said; the others go on.
        out += "\(RunView.mark("failed")) \(member.id): \(failure.message)\n"
        continue
      }
      requests += forecast.items.count
      estimate = estimate.flatMap { sum in forecast.cost.map { sum + $0 } }
      if listing == .none {
        // The end of a make docs: what did not come out ready, and where its make doc said why.
        guard failed.contains(member.id) else { continue }
        let log = set.log(member.id)
        let see = FileManager.default.fileExists(atPath: log) ? " · see \(log)" : ""
        out += "\(RunView.mark("failed")) \(member.id) is not ready (\(status))\(see)\n"
        continue
      }
      if listing == .asking && forecast.items.isEmpty { continue }
      let done = summary?["totals"].map {
        "\($0["completed"]?.int ?? 0)/\($0["sections"]?.int ?? 0)"
      }
      var line =
        "\(RunView.mark(mark(status))) \(member.id.padding(toLength: max(width, member.id.count), withPad: " ", startingAt: 0))  \(status.padding(toLength: 9, withPad: " ", startingAt: 0))"
      if let done { line += " \(done) sections" }
      if let cost { line += String(format: " · $%.4f", cost) }
      line += " · next: \(asks(forecast.items.count, cost: forecast.cost))"
      out += line + "\n"
    }
    let order = Self.statusOrder
    let tally = (order + counts.keys.filter { !order.contains($0) }.sorted()).compactMap { key in
      counts[key].map { "\($0) \(key)" }
    }
    let share =
      options.shard.count > 1
      ? " (shard \(options.shard.index)/\(options.shard.count) of \(rows))" : ""
    out +=
      "\(plan.id): \(members.count) document\(members.count == 1 ? "" : "s")\(share): \(tally.joined(separator: ", "))"
    out += String(format: " · $%.4f spent", spent)
    out += " · the next make docs asks \(asks(requests, cost: estimate))\n"
    try RecordWriter().writeText(out)
    return .completed
  }

  /// The documents a report lists before its totals.
  public enum Listing: Sendable {
    /// Every one (`make status ROWS=`), those that ask something (`DRY=1`), those that did not
    /// come out ready (the end of a make docs).
    case all, asking, none
  }

  /// `n requests (about $x)`.
  static func asks(_ count: Int, cost: Double?) -> String {
    var text = "\(count) request\(count == 1 ? "" : "s")"
    if count > 0, let cost { text += String(format: " (about $%.4f)", cost) }
    return text
  }

  /// A document's status in a set: merge-doc's, or `batched` when a section waits for a provider
  /// batch's next wave (`make docs BATCH=1`); `pending` before its first run.
  public static func status(_ summary: JSON?) -> String {
    let sections = summary?["sections"]?.array ?? []
    if sections.contains(where: {
      $0["error"]?["type"]?.string == ErrorType.batchPending.rawValue
    }) {
      return "batched"
    }
    return summary?["status"]?.string ?? "pending"
  }

  /// A set's document statuses in the order its totals list them.
  public static let statusOrder = [
    "ready", "building", "batched", "partial", "failed", "cancelled", "pending",
  ]

  /// The section status whose mark a document's status takes (`building`: its make doc runs).
  public static func mark(_ status: String) -> String {
    switch status {
    case "ready": return "completed"
    case "building": return "processing"
    case "partial", "failed": return "failed"
    case "cancelled": return "cancelled"
    default: return "pending"
    }
  }

  /// What the next make doc of a document asks: its forecast, with its row as the table has it.
  static func forecast(_ member: Member, _ plan: Plan, _ options: Options) throws -> Forecast {
    var prepare = RunCommands.PrepareOptions(planPath: options.planPath, runs: options.runs)
    prepare.mode = options.mode
    prepare.document = member.id
    prepare.row = member.row.fields
    prepare.allowOutside = options.allowOutside
    prepare.prompts = options.prompts
    prepare.request = options.request
    prepare.prices = options.prices
    return try RunCommands.forecast(prepare, tool: "sheaf-run")
  }
}
