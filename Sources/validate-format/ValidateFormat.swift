import ArgumentParser
import SheafCore
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
      Markdown (cmark): min_words/max_words (words of prose, not markup), required_headings \
      (with headings_in_order), max_heading_level, forbid_leading_title, forbid_phrases (a \
      default list of preambles and sign-offs, or your own), no <think> left, no unclosed code \
      fence, no whole-answer code fence (unwrap_fence: true strips it), no placeholder text \
      (placeholders: false allows it), max_duplicate_ratio against earlier sections of the \
      stream. JSON: the JSON is taken out of prose or a fence and repaired (trailing commas, \
      single quotes, unquoted keys, comments, True/None, raw newlines, a truncated end), then \
      checked against schema (inline) or schema_file (draft-07, with $defs and prefixItems).

      Each record gets violations ([{rule, message, path}], empty when valid), data (JSON), \
      repaired, and, when a rule is broken, status failed with an error of type validation. \
      Feed failed records back through build-prompt: the violations become feedback. Records \
      that are not completed, or have no format, pass through unchanged, as do events.

      EXAMPLES
        plan-sections p.json | build-prompt | call-llm | validate-format | merge-doc
        ... | validate-format --warn max_words,forbid_phrases
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

  mutating func execute() throws -> ExitStatus {
    let rules = Set(
      warn.flatMap {
        $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
      })
    return try ValidateFormatCommand.run(inputs: inputs, warn: rules)
  }
}
