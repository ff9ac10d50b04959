import Foundation
import HTTPTypes
import Hummingbird
import SheafCore
import SheafRun

/// The page of a set of documents (`make serve PLAN= ROWS=`): every document of the table with
/// its status, its sections done and its cost, each a link to its own page at `/d/<id>/`.
///
/// Served by the server; it reads well with scripts off and is drawn again every few seconds
/// (a refresh the page asks for, no script). `/api/set` gives the same as JSON.
enum SetPage {
  /// The documents of the set `flags` name: the plan's title and each document's run.
  /// - Throws: `ToolFailure` for a bad plan or table.
  static func documents(_ flags: ServeFlags) throws -> (
    title: String, documents: [(id: String, run: String)]
  ) {
    var options = DocumentSet.Options(
      planPath: flags.plan ?? "", rowsPath: flags.rows ?? "", runs: flags.runs)
    options.docID = flags.docID.flatMap { $0.isEmpty ? nil : $0 }
    options.shard =
      try flags.shard.flatMap { $0.isEmpty ? nil : $0 }.map(Shard.init(parsing:)) ?? .all
    // The plan and the table are the ones given on the command line.
    options.allowOutside = true
    return try DocumentSet.documents(options)
  }

  static func add(
    to router: Router<BasicRequestContext>, title: String, documents: [(id: String, run: String)]
  ) {
    router.get("/") { request, _ in
      Routes.html(render(title: title, state(documents), query: request.uri.query))
    }
    router.get("/api/set") { _, _ in
      let out = JSON.object()
      out["title"] = JSON(title)
      out["documents"] = .array(state(documents))
      return Routes.json(out.compactText)
    }
    router.get("/page.css") { _, _ in
      Routes.respond(.ok, "text/css; charset=utf-8", Page.style)
    }
  }

  /// Each document as it stands: `id`, `status` (`building` while its make doc holds its lock),
  /// `completed` and `sections`, `cost`.
  static func state(_ documents: [(id: String, run: String)]) -> [JSON] {
    let held = LockedFile.heldFlocks()
    return documents.map { document in
      let layout = RunLayout(document.run)
      let summary = JSON.readObject(layout.summary)
      let entry = JSON.object()
      entry["id"] = JSON(document.id)
      var status = DocumentSet.status(summary)
      var done = summary?["totals"]?["completed"]?.int
      var total = summary?["totals"]?["sections"]?.int
      if LockedFile.isHeld(layout.lock, among: held) {
        status = "building"
        let progress = JSON.readObject(layout.progress)
        done = progress?["done"]?.int ?? done
        total = progress?["total"]?.int ?? total
      }
      entry["status"] = JSON(status)
      entry["title"] = summary?["title"] ?? .null
      entry["completed"] = done.map { JSON($0) } ?? .null
      entry["sections"] = total.map { JSON($0) } ?? .null
      entry["cost"] = summary?["totals"]?["cost"] ?? .null
      return entry
    }
  }

  /// The set's page: a table of the documents and the totals.
  static func render(title: String, _ documents: [JSON], query: String?) -> String {
    // The token travels with the links, so each document's page has its actions.
    let token = query.flatMap { query in
      query.split(separator: "&").first { $0.hasPrefix("token=") }.map(String.init)
    }
    var counts: [String: Int] = [:]
    var spent = 0.0
    var rows = ""
    for document in documents {
      let id = document["id"]?.string ?? "?"
      let status = document["status"]?.string ?? "pending"
      counts[status, default: 0] += 1
      spent += document["cost"]?.double ?? 0
      let link = "d/\(Page.escape(id))/" + (token.map { "?" + Page.escape($0) } ?? "")
      let done = document["completed"]?.int.map { done in
        "\(done)/\(document["sections"]?.int ?? 0)"
      }
      let cost = document["cost"]?.double.map { String(format: "$%.4f", $0) } ?? ""
      rows += """
        <tr class="\(Page.escape(DocumentSet.mark(status)))">\
        <td>\(Page.escape(RunView.mark(DocumentSet.mark(status))))</td>\
        <td><a href="\(link)">\(Page.escape(id))</a></td>\
        <td>\(Page.escape(document["title"]?.string ?? ""))</td><td>\(Page.escape(status))</td>\
        <td>\(done ?? "")</td><td>\(cost)</td></tr>

        """
    }
    let order = DocumentSet.statusOrder
    let tally = order.compactMap { key in counts[key].map { "\($0) \(key)" } }
    let totals =
      "\(documents.count) document\(documents.count == 1 ? "" : "s"): \(tally.joined(separator: ", "))"
      + String(format: " · $%.4f spent", spent)
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <meta http-equiv="refresh" content="5">
      <title>\(Page.escape(title)) · \(documents.count) documents · sheaf</title>
      <link rel="stylesheet" href="page.css">
      </head>
      <body>
      <header id="run"><h1 id="title">\(Page.escape(title))</h1>
      <div id="status">\(Page.escape(totals))</div></header>
      <main id="documents"><table>
      <thead><tr><th></th><th>document</th><th>title</th><th>status</th><th>sections</th>\
      <th>cost</th></tr></thead>
      <tbody>
      \(rows)</tbody></table></main>
      </body>
      </html>

      """
  }
}
