import Foundation
import Mustache
import SheafCore

/// An optional value that is not there: it renders as nothing and a section over it is skipped
/// (`{{#section.min_words}}…{{/section.min_words}}`), where `false` would print "false".
struct Absent: MustacheCustomRenderable {
  var renderText: String { "" }
  var isNull: Bool { true }
}

/// build-prompt's settings.
public struct PromptOptions {
  /// Extra prompt folders, searched first (`--prompts`).
  public var promptDirs: [String] = []
  /// The prompt set (`--set`); else the record's `prompt_set`; else its `doc`.
  public var set: String?
  /// A run's `sections/` folder, where the content of other sections is read (`--context`).
  public var contextDir: String?
  /// Render names the data does not have as empty instead of failing (`--lax`).
  public var lax = false
  /// A budget for the prompt (`--max-input-tokens`); else the record's `llm.max_input_tokens`.
  public var maxInputTokens: Int?
  /// Which other sections a prompt names (`--outline`): every one (`all`), only those of the
  /// selection (`selected`: plan-sections `--only`), or none.
  public var outline = "all"
  /// Where summaries of earlier sections are kept (`--summaries`, a run's `summaries/`): context
  /// that does not fit the budget is given as the summaries found there before any is dropped.
  public var summariesDir: String?
  /// Write the summary requests the records need (`--summary-requests`) instead of the records.
  public var summaryRequests = false
  /// The request settings given on the command line (the run's copy of call-llm's flags), for
  /// the fingerprint: they win over `SHEAF_*` and the plan, as in call-llm.
  public var request: JSON?
  /// The rules that only warn (the run's WARN), part of the format the answer is judged by.
  public var warn: [String] = []
  /// The environment (`SHEAF_PROVIDER`, `SHEAF_MODEL`, `SHEAF_BASE_URL` shape the fingerprint).
  public var environment: [String: String] = ProcessInfo.processInfo.environment

  /// The defaults.
  public init() {}
}

/// Turns a planned record into `messages`: the set's `shared_context` as the system message,
/// the section's template as the user message.
public final class PromptBuilder {
  private let options: PromptOptions
  private let library: TemplateLibrary
  /// The latest `outline` event's sections, by document.
  private var outlines: [String: JSON] = [:]
  private var sectionFiles:
    [String: (content: String, source: String, order: Int, title: String)?] = [:]
  /// System messages already rendered, for templates that read only `doc` (the usual case: the
  /// same system message for every section of a document), by template and document.
  private var systemMessages: [String: String] = [:]

  /// A builder with these options.
  public init(options: PromptOptions) {
    self.options = options
    library = TemplateLibrary(promptDirs: options.promptDirs)
    if let dir = options.summariesDir {
      summaries = ContextSummaries(
        directory: dir, environment: options.environment, given: options.request)
    }
  }

  private var summaries: ContextSummaries?
  /// The summary requests the records built so far need (`--summary-requests`), once each.
  public private(set) var pendingSummaries: [JSON] = []
  private var pendingKeys: Set<String> = []

  /// Remembers the sections of an `outline` event (plan-sections writes one before the records).
  public func observe(event: JSON) {
    guard event["event"]?.string == Event.Name.outline.rawValue, let sections = event["sections"],
      sections.kind == .array
    else { return }
    outlines[event["doc"]?.string ?? ""] = sections
  }

  /// The record with `messages` (status `pending`), or failed with a `template` or
  /// `context_length` error; finished records (completed, skipped, cancelled) come back unchanged.
  /// - Throws: `ToolFailure` when a template does not parse (a usage error).
  public func build(_ record: Record) throws -> JSON {
    let json = record.json
    if let status = record.status,
      status == .completed || status == .skipped || status == .cancelled
    {
      return json
    }
    let id = record.id ?? "?"
    let resolved: Templates
    switch resolve(json, id: id, doc: record.doc) {
    case .success(let found): resolved = found
    case .failure(let error): return fail(json, error)
    }
    let (system, user, partials, folders) = (
      resolved.system, resolved.user, resolved.partials, resolved.folders
    )
    var context = loadContext(json)
    // The content of each section used, before any is cut to fit the budget.
    let used = usedContent(json, context)
    let outlineTitles = self.outlineTitles(json, context: context)
    var data = variables(json, context: context)
    var systemKey: String?
    if Self.readsOnlyDoc(system.nodes) {
      systemKey = [
        system.path, json["doc"]?.compactText ?? "", json["doc_title"]?.compactText ?? "",
        json["inputs"]?.compactText ?? "",
      ]
      .joined(separator: "\u{0}")
    }
    let cachedSystem = systemKey.flatMap { systemMessages[$0] }
    if !options.lax {
      for template in cachedSystem == nil ? [system, user] : [user] {
        do {
          try TemplateCheck.check(template.nodes, stack: [data], file: template.path) { name in
            guard let path = self.library.find(name, in: folders) else { return nil }
            return (path, try self.library.load(path).nodes)
          }
        } catch let missing as MissingReference {
          let what =
            missing.name.hasPrefix(">")
            ? "no partial '\(missing.name.dropFirst())'" : "no variable '\(missing.name)'"
          let known =
            missing.known.isEmpty ? "" : " (here: \(missing.known.joined(separator: ", ")))"
          return fail(
            json,
            SheafError(
              .template, "\(missing.file):\(missing.line): \(what)\(known)",
              hint: "fix the template, or pass --lax to render missing names as empty"))
        }
      }
    }

    // Render; while the prompt is over its budget, give the oldest context in full as a
    // summary (when summaries are on), and only then empty the oldest, titles kept.
    let budget = options.maxInputTokens ?? json["llm"]?["max_input_tokens"]?.int
    var truncated: [String] = []
    var summarized: [String] = []
    var systemText = cachedSystem ?? Self.tidy(system.template.render(data, library: partials))
    if let systemKey, cachedSystem == nil { systemMessages[systemKey] = systemText }
    var userText = user.template.render(data, library: partials)
    func isSet(_ entry: [String: Any], _ key: String) -> Bool { entry[key] as? Bool ?? false }
    func oldest(_ keep: ([String: Any]) -> Bool) -> Int? {
      context.indices.filter { keep(context[$0]) }
        .min(by: { (context[$0]["order"] as? Int ?? 0) < (context[$1]["order"] as? Int ?? 0) })
    }
    while let budget, Self.estimateTokens(systemText + userText) > budget {
      if let summaries,
        let index = oldest({
          !isSet($0, "truncated") && !isSet($0, "summarized") && !isSet($0, "unsummarizable")
        })
      {
        let entry = context[index]
        let entryID = entry["id"] as? String ?? "?"
        // A section no longer than its summary would be stays as it is.
        let words = (entry["content"] as? String ?? "").split(whereSeparator: \.isWhitespace).count
        if words <= ContextSummaries.words(json) {
          context[index]["unsummarizable"] = true
          continue
        }
        let request = summaryRequest(json, entry: entry, folders: folders, data: data)
        switch request.map({ summaries.lookup($0) }) {
        case .success(.found(let text)):
          context[index]["content"] = text
          context[index]["summarized"] = true
          summarized.append(entryID)
        case .success(.missing(let request, let key)) where options.summaryRequests:
          // Asked for by the summary step; counted here at its longest, as it will be.
          if pendingKeys.insert(key).inserted { pendingSummaries.append(request) }
          context[index]["content"] = String(
            repeating: "word ", count: ContextSummaries.words(json))
          context[index]["summarized"] = true
          summarized.append(entryID)
        case .success(.missing):
          context[index]["unsummarizable"] = true
          Diagnostics.say(
            "build-prompt",
            "warning: section '\(id)': no summary of '\(entryID)' in \(summaries.directory) (the summary step did not make it); its text stays in full, cut only if the prompt still does not fit"
          )
          continue
        case .failure(let error):
          context[index]["unsummarizable"] = true
          Diagnostics.say(
            "build-prompt",
            "warning: section '\(id)': no summary of '\(entryID)' (\(error.message)); its text stays in full, cut only if the prompt still does not fit"
          )
          continue
        }
      } else {
        guard let index = oldest({ !isSet($0, "truncated") }) else {
          return fail(
            json,
            SheafError(
              .contextLength,
              "the prompt for section '\(id)' needs about \(Self.estimateTokens(systemText + userText)) tokens without any context; the budget is \(budget)",
              hint: "shorten the document inputs or the template, or raise max_input_tokens"))
        }
        let entryID = context[index]["id"] as? String ?? "?"
        context[index]["content"] = ""
        context[index]["truncated"] = true
        context[index]["summarized"] = false
        summarized.removeAll { $0 == entryID }
        truncated.append(entryID)
      }
      data = variables(json, context: context)
      if systemKey == nil {
        systemText = Self.tidy(system.template.render(data, library: partials))
      }
      userText = user.template.render(data, library: partials)
    }

    json["messages"] = .array([
      .object(["role": JSON("system"), "content": JSON(systemText)]),
      .object(["role": JSON("user"), "content": JSON(Self.tidy(userText))]),
    ])
    json["context_ids"] = .array(context.compactMap { $0["id"] as? String }.map { JSON($0) })
    json["context_summarized"] =
      summarized.isEmpty ? nil : .array(summarized.map { JSON($0) })
    json["context_truncated"] = truncated.isEmpty ? nil : .array(truncated.map { JSON($0) })
    let templateFiles = resolved.files
    json["template_files"] = .array(templateFiles.map { JSON($0) })
    json["status"] = JSON(SectionStatus.pending.rawValue)
    for stale in [
      "error", "violations", "content", "reasoning", "data", "warnings", "repaired", "repairs",
    ] {
      json[stale] = nil
    }
    // What the section is built from: every section it uses (content, or none yet), the other
    // sections' titles, the templates.
    json["fingerprint"] = Fingerprint.make(
      json, templateFiles: templateFiles, context: used, outline: outlineTitles,
      options: optionsKey, settings: settingsFor(json), prompt: json["messages"]?.compactText)
    return json
  }

  /// The request for a summary of one context section: one system message for all, then the
  /// set's `_summary.mustache` (or the shipped default set's), which sees `doc`, `section` (the
  /// one summarized: `id`, `title`), `content` and `summary_words`; the record's provider,
  /// model and address at temperature 0.2 with room for the summary; a Markdown format of at
  /// most `summary_words` words.
  func summaryRequest(
    _ json: JSON, entry: [String: Any], folders: [String], data: [String: Any]
  ) -> Result<JSON, SheafError> {
    guard let path = library.find("_summary", in: folders + TemplateLibrary.shippedDefault) else {
      return .failure(
        SheafError(.template, "no _summary.mustache in the prompt set or sheaf's default set"))
    }
    let template: CompiledTemplate
    do { template = try library.load(path) } catch let failure as ToolFailure {
      return .failure(SheafError(.template, failure.message))
    } catch { return .failure(SheafError(.template, "\(error)")) }
    let words = ContextSummaries.words(json)
    let id = entry["id"] as? String ?? "?"
    let title = entry["title"] as? String ?? id
    var values = data
    values["section"] = ["id": id, "title": title]
    values["content"] = entry["content"] as? String ?? ""
    values["summary_words"] = words
    let text = Self.tidy(template.template.render(values, library: MustacheLibrary()))
    let request = JSON.object()
    request["doc"] = json["doc"]?.copy()
    // Its own id: its events are not the summarized section's.
    request["id"] = JSON("\(id)~summary")
    request["title"] = JSON("Summary of \(title)")
    request["description"] = JSON("What happens in \(title), for the sections that follow it.")
    request["summary_of"] = JSON(id)
    let format = JSON.object()
    format["type"] = JSON("markdown")
    format["min_words"] = JSON(max(10, words / 3))
    format["max_words"] = JSON(words)
    request["format"] = format
    // Who answers, and how long to wait, from the section; the rest fixed, so every section
    // that needs this summary asks the same request (and finds it made).
    let llm = JSON.object()
    for key in ["provider", "model", "base_url", "timeout_s", "retries", "num_ctx", "extra"] {
      if let value = json["llm"]?[key] { llm[key] = value.copy() }
    }
    llm["temperature"] = JSON(0.2)
    llm["max_tokens"] = JSON(max(256, words * 3))
    request["llm"] = llm
    // One system message for every summary, so that every section that needs one asks the
    // same request.
    let system =
      "You write short, faithful summaries of a document's sections for the writers of the sections that follow them."
    request["messages"] = .array([
      .object(["role": JSON("system"), "content": JSON(system)]),
      .object(["role": JSON("user"), "content": JSON(text)]),
    ])
    request["status"] = JSON(SectionStatus.pending.rawValue)
    return .success(request)
  }

  /// The sections a record uses: `depends_on`, then `context`, each once.
  static func usedIDs(_ json: JSON) -> [String] {
    var ids: [String] = []
    for key in ["depends_on", "context"] {
      for id in json[key]?.array?.compactMap(\.string) ?? [] where !ids.contains(id) {
        ids.append(id)
      }
    }
    return ids
  }

  /// The templates that render a record, found and compiled.
  struct Templates {
    var system: CompiledTemplate
    var user: CompiledTemplate
    var partials: MustacheLibrary
    var files: [String]
    var folders: [String]
  }

  /// Finds and compiles a record's templates (the system message, the section's template or
  /// `default`, the partials they use), or the `template` error that stops it.
  private func resolve(_ json: JSON, id: String, doc: String?) -> Result<Templates, SheafError> {
    let named = options.set != nil || json["prompt_set"]?.string != nil
    let set = options.set ?? json["prompt_set"]?.string ?? doc ?? "default"
    let folders = library.folders(set: set, planDir: json["plan_dir"]?.string, named: named)
    let templateName = json["template"]?.string ?? id
    // Names, never paths: a record cannot point build-prompt at a file outside the prompt folders.
    for (field, name) in [("prompt_set", set), ("template", templateName)]
    where !PromptName.isValid(name) {
      return .failure(
        SheafError(
          .template,
          "section '\(id)': \(field) '\(name)' is not a name (a-z, A-Z, 0-9, '_' and '-'; no '/' or '..')",
          hint:
            "name a prompt set or template, not a path; pass --prompts DIR for a folder of your own"
        ))
    }
    guard let systemPath = library.find("shared_context", in: folders) else {
      let planDir = json["plan_dir"]?.string ?? "."
      let looked =
        library.candidates(set: set, planDir: json["plan_dir"]?.string).filter { folder in
          !TemplateLibrary.shippedRoots.contains { folder.hasPrefix($0 + "/") }
        } + ["sheaf's own sets"]
      return .failure(
        SheafError(
          .template,
          "no prompt set '\(set)' (looked in \(looked.joined(separator: ", ")))",
          hint:
            "put its files in \(planDir)/prompts/\(set)/ (shared_context.mustache, default.mustache), or drop prompt_set to use the default set"
        ))
    }
    // sheaf's own steps (`_revise`) fall back to the default set's, never to a section template.
    let own = templateName.hasPrefix("_")
    guard
      let userPath = own
        ? library.find(templateName, in: folders + TemplateLibrary.shippedDefault)
        : library.find(templateName, in: folders) ?? library.find("default", in: folders)
    else {
      return .failure(
        SheafError(
          .template,
          "no template '\(templateName).mustache' or 'default.mustache' for section '\(id)' in prompt set '\(set)' (looked in \(folders.joined(separator: ", ")))",
          hint:
            "add prompts/\(set)/\(templateName).mustache, or set the section's template in the plan"
        ))
    }
    // A template that does not parse fails the records that use it; the others go on.
    do {
      let system = try library.load(systemPath)
      let user = try library.load(userPath)
      let (partials, partialFiles) = try library.library(for: [system, user], folders: folders)
      return .success(
        Templates(
          system: system, user: user, partials: partials,
          files: [systemPath, userPath] + partialFiles.sorted(), folders: folders))
    } catch let failure as ToolFailure {
      return .failure(
        SheafError(.template, failure.message, hint: "fix the template: it does not parse"))
    } catch {
      return .failure(SheafError(.template, "\(error)"))
    }
  }

  /// The fingerprint a record would get, without rendering it: every part the prompt is made of
  /// (what `build` hashes), so that checking a run costs no rendering; `nil` when the record
  /// cannot be built (a template error).
  public func fingerprint(_ record: Record) -> JSON? {
    let json = record.json
    guard case .success(let templates) = resolve(json, id: record.id ?? "?", doc: record.doc)
    else { return nil }
    let context = loadContext(json)
    return Fingerprint.make(
      json, templateFiles: templates.files, context: usedContent(json, context),
      outline: outlineTitles(json, context: context), options: optionsKey,
      settings: settingsFor(json), prompt: nil)
  }

  /// What shapes the request and judges the answer, for the fingerprint: the request settings
  /// as call-llm resolves them (`RequestSettings`), and the rules that only warn.
  func settingsFor(_ json: JSON) -> Fingerprint.Settings {
    Fingerprint.Settings(
      request: RequestSettings.effective(
        llm: json["llm"], given: options.request, environment: options.environment),
      warn: options.warn)
  }

  /// What of the options shapes a prompt, for the fingerprint.
  var optionsKey: String {
    [
      options.promptDirs.joined(separator: "\u{1}"), options.set ?? "", options.lax ? "lax" : "",
      options.maxInputTokens.map(String.init) ?? "",
    ].joined(separator: "\u{0}") + (options.outline == "all" ? "" : "\u{0}" + options.outline)
  }

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
    outlines[doc ?? ""]?.array?.first { $0["id"]?.string == id }?["title"]?.string
  }

  /// The other sections a prompt names (`id` and `title`), as the fingerprint sees them.
  func outlineTitles(_ json: JSON, context: [[String: Any]]) -> [String] {
    outlineEntries(json, context: context).map {
      "\($0["id"] as? String ?? "")\u{1}\($0["title"] as? String ?? "")"
    }
  }

  /// The other sections of the run, except those whose content the prompt already shows: `id`,
  /// `title`, `order`, and an empty `description` (titles only: a prompt does not change when
  /// another section's description is edited).
  func outlineEntries(_ json: JSON, context: [[String: Any]]) -> [[String: Any]] {
    var shown = Set(context.compactMap { $0["id"] as? String })
    if let own = json["id"]?.string { shown.insert(own) }
    guard options.outline != "none" else { return [] }
    let given = json["outline"] ?? outlines[json["doc"]?.string ?? ""]
    return (given?.array ?? []).compactMap { entry in
      guard let id = entry["id"]?.string, !shown.contains(id) else { return nil }
      if options.outline == "selected" && entry["selected"]?.bool == false { return nil }
      return [
        "id": id, "title": entry["title"]?.string ?? id, "description": "",
        "order": entry["order"]?.int ?? 0,
      ]
    }
  }

  /// Whether a template reads nothing but `doc` (and has no partials, which could read more).
  static func readsOnlyDoc(_ nodes: [TemplateNode]) -> Bool {
    nodes.allSatisfy { node in
      switch node {
      case .variable(let name, _): return name == "doc" || name.hasPrefix("doc.")
      case .section(let name, _, _, let children):
        return (name == "doc" || name.hasPrefix("doc.")) && readsOnlyDoc(children)
      case .partial: return false
      }
    }
  }

  private func fail(_ json: JSON, _ error: SheafError) -> JSON {
    json["status"] = JSON(SectionStatus.failed.rawValue)
    json["error"] = error.json
    return json
  }

  /// About four characters a token: a budget check, not a tokenizer.
  static func estimateTokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

  /// Trims the ends and folds runs of three or more newlines (left by empty sections) to two;
  /// works on UTF-8 bytes, which is many times faster than on Characters.
  static func tidy(_ text: String) -> String {
    let bytes = Array(text.utf8)
    func isSpace(_ byte: UInt8) -> Bool {
      byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D
    }
    var start = 0
    var end = bytes.count
    while start < end && isSpace(bytes[start]) { start += 1 }
    while end > start && isSpace(bytes[end - 1]) { end -= 1 }
    var out: [UInt8] = []
    out.reserveCapacity(end - start)
    var newlines = 0
    for byte in bytes[start..<end] {
      if byte == 0x0A {
        newlines += 1
        if newlines > 2 { continue }
      } else {
        newlines = 0
      }
      out.append(byte)
    }
    return String(decoding: out, as: UTF8.self)
  }

  // MARK: - Variables

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
    let outline = outlineEntries(json, context: context)
    let feedback: [[String: Any]] = (json["violations"]?.array ?? []).map { violation in
      [
        "rule": violation["rule"]?.string ?? "", "message": violation["message"]?.string ?? "",
        "path": violation["path"]?.string ?? Absent(),
      ]
    }
    let previous = feedback.isEmpty ? nil : json["content"]?.string
    return [
      "doc": doc, "section": section, "context": context, "outline": outline, "feedback": feedback,
      "previous_answer": previous ?? Absent(), "has_context": !context.isEmpty,
      "has_outline": !outline.isEmpty,
      "has_feedback": !feedback.isEmpty,
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

  private func sectionFile(_ id: String, in dir: String) -> (
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
