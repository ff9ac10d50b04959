import Foundation
import SheafCore
import SheafPrompt

/// merge-doc's work, given its options.
public enum MergeDocCommand {
  /// Reads every record of `inputs`, writes the document (to `output`, atomically, or standard
  /// output) and, when asked, the summary; says the document status on standard error.
  /// - Throws: `ToolFailure` for malformed input or an output that cannot be written.
  public static func run(
    inputs: [String], format: DocumentFormat, output: String?, summaryPath: String?,
    omitMissing: Bool, quiet: Bool, tool: String, eventsFile: String? = nil,
    includeHidden: Bool = false, exports: [String] = []
  ) throws -> ExitStatus {
    let merger = DocumentMerger()
    merger.includeHidden = includeHidden
    // A JSON section whose format names a render template is shown through it; a template that
    // is missing or broken is said once, and the section is shown as tables and lists instead.
    let renderer = DataRenderer()
    var warned = Set<String>()
    merger.renderData = { section in
      guard let name = section.render, let data = section.data else { return nil }
      switch renderer.render(
        data, name: name, set: section.promptSet ?? "default", planDir: section.planDir,
        id: section.id, title: section.title)
      {
      case .success(let text): return text
      case .failure(let error):
        if warned.insert(name).inserted {
          Diagnostics.say(tool, "warning: \(error.message); shown as tables and lists")
        }
        return nil
      }
    }
    try FilterLoop.forEach(inputs: inputs) { item, location in
      if case .record(let record) = item { try merger.add(record, at: location) }
    }
    let document = merger.render(format, omitMissing: omitMissing)
    if let output {
      try AtomicFile.write(document, to: output)
      let sections = merger.summary()["totals"]?["sections"]?.int ?? 0
      for problem in DocumentExport.convert(
        markdown: output, to: exports, author: merger.author, sections: sections)
      {
        Diagnostics.say(tool, problem)
      }
    } else {
      try RecordWriter().writeText(document)
    }
    if let summaryPath {
      try AtomicFile.write(merger.summary().compactText + "\n", to: summaryPath)
    }
    if let eventsFile {
      let totals = merger.summary()["totals"] ?? JSON.object()
      let event = Event.make(
        .complete, doc: merger.doc,
        fields: ["status": JSON(merger.status.rawValue), "counts": totals])
      try EventLog.append(event, to: eventsFile)
    }
    if !quiet { Diagnostics.say(tool, merger.statusLine) }
    return merger.status == .ready ? .completed : .someFailed
  }

  /// What a run's document is merged from (its plan's records, then for each planned section its
  /// stored record and, when it has one, its revision, which replaces it), and the document id.
  /// - Throws: `ToolFailure` when the run has no plan.
  public static func runInputs(_ layout: RunLayout) throws -> (inputs: [String], doc: String) {
    guard let data = FileManager.default.contents(atPath: layout.plan) else {
      throw ToolFailure.usage("\(layout.root): no run here (run `make doc PLAN=…` first)")
    }
    var inputs = [layout.plan]
    var doc: String?
    for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
      guard let record = try? JSON.parse(String(line)), !Event.isEvent(record),
        let id = record["id"]?.string, Slug.isValid(id)
      else { continue }
      doc = doc ?? record["doc"]?.string
      // Each file must be the section it is named after (a copied file is left out).
      func holds(_ path: String) -> Bool { JSON.readObject(path)?["id"]?.string == id }
      let stored = layout.record(id)
      guard holds(stored) else { continue }
      inputs.append(stored)
      if holds(layout.revisedRecord(id)) { inputs.append(layout.revisedRecord(id)) }
    }
    guard let doc, Slug.isValid(doc) else {
      throw ToolFailure.usage("\(layout.plan): no planned section names its document")
    }
    return (inputs, doc)
  }
}
