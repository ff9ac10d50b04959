import Foundation
import SheafCore
import SheafRun

/// The run's page as the server renders it: the whole document as it stands.
///
/// It reads well with scripts off; page.js then keeps it live. Everything from the run is escaped; a section's text
/// comes as HTML from cmark with the model's own HTML shown as text.
enum Page {
  /// Text for the page's HTML (its text and double-quoted attributes).
  static func escape(_ text: String) -> String { Markup.escape(text) }

  /// The page for `state` (RunView.snapshot), with each saved section's text as HTML.
  static func render(_ state: JSON, contents: [String: String], inSet: Bool = false) -> String {
    decorate(state)
    let title = state["title"]?.string ?? state["doc"]?.string ?? "sheaf"
    var out = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>\(escape(title)) · sheaf</title>
      <link rel="stylesheet" href="page.css">
      <script src="page.js" defer></script>
      </head>
      <body data-offset="\(state["offset"]?.int ?? 0)">
      <header id="run">\(inSet ? "\n<nav id=\"set\"><a href=\"../../\">all the documents</a></nav>" : "")
      <h1 id="title">\(escape(title))</h1>
      <div id="status">\(header(state))</div>
      <nav id="controls" hidden>
      <button type="button" id="run-doc">Make doc (what is stale)</button>
      <button type="button" id="pause">Pause</button>
      <a href="timeline.svg">timeline</a> <a href="graph.svg">graph</a>
      </nav>
      <section id="action" hidden><h2>Action</h2><pre id="action-output"></pre></section>
      </header>
      <main id="sections">

      """
    for section in state["sections"]?.array ?? [] {
      out += Self.section(section, content: contents[section["id"]?.string ?? ""] ?? "")
    }
    out += """
      </main>
      <footer><details><summary>Where the time went</summary>\
      <img id="timeline" src="timeline.svg" alt="the run's timeline: a bar per request"></details>
      <details><summary>What uses what</summary>\
      <img id="graph" src="graph.svg" alt="the sections' dependency graph"></details></footer>
      </body>
      </html>

      """
    return out
  }

  /// Adds to a state what page.js sets as it is: the header's HTML and each section's meta line
  /// (escaped here) and error text.
  static func decorate(_ state: JSON) {
    state["header_html"] = JSON(header(state))
    for section in state["sections"]?.array ?? [] {
      section["meta_html"] = JSON(meta(section))
      if let error = section["error"] {
        var text = "\(error["type"]?.string ?? "error"): \(error["message"]?.string ?? "")"
        if let hint = error["hint"]?.string, !hint.isEmpty { text += " — \(hint)" }
        section["error_text"] = JSON(text)
      }
    }
  }

  /// The progress lines: counts, stage, elapsed, ETA, cost, the document's status, review.
  static func header(_ state: JSON) -> String {
    let progress = state["progress"]
    var parts = ["<span id=\"counts\">\(escape(progress?["counts"]?.string ?? ""))</span>"]
    if let stages = progress?["stages"]?.int, stages > 1, let stage = progress?["stage"]?.int {
      parts.append("<span id=\"stage\">stage \(stage) of \(stages)</span>")
    }
    let running = state["running"]?.bool == true
    if let elapsed = progress?["elapsed_s"]?.double {
      parts.append(
        "\(running ? "elapsed" : "last run") <span id=\"elapsed\" data-s=\"\(elapsed)\">\(RunView.clock(elapsed))</span>"
      )
    }
    if running, let eta = progress?["eta_s"]?.double {
      parts.append("ETA <span id=\"eta\" data-s=\"\(eta)\">\(RunView.clock(eta))</span>")
    }
    if let cost = state["cost"]?.double {
      parts.append("cost <span id=\"cost\">$\(String(format: "%.4f", cost))</span>")
    }
    let status = state["status"]?.string
    var out = "<p id=\"progress\">\(parts.joined(separator: " · "))</p>\n"
    let stopped = state["stopped"]?.bool == true
    let shown =
      running
      ? "writing…"
      : stopped
        ? "the last run stopped before its end; make doc goes on from where it was"
        : status.map { "document: \(escape($0))" } ?? "no document yet"
    out +=
      "<p id=\"document\" data-status=\"\(escape(status ?? (running ? "running" : stopped ? "stopped" : "none")))\">\(shown)</p>\n"
    if let tokens = state["tokens"]?.string { out += "<p id=\"tokens\">\(escape(tokens))</p>\n" }
    if state["paused"]?.bool == true {
      out += "<p id=\"paused\">paused: the sections running finish, no new one starts</p>\n"
    }
    if let review = state["review"]?.string { out += "<p id=\"review\">\(escape(review))</p>\n" }
    return out
  }

  /// One section: its heading with the status mark, what its requests did, its error and hint,
  /// and its text (or the text being written).
  static func section(_ section: JSON, content: String) -> String {
    let id = escape(section["id"]?.string ?? "")
    let status = escape(section["status"]?.string ?? "pending")
    let version = escape(section["version"]?.string ?? "")
    var out =
      "<section class=\"section\" id=\"s-\(id)\" data-id=\"\(id)\" data-status=\"\(status)\" data-version=\"\(version)\">\n"
    out +=
      "<h2><span class=\"mark\" title=\"\(status)\">\(escape(section["mark"]?.string ?? "·"))</span> \(escape(section["title"]?.string ?? ""))</h2>\n"
    out += "<p class=\"meta\">\(meta(section))</p>\n"
    if let text = section["error_text"]?.string {
      out += "<p class=\"error\">\(escape(text))</p>\n"
    }
    out += "<div class=\"content\">\(content)</div>\n"
    out += "<pre class=\"stream\">\(escape(section["text"]?.string ?? ""))</pre>\n"
    return out + "</section>\n"
  }

  /// "completed · 12.3 s · 340 tokens · 2 tries · $0.0012 · repaired: …".
  static func meta(_ section: JSON) -> String {
    var parts = [escape(section["status"]?.string ?? "pending")]
    if let seconds = section["seconds"]?.double { parts.append(String(format: "%.1f s", seconds)) }
    if let tokens = section["output_tokens"]?.int { parts.append("\(tokens) tokens") }
    if let attempts = section["attempts"]?.int, attempts > 1 { parts.append("\(attempts) tries") }
    if let cost = section["cost"]?.double { parts.append(String(format: "$%.4f", cost)) }
    if let repairs = section["repairs"]?.array, !repairs.isEmpty {
      let named = repairs.map { $0.string ?? $0["rule"]?.string ?? $0.compactText }
      parts.append("repaired: " + escape(named.joined(separator: ", ")))
    }
    if section["awaits_review"]?.bool == true { parts.append("awaits review") }
    return parts.joined(separator: " · ")
  }

  static let style = """
    body { max-width: 50rem; margin: 1.5rem auto; padding: 0 1rem; font: 17px/1.55 Georgia, serif; color: #222; }
    h1, h2, nav, .meta, #progress, #document, #tokens, #review, #paused, footer, .tools { font-family: Helvetica, Arial, sans-serif; }
    h1 { margin-bottom: .3rem; } h2 { font-size: 1.25rem; margin: 1.6rem 0 .2rem; }
    header { border-bottom: 1px solid #ddd; padding-bottom: .6rem; }
    #progress, #document, #tokens, #review, #paused, .meta { font-size: .85rem; color: #555; margin: .15rem 0; }
    #document[data-status=ready] { color: #1a7f37; } #document[data-status=failed], #document[data-status=partial] { color: #b35900; }
    .mark { display: inline-block; width: 1.2em; }
    .section[data-status=completed] .mark, .section[data-status=human] .mark { color: #1a7f37; }
    .section[data-status=failed] .mark { color: #c33; } .section[data-status=processing] .mark { color: #b35900; }
    .section[data-status=pending] h2, .section[data-status=skipped] h2 { color: #888; }
    .error { border-left: 4px solid #c33; background: #fdf2f2; padding: .4rem .8rem; font-size: .9rem; }
    .stream { white-space: pre-wrap; font: 15px/1.5 Georgia, serif; color: #555; background: #fbfaf4; border-left: 3px solid #e0c060; padding: .3rem .7rem; }
    .stream:empty { display: none; }
    pre, code { background: #f5f5f5; } pre { padding: .6rem; overflow-x: auto; }
    nav button, .tools button { font-size: .85rem; margin-right: .4rem; }
    .tools { font-size: .8rem; margin: .2rem 0 .4rem; }
    .regen-form { background: #f6f8fa; padding: .5rem .8rem; margin-top: .4rem; }
    .affected label { display: inline-block; margin-right: .8rem; }
    .tools textarea { width: 100%; }
    #action-output { max-height: 16rem; overflow-y: auto; font-size: .8rem; }
    footer { margin-top: 2rem; border-top: 1px solid #ddd; font-size: .85rem; }
    footer img { max-width: 100%; background: #fff; }

    """
}
