import ArgumentParser
import Foundation
import SheafCore
import SheafPrompt
import SheafRun

/// `--id DOC`: one document of a plan, in `<runs>/<DOC>/` (a row of `make docs`, or `make doc
/// DOC=`).
struct DocumentFlags: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "One document of the plan, in <runs>/<id>/ (DOC=; a row of make docs: its row.json gives its inputs).",
      valueName: "id"))
  var id: String?

  func validate() throws {
    if let id, !Slug.isValid(id) { throw ValidationError("--id: document \(Slug.problem(id))") }
  }
}

/// `--allow-outside`: let the plan read files outside its folder.
struct OutsideFlag: ParsableArguments {
  @Flag(
    name: .customLong("allow-outside"),
    help: "Let the plan read files outside its folder (or SHEAF_ALLOW_OUTSIDE=1).")
  var allowOutside = false
}

extension SheafRun {
  struct Docs: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Many documents from one plan and a table of inputs (make docs): get a make docs ready, or say where the set stands.",
      discussion: """
        One document per row of ROWS (CSV with a header, or JSON lines), in <runs>/<id>/; the \
        row's fields are the document's inputs ({{doc.inputs.field}}), its `title` field the \
        document's title. The id is --doc-id: a template ({{row.field}}, {{n}} the row's number, \
        {{plan}}) or a field's name; else the `id` field; else <plan>-<n>; made a slug. Two rows \
        with one id are an error naming both.

        Without --status, --dry-run, --watch or --where: writes each document's row.json (when it changed) and the \
        list of documents to build into the set's folder, <runs>/<plan>.set/<shard>/, and prints \
        that folder; pipelines/docs.mk builds them. A document that is ready and built from \
        exactly this row, plan, prompt set, tools and settings (its .stamp), with no section \
        edited since, is left out.

        --shard i/N takes the documents whose id hashes to share i of N: N machines given the \
        same rows build every document once.

        EXAMPLES
          make docs PLAN=pipelines/prd/plan.json ROWS=products.csv DOC_ID='{{row.product}}' J=16
          make status PLAN=pipelines/prd/plan.json ROWS=products.csv
        """)
    @Option(help: ArgumentHelp("The plan.", valueName: "path")) var plan: String
    @Option(help: ArgumentHelp("The table of inputs (CSV or JSON lines).", valueName: "path"))
    var rows: String
    @Option(help: ArgumentHelp("The root of the run directories.", valueName: "dir")) var runs =
      "runs"
    @Option(
      name: .customLong("doc-id"),
      help: ArgumentHelp("Each row's document id: a template or a field's name.", valueName: "id"))
    var docID: String?
    @Option(help: ArgumentHelp("This machine's share of the rows (i/N).", valueName: "i/N"))
    var shard: String?
    @Option(help: ArgumentHelp("The plan's mode.", valueName: "name")) var mode: String?
    @Flag(help: "Build every document, unchanged or not (FORCE=1, ONLY=).") var all = false
    @Flag(
      name: .customLong("next-pass"),
      help:
        "List what the next pass of the same make docs builds (BATCH=1): the ledger goes on, nothing is said."
    )
    var nextPass = false
    @Flag(
      help:
        "Each document's status, cost so far and what the next make docs asks of it, then the totals."
    )
    var status = false
    @Flag(help: "Print the set's folder for this shard (creating it), and nothing else.")
    var `where` = false
    @Flag(help: "With --status: the totals, after the documents that are not ready.")
    var totals = false
    @Flag(
      help:
        "The documents being built and the totals, live (in a terminal, drawn again twice a second)."
    )
    var watch = false
    @Flag(
      name: .customLong("until-complete"),
      help: "With --watch: end once no document is being built.")
    var untilComplete = false
    @Flag(
      name: .customLong("dry-run"),
      help:
        "The documents the next make docs asks something of, with the estimates; change nothing.")
    var dryRun = false
    @OptionGroup var outside: OutsideFlag
    @OptionGroup var prompt: PromptFlags
    @OptionGroup var price: PriceFlag
    @Argument(
      parsing: .postTerminator,
      help: ArgumentHelp(
        "After --: call-llm's flags (CALL_FLAGS), for the estimates.", valueName: "call-llm flags"))
    var callFlags: [String] = []

    mutating func execute() throws -> ExitStatus {
      var options = DocumentSet.Options(planPath: plan, rowsPath: rows, runs: runs)
      options.docID = docID
      options.shard = try shard.flatMap { $0.isEmpty ? nil : $0 }.map(Shard.init(parsing:)) ?? .all
      options.mode =
        mode.flatMap { $0.isEmpty ? nil : $0 }
        ?? ProcessInfo.processInfo.environment["SHEAF_MODE"].flatMap { $0.isEmpty ? nil : $0 }
      options.everyDocument = all
      options.nextPass = nextPass
      options.allowOutside = outside.allowOutside
      options.prompts = prompt.settings
      options.prices = try price.priceList()
      options.request = try RequestFlags.among(callFlags).given
      if watch { return try DocumentSet.watch(options, untilComplete: untilComplete) }
      if `where` {
        try RecordWriter().writeText(try DocumentSet.folder(options) + "\n")
        return .completed
      }
      if status || dryRun {
        return try DocumentSet.report(
          options, listing: dryRun ? .asking : totals ? .none : .all, tool: SheafRun.toolName)
      }
      let folder = try DocumentSet.start(options, tool: SheafRun.toolName)
      try RecordWriter().writeText(folder + "\n")
      return .completed
    }
  }

  struct Stamp: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "A document of make docs built ready: keep what it was built from (its .stamp), so that the next make docs leaves it alone while that is unchanged.",
      discussion: """
        pipelines/docs.mk runs it when a document's make doc exits 0.

        EXAMPLE
          sheaf-run stamp --run runs/tidewater
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    mutating func execute() throws -> ExitStatus {
      try DocumentSet.stamp(RunLayout(run))
      return .completed
    }
  }
}
