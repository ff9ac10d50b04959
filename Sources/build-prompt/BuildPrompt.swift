import ArgumentParser
import Foundation
import SheafCore
import SheafPrompt

/// `build-prompt`: planned records in, records with `messages` out.
@main
struct BuildPrompt: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "build-prompt",
    abstract: "Turn each planned record into messages from Mustache templates.",
    discussion: """
      A prompt set is a folder: shared_context.mustache (the system message, the same for every \
      section, so providers can cache it), one <template>.mustache per section or a \
      default.mustache, and partials by name. The set is --set, else the record's prompt_set, \
      else its plan_id (a row's document of make docs), else its doc. Files are looked for in --prompts DIR (DIR/<set>/, then DIR/), then beside \
      the plan (<plan_dir>/prompts/<set>/, then <plan_dir>/), then ./prompts/<set>/.

      Templates see doc (id, title, inputs.*), section (id, title, description, order, stage, \
      mode, instructions, target_words, min_words, max_words, and the plan's custom fields), \
      context (the depends_on and context sections that have content: id, title, content, \
      source, truncated), outline (the other sections' ids and titles: never their \
      descriptions or content), feedback (rule, message, path of the previous attempt's \
      violations) and previous_answer; a JSON section has section.json and section.schema. \
      Absent optional values render empty, never false. Rendering is plain \
      text; content is data and is never rendered again.

      Each record also gets template_files (the files that rendered it) and fingerprint: \
      content hashes of what it is built from (the prompt and its parts: templates, inputs, \
      the section's fields, the other titles, the content of each section it uses; the llm \
      settings with SHEAF_PROVIDER, SHEAF_MODEL, SHEAF_BASE_URL; the format). A staged run \
      rebuilds a section exactly when its fingerprint would change.

      A name the data does not have fails the record (error type template, naming file, line \
      and name); --lax renders it empty. A template that does not parse fails the records that \
      use it (type template, naming file and line); the others go on. With a budget \
      (--max-input-tokens or llm.max_input_tokens) and --summaries DIR, the oldest context is \
      first given as the summary kept in DIR, and listed in context_summarized. Summaries are \
      records of their own: --summary-requests writes, instead of the records, the requests \
      for the summaries they need and DIR lacks (the set's _summary.mustache, else the default \
      set's; at most summary_words words, default 120), for call-llm | validate-format | \
      sheaf-run summaries --save, which keeps each in DIR once per section content. Context \
      with no summary, or that even the summaries do not fit, is emptied, titles kept, and \
      listed in context_truncated. If even the bare prompt is too big the record fails with \
      context_length.

      --run DIR is a staged run's directory: the context from DIR/sections, summaries from \
      DIR/summaries, and the prompt options, request settings and rules that only warn that \
      the run stored (run.json) unless flags are given here.

      EXAMPLES
        plan-sections plan.json | build-prompt | call-llm | merge-doc > doc.md
        plan-sections --only goals p.json | build-prompt --run runs/prd
        ... | build-prompt --prompts my-prompts --set prd --max-input-tokens 6000
        ... | build-prompt | jq -r '.messages[1].content'

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  @Argument(help: "Record files (NDJSON); '-' or none: standard input.")
  var inputs: [String] = []

  @OptionGroup var prompt: PromptFlags

  @Option(
    help: ArgumentHelp(
      "A run's sections/ folder: the content of depends_on and context sections.", valueName: "dir")
  )
  var context: String?

  @Option(
    help: ArgumentHelp(
      "A folder of summaries of earlier sections (a run's summaries/): context over the budget is given as the summaries kept there before any is dropped.",
      valueName: "dir"))
  var summaries: String?

  @Flag(
    name: .customLong("summary-requests"),
    help: "Write the summary requests the records need (not yet in --summaries), not the records.")
  var summaryRequests = false

  @Option(
    help: ArgumentHelp(
      "A staged run's directory: its sections, summaries and stored settings.", valueName: "dir"))
  var run: String?

  func validate() throws {
    if summaryRequests && summaries == nil && run == nil {
      throw ValidationError("--summary-requests needs --summaries DIR or --run DIR")
    }
  }

  mutating func execute() throws -> ExitStatus {
    var options = prompt.settings.options
    if let run {
      let layout = RunLayout(run)
      try layout.check()
      options = PromptOptions.forRun(layout, given: prompt.settings)
    }
    for (flag, dir) in [("--context", context)] + prompt.promptDirs.map({ ("--prompts", $0) }) {
      guard let dir else { continue }
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        throw ToolFailure.usage("\(flag) \(dir): no such folder")
      }
    }
    if let context { options.contextDir = context }
    if let summaries { options.summariesDir = summaries }
    options.summaryRequests = summaryRequests
    return try BuildPromptCommand.run(inputs: inputs, options: options)
  }
}

// In a staged run it writes what call-llm cancels: it finishes its input when the run stops.
extension BuildPrompt: FinishesInputOnSignal {}
