import ArgumentParser
import SheafCore
import SheafPlan

/// `plan-sections`: a plan in, one record per section out, in an order that puts every
/// dependency first.
@main
struct PlanSections: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "plan-sections",
    abstract: "Read a plan (JSON or a Markdown outline) and write one record per section.",
    discussion: """
      Records come out in execution order (dependencies first, then stage and plan order), \
      each with doc, doc_title, id, title, description, order, stage, depends_on, context, \
      template, format, llm (plan defaults, then stage defaults, then the section's), mode, \
      inputs and status "pending". A plan is rejected, with every problem named on its own \
      line, for duplicate ids, unknown dependencies, dependency cycles, ids that are not \
      slugs, fields of the wrong type or range, unknown formats, and input files that cannot \
      be read. A plan reads files (inputs, schema_file) inside its own folder only: an absolute \
      path or one that leaves the folder is refused unless you pass --allow-outside (or set \
      SHEAF_ALLOW_OUTSIDE=1). The first line is an "outline" event: every section's title and \
      description, for build-prompt.

      EXAMPLES
        plan-sections pipelines/prd/plan.json | jq -r '[.stage, .id] | @tsv'
        plan-sections --mode draft pipelines/prd/plan.json | merge-doc
        plan-sections --affected-by goals_objectives pipelines/prd/plan.json
        plan-sections --emit dot pipelines/prd/plan.json | dot -Tsvg > prd.svg
        plan-sections --input requirements=@mine.md pipelines/prd/plan.json
        plan-sections p.json | build-prompt | call-llm | validate-format | merge-doc

      \(ExitStatus.helpText)
        A plan that is not valid JSON exits 3; a plan that is rejected exits 2.
      """,
    version: SheafVersion.current)

  @Argument(
    help: "The plan: a .json file, or a Markdown outline (.md). '-' or none: standard input.")
  var plan: String?

  @Option(
    name: .long,
    help: ArgumentHelp(
      "Use the sections of this mode (default: $SHEAF_MODE, then the plan's default_mode).",
      valueName: "name"))
  var mode: String?

  @Option(
    name: .long,
    help: ArgumentHelp("Only these sections (comma-separated, repeatable).", valueName: "ids"))
  var only: [String] = []

  @Option(
    name: .customLong("affected-by"),
    help: ArgumentHelp(
      "Only the sections that depend on this one, directly or not (it is not included).",
      valueName: "id"))
  var affectedBy: String?

  @Option(
    help: ArgumentHelp(
      "ndjson (records), make (rules, one target per section) or dot (Graphviz).",
      valueName: "format"))
  var emit: String = "ndjson"

  @Option(
    name: .customLong("input"),
    help: ArgumentHelp(
      "Set a document input: NAME=text or NAME=@file (repeatable).", valueName: "name=value"))
  var inputs: [String] = []

  @Flag(help: "Write a stage event before each stage's records.")
  var events = false

  @Option(
    help: ArgumentHelp(
      "Extra instructions for the sections written (regenerate with a note).", valueName: "text"))
  var instructions: String?

  @Flag(
    name: .customLong("allow-outside"),
    help: "Let the plan read files outside its folder (absolute paths, '..').")
  var allowOutside = false

  func validate() throws {
    guard PlanEmitFormat(rawValue: emit) != nil else {
      throw ValidationError("--emit must be one of ndjson, make, dot (got '\(emit)')")
    }
  }

  mutating func execute() throws -> ExitStatus {
    try PlanSectionsCommand.run(
      planPath: plan, mode: mode, only: only, affectedBy: affectedBy,
      emit: PlanEmitFormat(rawValue: emit) ?? .ndjson, inputs: inputs, events: events,
      instructions: instructions, allowOutside: allowOutside)
  }
}
