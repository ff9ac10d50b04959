import ArgumentParser
import SheafCore
import SheafMerge

/// `merge-doc`: records in, the document out, in order, with its status and a summary.
@main
struct MergeDoc: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "merge-doc",
    abstract: "Merge section records into the document, with its status and a summary.",
    discussion: """
      Reads records (standard input or files, in order; events are ignored). A later record \
      for the same id replaces an earlier one, so a resumed or regenerated stream merges \
      right. Sections are written in their `order`; a failed, skipped or unfinished section \
      leaves a one-line placeholder that names the error and its hint (or is left out with \
      --omit-missing). A leading heading that repeats the section's title is dropped.

      Document status: ready (all completed), partial (some failed, skipped or not done), \
      failed (none completed), cancelled (a section was cancelled), paused (a pause held \
      sections back). It is said on standard error and written in the summary (--summary \
      FILE): per section status, title, seconds, tokens, attempts, source and error; totals \
      sections, completed, failed, skipped, cancelled, paused, pending, seconds, \
      input_tokens, output_tokens, cached_input_tokens and cache_write_tokens.

      --to docx,pdf,epub,html,odt also writes the Markdown document in those formats with \
      pandoc, next to it (prd.md gives prd.docx); without pandoc, one line says what to \
      install and the Markdown is still written.

      EXAMPLES
        plan-sections p.json | build-prompt | call-llm | validate-format | merge-doc
        merge-doc --run runs/prd
        merge-doc -o prd.md --summary summary.json runs/prd/sections/*.json
        merge-doc --format html -o prd.html runs/prd/sections/*.json
        merge-doc -q --summary /dev/stdout -o /dev/null < records.ndjson | jq .totals
        merge-doc --run runs/prd --to docx,epub

      \(ExitStatus.helpText)
        merge-doc exits 1 when the document is not ready.
      """,
    version: SheafVersion.current)

  @Argument(help: "Record files (NDJSON); '-' or none: standard input.")
  var inputs: [String] = []

  @Option(help: ArgumentHelp("markdown, html or json.", valueName: "format"))
  var format: String = "markdown"

  @Option(
    name: .shortAndLong,
    help: ArgumentHelp(
      "Write the document here, atomically (default: standard output).", valueName: "file"))
  var output: String?

  @Option(help: ArgumentHelp("Write the summary (JSON) here, atomically.", valueName: "file"))
  var summary: String?

  @Flag(
    name: .customLong("omit-missing"),
    help: "Leave out sections that did not complete, instead of a placeholder.")
  var omitMissing = false

  @Flag(
    name: .customLong("include-hidden"),
    help: "Show sections marked in_document: false too (a book's continuity notes).")
  var includeHidden = false

  @Option(
    name: .customLong("to"),
    help: ArgumentHelp(
      "Also write the Markdown document as these formats with pandoc, next to it (docx, pdf, epub, html, odt; comma-separated): prd.md gives prd.docx. Needs -o or --run.",
      valueName: "formats"))
  var exports: String?

  @Flag(name: .shortAndLong, help: "Do not say the document status on standard error.")
  var quiet = false

  @Option(
    name: .customLong("events-file"),
    help: ArgumentHelp(
      "Append a complete event (status and counts) to this file.", valueName: "path"))
  var eventsFile: String?

  @Option(
    help: ArgumentHelp(
      "A staged run's directory: merge its plan's sections (a revised section in place of its own), into <doc>.md, summary.json and events.ndjson there unless -o, --summary or --events-file say otherwise.",
      valueName: "dir"))
  var run: String?

  func validate() throws {
    if run != nil && !inputs.isEmpty {
      throw ValidationError("give --run or record files, not both")
    }
    guard DocumentFormat(rawValue: format) != nil else {
      throw ValidationError("--format must be one of markdown, html, json (got '\(format)')")
    }
    for target in commaSeparated([exports ?? ""]) where !DocumentExport.formats.contains(target) {
      throw ValidationError(
        "--to: '\(target)' is not a format pandoc is asked for (docx, pdf, epub, html, odt)")
    }
    if exports != nil && (format != "markdown" || (output == nil && run == nil)) {
      throw ValidationError("--to converts the Markdown document written with -o or --run")
    }
  }

  mutating func execute() throws -> ExitStatus {
    var inputs = inputs
    var output = output
    var summary = summary
    var eventsFile = eventsFile
    if let run {
      let layout = RunLayout(run)
      try layout.check()
      let merge = try MergeDocCommand.runInputs(layout)
      inputs = merge.inputs
      output = output ?? layout.document(merge.doc)
      summary = summary ?? layout.summary
      eventsFile = eventsFile ?? layout.events
    }
    return try MergeDocCommand.run(
      inputs: inputs, format: DocumentFormat(rawValue: format) ?? .markdown, output: output,
      summaryPath: summary, omitMissing: omitMissing, quiet: quiet, tool: Self.toolName,
      eventsFile: eventsFile, includeHidden: includeHidden,
      exports: commaSeparated([exports ?? ""]))
  }
}

// In a staged run it writes what call-llm cancels: it finishes its input when the run stops.
extension MergeDoc: FinishesInputOnSignal {}
