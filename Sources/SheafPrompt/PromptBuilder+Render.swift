import Foundation
import Mustache
import SheafCore

extension PromptBuilder {
  /// One record's prompt while it is made: its templates, its context (cut or summarized to fit
  /// the budget), the data the templates see, and the messages rendered from them.
  struct Prompt {
    let json: JSON
    let id: String
    let templates: Templates
    var context: [[String: Any]]
    var data: [String: Any] = [:]
    var systemText = ""
    var userText = ""
    var summarized: [String] = []
    var truncated: [String] = []

    init(json: JSON, id: String, templates: Templates, context: [[String: Any]]) {
      self.json = json
      self.id = id
      self.templates = templates
      self.context = context
    }

    /// The system message of a template that reads only the document is the same for every
    /// section of that document: rendered once, by this key.
    var systemKey: String? {
      guard PromptBuilder.readsOnlyDoc(templates.system.nodes) else { return nil }
      return [
        templates.system.path, json["doc"]?.compactText ?? "", json["doc_title"]?.compactText ?? "",
        json["inputs"]?.compactText ?? "",
      ]
      .joined(separator: "\u{0}")
    }

    /// About how many tokens the messages take.
    var tokens: Int { PromptBuilder.estimateTokens(systemText + userText) }

    func isSet(_ entry: [String: Any], _ key: String) -> Bool { entry[key] as? Bool ?? false }

    /// The oldest context entry that `keep` admits.
    func oldest(_ keep: ([String: Any]) -> Bool) -> Int? {
      context.indices.filter { keep(context[$0]) }
        .min(by: { (context[$0]["order"] as? Int ?? 0) < (context[$1]["order"] as? Int ?? 0) })
    }
  }

  /// The system or user message of a prompt, with its data as it is now.
  func render(_ prompt: Prompt, system: Bool) -> String {
    let template = system ? prompt.templates.system : prompt.templates.user
    let text = template.template.render(prompt.data, library: prompt.templates.partials)
    return system ? Self.tidy(text) : text
  }

  /// Every name the templates use must be in the data (unless `--lax`): the error naming the
  /// file, line and name of the first that is not.
  /// - Throws: `ToolFailure` when a partial does not parse.
  func checkTemplates(_ prompt: Prompt, systemToo: Bool) throws -> SheafError? {
    guard !options.lax else { return nil }
    let templates = prompt.templates
    for template in systemToo ? [templates.system, templates.user] : [templates.user] {
      do {
        try TemplateCheck.check(template.nodes, stack: [prompt.data], file: template.path) {
          name in
          guard let path = self.library.find(name, in: templates.folders) else { return nil }
          return (path, try self.library.load(path).nodes)
        }
      } catch let missing as MissingReference {
        let what =
          missing.name.hasPrefix(">")
          ? "no partial '\(missing.name.dropFirst())'" : "no variable '\(missing.name)'"
        let known =
          missing.known.isEmpty ? "" : " (here: \(missing.known.joined(separator: ", ")))"
        return SheafError(
          .template, "\(missing.file):\(missing.line): \(what)\(known)",
          hint: "fix the template, or pass --lax to render missing names as empty")
      }
    }
    return nil
  }

  /// While the prompt is over its budget, the oldest context in full is given as its summary
  /// (when summaries are on), and only then is the oldest emptied, its title kept; the
  /// `context_length` error when even no context does not fit.
  func fitBudget(_ prompt: inout Prompt) -> SheafError? {
    let budget = options.maxInputTokens ?? prompt.json["llm"]?["max_input_tokens"]?.int
    while let budget, prompt.tokens > budget {
      if summaries != nil,
        let index = prompt.oldest({
          !prompt.isSet($0, "truncated") && !prompt.isSet($0, "summarized")
            && !prompt.isSet($0, "unsummarizable")
        })
      {
        summarize(&prompt, index)
      } else {
        guard let index = prompt.oldest({ !prompt.isSet($0, "truncated") }) else {
          return SheafError(
            .contextLength,
            "the prompt for section '\(prompt.id)' needs about \(prompt.tokens) tokens without any context; the budget is \(budget)",
            hint: "shorten the document inputs or the template, or raise max_input_tokens")
        }
        let entryID = prompt.context[index]["id"] as? String ?? "?"
        prompt.context[index]["content"] = ""
        prompt.context[index]["truncated"] = true
        prompt.context[index]["summarized"] = false
        prompt.summarized.removeAll { $0 == entryID }
        prompt.truncated.append(entryID)
      }
      prompt.data = variables(prompt.json, context: prompt.context)
      if prompt.systemKey == nil { prompt.systemText = render(prompt, system: true) }
      prompt.userText = render(prompt, system: false)
    }
    return nil
  }

  /// Gives context entry `index` as its summary: the one kept, or (`--summary-requests`) the
  /// request for it, counted at its longest; a section no longer than a summary, or with no
  /// summary made, stays in full.
  func summarize(_ prompt: inout Prompt, _ index: Int) {
    guard let summaries else { return }
    let entry = prompt.context[index]
    let entryID = entry["id"] as? String ?? "?"
    let words = (entry["content"] as? String ?? "").split(whereSeparator: \.isWhitespace).count
    guard words > ContextSummaries.words(prompt.json) else {
      prompt.context[index]["unsummarizable"] = true
      return
    }
    let request = summaryRequest(
      prompt.json, entry: entry, folders: prompt.templates.folders, data: prompt.data)
    switch request.map({ summaries.lookup($0) }) {
    case .success(.found(let text)):
      prompt.context[index]["content"] = text
      prompt.context[index]["summarized"] = true
      prompt.summarized.append(entryID)
    case .success(.missing(let request, let key)) where options.summaryRequests:
      if pendingKeys.insert(key).inserted { pendingSummaries.append(request) }
      prompt.context[index]["content"] = String(
        repeating: "word ", count: ContextSummaries.words(prompt.json))
      prompt.context[index]["summarized"] = true
      prompt.summarized.append(entryID)
    case .success(.missing):
      prompt.context[index]["unsummarizable"] = true
      Diagnostics.say(
        "build-prompt",
        "warning: section '\(prompt.id)': no summary of '\(entryID)' in \(summaries.directory) (the summary step did not make it); its text stays in full, cut only if the prompt still does not fit"
      )
    case .failure(let error):
      prompt.context[index]["unsummarizable"] = true
      Diagnostics.say(
        "build-prompt",
        "warning: section '\(prompt.id)': no summary of '\(entryID)' (\(error.message)); its text stays in full, cut only if the prompt still does not fit"
      )
    }
  }

  /// The record with its messages, what went into them, and its fingerprint.
  func finish(_ prompt: Prompt, used: [String: String?], outlineTitles: [String]) -> JSON {
    let json = prompt.json
    json["messages"] = .array([
      .object(["role": JSON("system"), "content": JSON(prompt.systemText)]),
      .object(["role": JSON("user"), "content": JSON(Self.tidy(prompt.userText))]),
    ])
    json["context_ids"] = .array(
      prompt.context.compactMap { $0["id"] as? String }.map { JSON($0) })
    json["context_summarized"] =
      prompt.summarized.isEmpty ? nil : .array(prompt.summarized.map { JSON($0) })
    json["context_truncated"] =
      prompt.truncated.isEmpty ? nil : .array(prompt.truncated.map { JSON($0) })
    let templateFiles = prompt.templates.files
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
      json, templateFiles: templateFiles, reads: prompt.templates.reads, context: used,
      outline: outlineTitles,
      options: optionsKey, settings: settingsFor(json), prompt: json["messages"]?.compactText)
    return json
  }
}
