import Foundation
import Mustache
import SheafCore

extension PromptBuilder {
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
}
