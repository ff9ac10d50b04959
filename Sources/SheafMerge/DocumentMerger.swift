import Foundation
import SheafCore
import SheafMarkdown

/// The formats merge-doc writes.
public enum DocumentFormat: String, CaseIterable, Sendable {
  case markdown, html, json
}

/// One section as merged: what the latest record for its id said.
public struct MergedSection {
  /// Section id.
  public var id: String
  /// Heading.
  public var title: String
  /// Position in the document, when the record has one.
  public var order: Int?
  /// The status (`pending` when the record has none).
  public var status: SectionStatus
  /// The content, for completed sections.
  public var content: String?
  /// The error, for failed, skipped and cancelled sections.
  public var error: SheafError?
  /// The error object exactly as the record carried it.
  var errorJSON: JSON?
  /// `timing.seconds`.
  public var seconds: Double?
  /// `usage.input_tokens`.
  public var inputTokens: Int?
  /// `usage.output_tokens`.
  public var outputTokens: Int?
  /// `usage.cached_input_tokens` and `usage.cache_write_tokens` (the provider's prompt cache).
  public var cachedInputTokens: Int?
  public var cacheWriteTokens: Int?
  /// `attempts`.
  public var attempts: Int?
  /// `cost` in USD, when a price was known.
  public var cost: Double?
  /// The parsed value of a JSON section (`data`), shown as Markdown.
  public var data: JSON?
  /// The template its format names to show `data` (`render`), the record's prompt set and the
  /// plan's folder, where it is looked for.
  public var render: String?
  public var promptSet: String?
  public var planDir: String?
  /// `source` (`llm` or `human`).
  public var source: String?
  /// Whether the document shows it (`in_document: false`: notes kept out, such as a book's
  /// continuity notes).
  public var inDocument = true
  /// When it was first seen, to order sections without `order`.
  var arrival: Int
}

/// Reads records, keeps the latest one per id, and writes the document and its summary.
public final class DocumentMerger {
  /// Document id, from the records.
  public private(set) var doc: String?
  /// The document's author, from the plan's `inputs.author` (for the formats pandoc writes).
  public private(set) var author: String?
  /// Document title, from the first record's `doc_title`.
  public private(set) var title: String?
  private var byID: [String: MergedSection] = [:]
  private var arrivals = 0

  /// Shows a JSON section through the template its format names; `nil` (no template, or none
  /// found) shows it as the default Markdown.
  public var renderData: ((MergedSection) -> String?)?

  /// Shows sections marked `in_document: false` too.
  public var includeHidden = false

  /// An empty merger.
  public init() {}

  /// Takes a record: a later record for an id replaces an earlier one.
  /// - Throws: `ToolFailure` (malformed input) for a record with no string `id`.
  public func add(_ record: Record, at location: LineLocation) throws {
    guard let id = record.id else {
      throw ToolFailure(
        .malformedInput,
        "\(location): a record needs a string \"id\" (lines with an \"event\" key are events)")
    }
    if let doc = record.doc { self.doc = doc }
    // The first record's (a run's plan, merged first, says what the document is called now; a
    // section not rebuilt since its title changed keeps the old one in its record).
    if title == nil, let title = record.json["doc_title"]?.string { self.title = title }
    if author == nil, let author = record.json["inputs"]?["author"]?.string {
      self.author = author
    }
    let json = record.json
    let status = record.status ?? .pending
    let section = MergedSection(
      id: id,
      title: record.title ?? id,
      order: record.order,
      status: status,
      content: record.content,
      error: record.error,
      errorJSON: record.json["error"].flatMap { $0.kind == .object ? $0 : nil },
      seconds: json["timing"]?["seconds"]?.double,
      inputTokens: json["usage"]?["input_tokens"]?.int,
      outputTokens: json["usage"]?["output_tokens"]?.int,
      cachedInputTokens: json["usage"]?["cached_input_tokens"]?.int,
      cacheWriteTokens: json["usage"]?["cache_write_tokens"]?.int,
      attempts: json["attempts"]?.int,
      cost: json["cost"]?.double,
      data: FormatTypes.isJSON(json["format"]) ? json["data"] : nil,
      render: json["format"]?["render"]?.string,
      promptSet: json["prompt_set"]?.string ?? json["plan_id"]?.string ?? record.doc,
      planDir: json["plan_dir"]?.string,
      source: json["source"]?.string,
      inDocument: json["in_document"]?.bool != false,
      arrival: byID[id]?.arrival ?? arrivals)
    if byID[id] == nil { arrivals += 1 }
    byID[id] = section
  }

  /// The sections in document order: by `order`, then those without one as they came.
  public var sections: [MergedSection] {
    byID.values.sorted { a, b in
      switch (a.order, b.order) {
      case (let x?, let y?) where x != y: return x < y
      case (_?, nil): return true
      case (nil, _?): return false
      default: return a.arrival < b.arrival
      }
    }
  }

  /// The document's status (DESIGN.md section 5): `cancelled` if any section was cancelled,
  /// `paused` if any was held back by a pause, `ready` if all completed, `failed` if none did,
  /// `partial` otherwise.
  public var status: DocumentStatus {
    let all = Array(byID.values)
    if all.contains(where: { $0.status == .cancelled }) { return .cancelled }
    if all.contains(where: { $0.status == .paused }) { return .paused }
    let completed = all.filter { $0.status == .completed }.count
    if completed == 0 { return .failed }
    return completed == all.count ? .ready : .partial
  }

  private var displayTitle: String { title ?? doc ?? "Untitled document" }

  // MARK: - The document

  /// The document in `format`.
  public func render(_ format: DocumentFormat, omitMissing: Bool) -> String {
    switch format {
    case .markdown: return markdown(omitMissing: omitMissing)
    case .html: return html(omitMissing: omitMissing)
    case .json: return jsonDocument(omitMissing: omitMissing).compactText + "\n"
    }
  }

  private func included(_ omitMissing: Bool) -> [MergedSection] {
    sections.filter {
      (!omitMissing || $0.status == .completed) && ($0.inDocument || includeHidden)
    }
  }

  /// Markdown: the title, then one `##` heading per section with its content or a placeholder.
  public func markdown(omitMissing: Bool) -> String {
    var out = "# \(displayTitle)\n"
    for section in included(omitMissing) {
      out += "\n## \(section.title)\n\n"
      if section.status == .completed {
        let body = text(of: section)
        if !body.isEmpty { out += body + "\n" }
      } else {
        out += "> " + Self.placeholder(for: section) + "\n"
      }
    }
    return out
  }

  /// What a completed section shows: a JSON section's value as Markdown (its `render`
  /// template, else tables and lists), else its content.
  func text(of section: MergedSection) -> String {
    guard let data = section.data else { return Self.body(of: section) }
    return (renderData?(section) ?? JSONMarkdown.render(data)).trimmed
  }

  /// The content without a leading heading that repeats the section's title, trimmed.
  static func body(of section: MergedSection) -> String {
    var lines = (section.content ?? "").split(separator: "\n", omittingEmptySubsequences: false)
      .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
    while let first = lines.first, first.trimmed.isEmpty { lines.removeFirst() }
    if let first = lines.first, let heading = headingText(first),
      heading.caseInsensitiveCompare(section.title) == .orderedSame
    {
      lines.removeFirst()
      while let next = lines.first, next.trimmed.isEmpty { lines.removeFirst() }
    }
    while let last = lines.last, last.trimmed.isEmpty { lines.removeLast() }
    return lines.joined(separator: "\n")
  }

  /// The text of an ATX heading line (`## Title ##` gives `Title`), or `nil`.
  static func headingText(_ line: String) -> String? {
    let hashes = line.prefix(while: { $0 == "#" }).count
    guard (1...6).contains(hashes) else { return nil }
    let rest = line.dropFirst(hashes)
    guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { return nil }
    var text = String(rest).trimmed
    while text.hasSuffix("#") { text.removeLast() }
    return text.trimmed
  }

  /// One line saying why a section has no content and what to do.
  static func placeholder(for section: MergedSection) -> String {
    guard section.status.isFinal else {
      return "**Not generated yet** (\(section.status.rawValue))."
    }
    var text = "**Not generated** (\(section.status.rawValue)"
    if let error = section.error {
      text += ", \(error.type.rawValue)): \(error.shown)"
    } else {
      text += ")."
    }
    return text
  }

  /// A standalone HTML page; content is rendered by cmark, the HTML in it shown as text.
  public func html(omitMissing: Bool) -> String {
    func escape(_ text: String) -> String { Markup.escape(text) }
    var out = """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <title>\(escape(displayTitle))</title>
      <style>
      body { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; font: 17px/1.6 Georgia, serif; color: #222; }
      h1, h2, h3 { font-family: Helvetica, Arial, sans-serif; line-height: 1.25; }
      .missing { border-left: 4px solid #c33; background: #fdf2f2; padding: .5rem 1rem; }
      pre, code { background: #f5f5f5; } pre { padding: .75rem; overflow-x: auto; }
      </style>
      </head>
      <body>
      <h1>\(escape(displayTitle))</h1>

      """
    for section in included(omitMissing) {
      out += "<section id=\"\(escape(section.id))\" data-status=\"\(section.status.rawValue)\">\n"
      out += "<h2>\(escape(section.title))</h2>\n"
      if section.status == .completed {
        // A JSON table is written as HTML itself: cmark has no tables.
        if let data = section.data, section.render == nil || renderData == nil,
          let table = JSONMarkdown.html(data, markdown: Self.markdownToHTML)
        {
          out += table
        } else {
          out += Self.markdownToHTML(text(of: section))
        }
      } else {
        out +=
          "<div class=\"missing\">\(Self.markdownToHTML(Self.placeholder(for: section)))</div>\n"
      }
      out += "</section>\n"
    }
    out += "</body>\n</html>\n"
    return out
  }

  /// CommonMark to HTML through cmark, safe mode (dangerous links removed), with the HTML in it
  /// shown as text.
  static func markdownToHTML(_ markdown: String) -> String {
    // What the model wrote as HTML is shown as the characters it is, never run as markup.
    MarkdownDocument(markdown)?.htmlShowingMarkup() ?? ""
  }

  /// The whole document as one JSON object: doc, title, status, sections, summary.
  public func jsonDocument(omitMissing: Bool) -> JSON {
    let document = JSON.object()
    document["doc"] = doc.map { JSON($0) } ?? .null
    document["title"] = JSON(displayTitle)
    document["status"] = JSON(status.rawValue)
    document["sections"] = .array(
      included(omitMissing).map { section in
        let object = JSON.object()
        object["id"] = JSON(section.id)
        object["title"] = JSON(section.title)
        object["order"] = section.order.map { JSON($0) } ?? .null
        object["status"] = JSON(section.status.rawValue)
        object["content"] = section.status == .completed ? JSON(text(of: section)) : .null
        if let data = section.data { object["data"] = data.copy() }
        object["error"] = section.errorJSON?.copy() ?? .null
        return object
      })
    document["summary"] = summary()
    return document
  }

  // MARK: - The summary

  /// The summary (DESIGN.md section 8): status, each section, totals.
  public func summary() -> JSON {
    let all = sections
    func count(_ status: SectionStatus) -> Int { all.filter { $0.status == status }.count }
    let summary = JSON.object()
    summary["doc"] = doc.map { JSON($0) } ?? .null
    summary["title"] = JSON(displayTitle)
    summary["status"] = JSON(status.rawValue)
    summary["sections"] = .array(
      all.map { section in
        let object = JSON.object()
        object["id"] = JSON(section.id)
        object["order"] = section.order.map { JSON($0) } ?? .null
        object["title"] = JSON(section.title)
        object["status"] = JSON(section.status.rawValue)
        object["seconds"] = section.seconds.map { JSON($0) } ?? .null
        object["input_tokens"] = section.inputTokens.map { JSON($0) } ?? .null
        object["output_tokens"] = section.outputTokens.map { JSON($0) } ?? .null
        object["attempts"] = section.attempts.map { JSON($0) } ?? .null
        if let cost = section.cost { object["cost"] = JSON(cost) }
        object["source"] = section.source.map { JSON($0) } ?? .null
        object["error"] = section.errorJSON?.copy() ?? .null
        return object
      })
    let seconds = all.compactMap(\.seconds).reduce(0, +)
    summary["totals"] = .object([
      "sections": JSON(all.count),
      "completed": JSON(count(.completed)),
      "failed": JSON(count(.failed)),
      "skipped": JSON(count(.skipped)),
      "cancelled": JSON(count(.cancelled)),
      "paused": JSON(count(.paused)),
      "pending": JSON(all.filter { !$0.status.isFinal }.count),
      "seconds": JSON((seconds * 1000).rounded() / 1000),
      "input_tokens": JSON(all.compactMap(\.inputTokens).reduce(0, +)),
      "output_tokens": JSON(all.compactMap(\.outputTokens).reduce(0, +)),
      "cached_input_tokens": JSON(all.compactMap(\.cachedInputTokens).reduce(0, +)),
      "cache_write_tokens": JSON(all.compactMap(\.cacheWriteTokens).reduce(0, +)),
    ])
    // A total only of figures that exist: no price known, no cost.
    let costs = all.compactMap(\.cost)
    if !costs.isEmpty { summary["totals"]?["cost"] = JSON(Price.rounded(costs.reduce(0, +))) }
    return summary
  }

  /// One line for people: `prd: partial — 10 of 12 sections completed (1 failed, 1 skipped)`.
  public var statusLine: String {
    let all = Array(byID.values)
    let completed = all.filter { $0.status == .completed }.count
    var others: [String] = []
    for status in [SectionStatus.failed, .skipped, .cancelled, .paused] {
      let n = all.filter { $0.status == status }.count
      if n > 0 { others.append("\(n) \(status.rawValue)") }
    }
    let waiting = all.filter { !$0.status.isFinal }.count
    if waiting > 0 { others.append("\(waiting) not done") }
    let tail = others.isEmpty ? "" : " (\(others.joined(separator: ", ")))"
    return
      "\(doc ?? "document"): \(status.rawValue) — \(completed) of \(all.count) sections completed\(tail)"
  }
}
