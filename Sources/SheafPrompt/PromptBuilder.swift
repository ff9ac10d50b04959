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
  /// The prompt set (`--set`); else the record's `prompt_set`; else its `plan_id`, else its `doc`.
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
  let options: PromptOptions
  let library: TemplateLibrary
  /// The latest `outline` event's sections, by document.
  var outlines: [String: JSON] = [:]
  var sectionFiles: [String: (content: String, source: String, order: Int, title: String)?] = [:]
  /// System messages already rendered, for templates that read only `doc` (the usual case: the
  /// same system message for every section of a document), by template and document.
  var systemMessages: [String: String] = [:]
  /// Each outline's titles by section id, by document (made once per outline).
  var outlineTitleIndex: [String: [String: String]] = [:]
  /// Each outline's entries and their orders, by the outline (kept alive with it).
  var outlineOrders: [ObjectIdentifier: (outline: JSON, entries: [JSON], orders: [Int])] = [:]
  /// The number of sections in each document's plan when its outline event holds only some of
  /// them (plan-sections `--only` on a long plan), by document.
  var outlineTotals: [String: Int] = [:]

  /// A builder with these options.
  public init(options: PromptOptions) {
    self.options = options
    library = TemplateLibrary(promptDirs: options.promptDirs)
    if let dir = options.summariesDir {
      summaries = ContextSummaries(
        directory: dir, environment: options.environment, given: options.request)
    }
  }

  var summaries: ContextSummaries?
  /// The summary requests the records built so far need (`--summary-requests`), once each.
  public internal(set) var pendingSummaries: [JSON] = []
  var pendingKeys: Set<String> = []

  /// Remembers the sections of an `outline` event (plan-sections writes one before the records).
  public func observe(event: JSON) {
    guard event["event"]?.string == Event.Name.outline.rawValue, let sections = event["sections"],
      sections.kind == .array
    else { return }
    outlines[event["doc"]?.string ?? ""] = sections
    outlineTitleIndex[event["doc"]?.string ?? ""] = nil
    outlineTotals[event["doc"]?.string ?? ""] = event["total"]?.int
  }

  /// The record with `messages` (status `pending`), or failed with a `template` or
  /// `context_length` error; finished records (completed, skipped, cancelled) come back unchanged.
  /// - Throws: `ToolFailure` when a template does not parse (a usage error).
  public func build(_ record: Record) throws -> JSON {
    let json = record.json
    if let status = record.status,
      status == .completed || status == .skipped || status == .cancelled || status == .paused
    {
      return json
    }
    let id = record.id ?? "?"
    let resolved: Templates
    switch resolve(json, id: id, doc: record.doc) {
    case .success(let found): resolved = found
    case .failure(let error): return fail(json, error)
    }
    var prompt = Prompt(json: json, id: id, templates: resolved, context: loadContext(json))
    // The content of each section used, before any is cut to fit the budget.
    let used = usedContent(json, prompt.context)
    let outlineTitles = self.outlineTitles(json, context: prompt.context)
    prompt.data = variables(json, context: prompt.context)
    let cachedSystem = prompt.systemKey.flatMap { systemMessages[$0] }
    if let error = try checkTemplates(prompt, systemToo: cachedSystem == nil) {
      return fail(json, error)
    }
    prompt.systemText = cachedSystem ?? render(prompt, system: true)
    if let key = prompt.systemKey, cachedSystem == nil { systemMessages[key] = prompt.systemText }
    prompt.userText = render(prompt, system: false)
    if let error = fitBudget(&prompt) { return fail(json, error) }
    return finish(prompt, used: used, outlineTitles: outlineTitles)
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
    /// What of the document they read (for the fingerprint).
    var reads: TemplateReads
  }

  /// Finds and compiles a record's templates (the system message, the section's template or
  /// `default`, the partials they use), or the `template` error that stops it.
  func resolve(_ json: JSON, id: String, doc: String?) -> Result<Templates, SheafError> {
    let named = options.set != nil || json["prompt_set"]?.string != nil
    // A document of a set (`plan_id`) finds the set its plan would: the plan's id, not its own.
    let set =
      options.set ?? json["prompt_set"]?.string ?? json["plan_id"]?.string ?? doc ?? "default"
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
      let (partials, partialFiles, reads) = try library.library(
        for: [system, user], folders: folders)
      return .success(
        Templates(
          system: system, user: user, partials: partials,
          files: [systemPath, userPath] + partialFiles.sorted(), folders: folders, reads: reads))
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
      json, templateFiles: templates.files, reads: templates.reads,
      context: usedContent(json, context),
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

  func fail(_ json: JSON, _ error: SheafError) -> JSON {
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

}
