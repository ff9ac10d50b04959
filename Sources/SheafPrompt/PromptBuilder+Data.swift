import Foundation
import Mustache
import SheafCore

extension PromptBuilder {
  /// The content of each section a record uses (`nil`: it has none yet), before any is cut to
  /// fit the budget.
  func usedContent(_ json: JSON, _ context: [[String: Any]]) -> [String: String?] {
    var used: [String: String?] = [:]
    for id in Self.usedIDs(json) { used[id] = .some(nil) }
    for entry in context {
      // Its title is shown with its content.
      if let id = entry["id"] as? String, let content = entry["content"] as? String {
        used[id] = (entry["title"] as? String ?? "") + "\u{1}" + content
      }
    }
    return used
  }

  /// A section's title from the run's outline.
  func outlineTitle(_ id: String, doc: String?) -> String? {
    let key = doc ?? ""
    if let known = outlineTitleIndex[key] { return known[id] }
    var titles: [String: String] = [:]
    for entry in outlines[key]?.array ?? [] {
      if let entryID = entry["id"]?.string, titles[entryID] == nil {
        titles[entryID] = entry["title"]?.string
      }
    }
    outlineTitleIndex[key] = titles
    return titles[id]
  }

  /// The outline entries a record's prompt may list (`OutlineWindow`: up to 100 nearest it in
  /// order, itself included here), and how many of the document's other sections are left out.
  func outlineWindow(_ json: JSON) -> (entries: ArraySlice<JSON>, own: Int?, more: Int) {
    guard options.outline != "none" else { return ([], nil, 0) }
    let doc = json["doc"]?.string ?? ""
    guard let given = json["outline"] ?? outlines[doc] else { return ([], nil, 0) }
    let key = ObjectIdentifier(given)
    let known: (outline: JSON, entries: [JSON], orders: [Int])
    if let cached = outlineOrders[key] {
      known = cached
    } else {
      let entries = given.array ?? []
      known = (given, entries, entries.map { $0["order"]?.int ?? 0 })
      // Only the document's outline (its event, shared by every record) is kept: a record's own
      // outline is one object per record, and keeping each would grow with the stream.
      if json["outline"] == nil { outlineOrders[key] = known }
    }
    let order = json["order"]?.int ?? 0
    let (range, own) = OutlineWindow.window(orders: known.orders, around: order)
    let total = (json["outline"] == nil ? outlineTotals[doc] : nil) ?? known.entries.count
    // The range spans the section's own entry when the outline has it.
    let listed = range.count - (own == nil ? 0 : 1)
    return (known.entries[range], own, max(0, total - (own == nil ? 0 : 1) - listed))
  }

  /// The other sections a prompt names, as the fingerprint sees them: the window of the outline
  /// it lists (ids and titles, its own entry included) and the sections this prompt leaves out
  /// of it (itself and those it shows in full).
  func outlineTitles(_ json: JSON, context: [[String: Any]]) -> [String] {
    guard options.outline != "none" else { return [] }
    let given = json["outline"] ?? outlines[json["doc"]?.string ?? ""]
    guard given != nil else { return [] }
    let selected = options.outline == "selected"
    let entries = outlineWindow(json).entries.compactMap { entry -> String? in
      guard let id = entry["id"]?.string else { return nil }
      if selected && entry["selected"]?.bool == false { return nil }
      return "\(id)\u{1}\(entry["title"]?.string ?? id)"
    }
    let hash = Fingerprint.hash(entries.joined(separator: "\u{0}"))
    var shown = Set(context.compactMap { $0["id"] as? String })
    if let own = json["id"]?.string { shown.insert(own) }
    return [hash] + shown.sorted()
  }

  /// The other sections of the run in the prompt's window, except those whose content the
  /// prompt already shows: `id`, `title`, `order`, and an empty `description` (titles only: a
  /// prompt does not change when another section's description is edited).
  func outlineEntries(_ json: JSON, context: [[String: Any]]) -> [[String: Any]] {
    var shown = Set(context.compactMap { $0["id"] as? String })
    if let own = json["id"]?.string { shown.insert(own) }
    guard options.outline != "none" else { return [] }
    let window = outlineWindow(json)
    var entries: [[String: Any]] = window.entries.compactMap { entry in
      guard let id = entry["id"]?.string, !shown.contains(id) else { return nil }
      if options.outline == "selected" && entry["selected"]?.bool == false { return nil }
      return [
        "id": id, "title": entry["title"]?.string ?? id, "description": "",
        "order": entry["order"]?.int ?? 0,
      ]
    }
    // A long plan's window says what it leaves out, as one more line of the list every set
    // already shows (so no template changes, and no fingerprint of a short plan either).
    if window.more > 0, !entries.isEmpty {
      entries.append([
        "id": "", "title": "… and \(window.more) more", "description": "", "order": Int.max,
      ])
    }
    return entries
  }

  /// The variables a template sees: `doc`, `section`, `context`, `outline`, `feedback`,
  /// `previous_answer`, and `has_context`, `has_outline`, `has_feedback` for headings.
  ///
  /// An optional value that is absent is `Absent`: it renders empty (never "false"), and
  /// `{{#name}}` skips it
  /// and the reference check still knows the name.
  func variables(_ json: JSON, context: [[String: Any]]) -> [String: Any] {
    var inputs: [String: Any] = [:]
    var inputList: [[String: Any]] = []
    for (key, value) in json["inputs"]?.members ?? [] {
      inputs[key] = Self.plain(value)
      // Every input but the audience, as a list, for a set that does not know their names.
      if key != "audience" {
        inputList.append(["name": key, "text": value.string ?? value.compactText])
      }
    }
    let doc: [String: Any] = [
      "id": json["doc"]?.string ?? "",
      "title": json["doc_title"]?.string ?? json["doc"]?.string ?? "",
      "inputs": inputs, "inputs_list": inputList,
      "audience": inputs["audience"] ?? Absent(),
    ]
    var section: [String: Any] = [:]
    for (key, value) in json.members where !RecordFields.names.contains(key) {
      section[key] = Self.plain(value)
    }
    section["id"] = json["id"]?.string ?? ""
    section["title"] = json["title"]?.string ?? json["id"]?.string ?? ""
    section["description"] = json["description"]?.string ?? ""
    section["order"] = json["order"]?.int ?? 0
    section["stage"] = json["stage"]?.int ?? 1
    section["mode"] = json["mode"]?.string ?? Absent()
    section["instructions"] =
      (json["instructions"]?.string).flatMap { $0.trimmed.isEmpty ? nil : $0 } ?? Absent()
    let format = json["format"]
    let low = format?["min_words"]?.int
    let high = format?["max_words"]?.int
    section["min_words"] = low ?? Absent()
    section["max_words"] = high ?? Absent()
    switch (low, high) {
    case (let low?, let high?): section["target_words"] = "\(low)–\(high)"
    case (let low?, nil): section["target_words"] = "at least \(low)"
    case (nil, let high?): section["target_words"] = "at most \(high)"
    default: section["target_words"] = Absent()
    }
    // A JSON section: `section.json` (and its schema, as text) for the templates to say so.
    let wantsJSON = FormatTypes.isJSON(format)
    section["json"] = wantsJSON ? true : Absent()
    section["schema"] = wantsJSON ? (format?["schema"]?.compactText ?? Absent()) : Absent()
    let outline = outlineEntries(json, context: context)
    let feedback: [[String: Any]] = (json["violations"]?.array ?? []).map { violation in
      [
        "rule": violation["rule"]?.string ?? "", "message": violation["message"]?.string ?? "",
        "path": violation["path"]?.string ?? Absent(),
      ]
    }
    let previous = feedback.isEmpty ? nil : json["content"]?.string
    let more = outline.isEmpty ? 0 : outlineWindow(json).more
    return [
      "doc": doc, "section": section, "context": context, "outline": outline, "feedback": feedback,
      "previous_answer": previous ?? Absent(),
      // Present or absent, never the word false.
      "has_context": context.isEmpty ? Absent() : true,
      "has_outline": outline.isEmpty ? Absent() : true,
      // The other sections a long plan's window leaves out (a number, absent when none).
      "outline_more": more > 0 ? more : Absent(),
      "has_feedback": feedback.isEmpty ? Absent() : true,
    ]
  }

  /// The content of the section's `depends_on` and `context` sections that have any, in document
  /// order: a person's edit of `<id>.md` wins over the record `<id>.json`; records that did not
  /// complete are not used.
  func loadContext(_ json: JSON) -> [[String: Any]] {
    guard let dir = options.contextDir else { return [] }
    var entries: [[String: Any]] = []
    for (position, id) in Self.usedIDs(json).enumerated() {
      guard Slug.isValid(id), let found = sectionFile(id, in: dir) else { continue }
      // A record that cannot be read gives no title: the plan's outline does.
      let title =
        found.title != id
        ? found.title : outlineTitle(id, doc: json["doc"]?.string) ?? found.title
      entries.append([
        "id": id, "title": title, "content": found.content, "source": found.source,
        "order": found.order > 0 ? found.order : 10_000 + position, "truncated": false,
        "summarized": false,
      ])
    }
    return entries.sorted { ($0["order"] as? Int ?? 0) < ($1["order"] as? Int ?? 0) }
  }

  func sectionFile(_ id: String, in dir: String) -> (
    content: String, source: String, order: Int, title: String
  )? {
    if let cached = sectionFiles[id] { return cached }
    var result: (content: String, source: String, order: Int, title: String)?
    let record = FileManager.default.contents(atPath: "\(dir)/\(id).json").flatMap { data in
      try? data.withUnsafeBytes { try JSON.parse($0) }
    }
    let markdown = FileManager.default.contents(atPath: "\(dir)/\(id).md").flatMap {
      String(data: $0, encoding: .utf8)
    }
    let title = record?["title"]?.string ?? id
    let order = record?["order"]?.int ?? 0
    let completed = record?["status"]?.string == SectionStatus.completed.rawValue
    let recorded = completed ? record?["content"]?.string : nil
    if let markdown, markdown.trimmed != (recorded ?? "").trimmed, !markdown.trimmed.isEmpty {
      result = (markdown.trimmed, "human", order, title)
    } else if let recorded, !recorded.trimmed.isEmpty {
      result = (recorded.trimmed, record?["source"]?.string ?? "llm", order, title)
    }
    sectionFiles[id] = result
    return result
  }

  /// A JSON value as the plain Swift values swift-mustache reads; `null` and `""` are absent.
  static func plain(_ value: JSON) -> Any {
    switch value.kind {
    case .object:
      var object: [String: Any] = [:]
      for (key, member) in value.members { object[key] = plain(member) }
      return object
    case .array: return (value.array ?? []).map(plain)
    // An empty string is nothing: `{{#section.pov}}…{{/section.pov}}` skips it.
    case .string: return (value.string ?? "").isEmpty ? Absent() : value.string ?? ""
    case .number: return value.int.map { $0 as Any } ?? value.numberLiteral ?? ""
    case .bool: return value.bool ?? false
    case .null: return Absent()
    }
  }
}
