import ArgumentParser
import Foundation
import SheafCore
import SheafLLM
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
      else its doc. Files are looked for in --prompts DIR (DIR/<set>/, then DIR/), then beside \
      the plan (<plan_dir>/prompts/<set>/, then <plan_dir>/), then ./prompts/<set>/.

      Templates see doc (id, title, inputs.*), section (id, title, description, order, stage, \
      mode, instructions, target_words, min_words, max_words, and the plan's custom fields), \
      context (the depends_on and context sections that have content: id, title, content, \
      source, truncated), outline (the other sections' ids and titles: never their \
      descriptions or content), feedback (rule, message, path of the previous attempt's \
      violations) and previous_answer. Absent optional values are false. Rendering is plain \
      text; content is data and is never rendered again.

      Each record also gets template_files (the files that rendered it) and fingerprint: \
      content hashes of what it is built from (the prompt and its parts: templates, inputs, \
      the section's fields, the other titles, the content of each section it uses; the llm \
      settings with SHEAF_PROVIDER, SHEAF_MODEL, SHEAF_BASE_URL; the format). A staged run \
      rebuilds a section exactly when its fingerprint would change.

      A name the data does not have fails the record (error type template, naming file, line \
      and name); --lax renders it empty. A template that does not parse fails the records that \
      use it (type template, naming file and line); the others go on. With \
      a budget (--max-input-tokens or llm.max_input_tokens) and --summaries DIR, the oldest \
      context is first given as a summary the model writes (the set's _summary.mustache, else \
      the default set's; at most summary_words words, default 120), made once per section \
      content, kept in DIR and reused, and listed in context_summarized. Without --summaries, \
      or when even the summaries do not fit, the oldest context is emptied, titles kept, and \
      listed in context_truncated. If even the bare prompt is too big \
      the record fails with context_length.

      EXAMPLES
        plan-sections plan.json | build-prompt | call-llm | merge-doc > doc.md
        plan-sections --only goals p.json | build-prompt --context runs/prd/sections
        ... | build-prompt --prompts my-prompts --set prd --max-input-tokens 6000
        ... | build-prompt | jq -r '.messages[1].content'

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  @Argument(help: "Record files (NDJSON); '-' or none: standard input.")
  var inputs: [String] = []

  @Option(
    name: .customLong("prompts"),
    help: ArgumentHelp("A folder of prompt sets, searched first (repeatable).", valueName: "dir"))
  var promptDirs: [String] = []

  @Option(
    help: ArgumentHelp(
      "The prompt set (default: the record's prompt_set, else its doc).", valueName: "name"))
  var set: String?

  @Option(
    help: ArgumentHelp(
      "A run's sections/ folder: the content of depends_on and context sections.", valueName: "dir")
  )
  var context: String?

  @Flag(help: "Render names the data does not have as empty instead of failing the record.")
  var lax = false

  @Option(
    name: .customLong("max-input-tokens"),
    help: ArgumentHelp("A budget for the prompt (about 4 characters a token).", valueName: "n"))
  var maxInputTokens: Int?

  @Option(
    help: ArgumentHelp(
      "Which other sections a prompt names: all, selected (those plan-sections --only chose) or none.",
      valueName: "all|selected|none"))
  var outline = "all"

  @Option(
    help: ArgumentHelp(
      "A folder for summaries of earlier sections (a run's summaries/): context over the budget is given as summaries the model makes, once each, before any is dropped.",
      valueName: "dir"))
  var summaries: String?

  @Option(
    name: .customLong("shared-limit"),
    help: ArgumentHelp(
      "As call-llm's: the run's shared rate limit, for summary requests.", valueName: "dir"))
  var sharedLimit: String?

  @Option(
    name: .customLong("budget-file"),
    help: ArgumentHelp(
      "As call-llm's: the run's spending ledger, which summary requests count in.",
      valueName: "file"))
  var budgetFile: String?

  @Option(
    help: ArgumentHelp(
      "As call-llm's: no summary request starts once spending would pass it (USD).",
      valueName: "usd"))
  var budget: Double?

  func validate() throws {
    if let maxInputTokens, maxInputTokens < 1 {
      throw ValidationError("--max-input-tokens must be 1 or more")
    }
    guard ["all", "selected", "none"].contains(outline) else {
      throw ValidationError("--outline must be all, selected or none (got '\(outline)')")
    }
  }

  mutating func execute() throws -> ExitStatus {
    for (flag, dir) in [("--context", context)] + promptDirs.map { ("--prompts", Optional($0)) } {
      guard let dir else { continue }
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        throw ToolFailure.usage("\(flag) \(dir): no such folder")
      }
    }
    var options = PromptOptions()
    options.promptDirs = promptDirs
    options.set = set
    options.contextDir = context
    options.lax = lax
    options.maxInputTokens = maxInputTokens
    options.outline = outline
    if let summaries {
      options.summariesDir = summaries
      let environment = options.environment
      var call = CallOptions()
      call.environment = environment
      call.rateDirectory = sharedLimit
      call.budgetFile = budgetFile
      call.budget = budget
      call.prices = try PriceList.load(flag: nil, environment: environment)
      let settings = call
      options.summarize = { request in CallEngine.answer(request, options: settings) }
    }
    return try BuildPromptCommand.run(inputs: inputs, options: options)
  }
}
