import ArgumentParser
import SheafCore
import SheafPlan
import SheafValidate

/// `validate-format`: each completed record's content checked against its format.
@main
struct ValidateFormat: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "validate-format",
    abstract:
      "Check each record's content against its format: Markdown rules, JSON repair, JSON Schema.",
    discussion: """
      The record's format (from the plan, where named formats are resolved) names the rules. \
      Markdown (cmark): min_words/max_words (words of prose, not markup; within \
      length_tolerance, default 0.1, a miss is a warning), required_headings (with \
      headings_in_order), max_heading_level, forbid_leading_title, forbid_phrases (a default \
      list of preambles and sign-offs, or your own), no <think> left, no unclosed code fence, \
      no placeholder text (placeholders: false allows it), max_duplicate_ratio against \
      earlier sections of the stream and, with --sections DIR, the stored sections of a run. \
      Fixed in place, with repaired: true and each fix in warnings: a code fence around the \
      whole answer (unwrap_fence: false makes it a violation), a leading heading that repeats \
      the title (with forbid_leading_title), a preamble or sign-off paragraph. An answer cut \
      at the token limit (finish_reason length) is a truncated violation, whatever the format. JSON: the JSON is taken out of prose, a fence or JSONP and repaired (commas, colons, \
      single, curly and missing quotes, unquoted keys and values, + joined strings, ..., \
      comments, Unicode spaces, True/None/undefined, NaN as null, MongoDB types, regular \
      expressions, odd numbers as strings, extra brackets, an escaped document, a truncated \
      end), then checked against schema (inline) or schema_file (draft-07, with $defs and \
      prefixItems; assert_formats: true checks date, date-time, email, uri, uuid; each \
      violation's rule is the keyword, and --warn schema covers them all).

      Whatever the format (and with none): an answer cut short (finish_reason length, or \
      timeout: call-llm kept what arrived before its time ran out) is a truncated violation, \
      and one whose word 5-grams are mostly its own prompt's (max_echo_ratio, default 0.5; 1 \
      turns it off) is an echo violation.

      Each record gets violations ([{rule, message, path}], empty when valid), data (JSON), \
      repaired, and, when a rule is broken, status failed with an error of type validation. \
      call-llm runs the same checks and re-asks with the violations as feedback \
      (llm.repair_attempts), so what reaches validate-format has had its chances. Records \
      that are not completed pass through unchanged, as do events.

      EXAMPLES
        plan-sections p.json | build-prompt | call-llm | validate-format | merge-doc
        ... | validate-format --warn max_words,forbid_phrases
        ... | validate-format --run runs/prd
        ... | validate-format | jq -c 'select(.status=="failed") | {id, violations}'

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  @Argument(help: "Record files (NDJSON); '-' or none: standard input.")
  var inputs: [String] = []

  @Option(
    help: ArgumentHelp(
      "Rules whose violations are warnings, not failures (comma-separated, repeatable).",
      valueName: "rules"))
  var warn: [String] = []

  @Option(
    help: ArgumentHelp(
      "Also compare against the completed sections stored here (a run's sections/), for max_duplicate_ratio.",
      valueName: "dir"))
  var sections: String?

  @Option(
    help: ArgumentHelp(
      "A staged run's directory: compare with its sections, and take the rules that only warn it stored (WARN=) unless --warn is given.",
      valueName: "dir"))
  var run: String?

  mutating func execute() throws -> ExitStatus {
    PlanReader.registerCheck()
    var rules = Set(commaSeparated(warn))
    var sections = self.sections
    if let run {
      let layout = RunLayout(run)
      try layout.check()
      sections = sections ?? layout.sections
      if rules.isEmpty { rules = Set(layout.settings.warn) }
    }
    return try ValidateFormatCommand.run(inputs: inputs, warn: rules, sections: sections)
  }
}

// In a staged run it writes what call-llm cancels: it finishes its input when the run stops.
extension ValidateFormat: FinishesInputOnSignal {}
