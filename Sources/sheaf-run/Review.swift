import ArgumentParser
import Foundation
import SheafCore
import SheafRun

// The steps around people and drafts: review gates, the continuity pass, drafted plans.
extension SheafRun {
  struct Approve: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Approve sections that ask for review (\"review\": true), so the sections that use them are built.",
      discussion: """
        A section with "review": true holds every section that uses it (depends_on or context) \
        until a person approves its current text: with this command, or by editing its .md \
        (an edit is an approval). Built again to another text, it waits again. make doc ends \
        with a line naming what waits; --list prints that line (nothing when nothing waits).

        EXAMPLES
          sheaf-run approve --run runs/book ch01
          sheaf-run approve --run runs/book --list
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(help: "Say what waits for review, and approve nothing.") var list = false
    @Argument(help: "The section ids.") var ids: [String] = []
    mutating func execute() throws -> ExitStatus {
      let directory = RunDirectory(path: run)
      if list {
        if let line = directory.reviewLine() { print(line) }
        return .completed
      }
      guard !ids.isEmpty else { throw ToolFailure.usage("approve: name the sections (or --list)") }
      for id in ids {
        guard Slug.isValid(id) else {
          throw ToolFailure.usage("approve: '\(id)' is not a section id")
        }
        let holds = directory.waitingForReview().first { $0.id == id }?.holds ?? []
        try directory.approve(id)
        Diagnostics.say(
          SheafRun.toolName,
          "\(id): approved\(holds.isEmpty ? "" : "; the next make doc builds \(RunDirectory.shortList(holds))")"
        )
      }
      return .completed
    }
  }

  struct Revise: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Apply the edits of sections marked \"revises\": true to the sections they name, into revised/<id>.json.",
      discussion: """
        A reviewing section (the book's harmonize) answers JSON: {"edits": [{"chapter": id, \
        "passage": text, "replacement": text} or {"chapter": id, "instruction": text}], \
        "followups": [question]}. Without --save: exact replacements are applied here and \
        kept in revised/<id>.json (the section's own record is never changed); a section with \
        instructions (or a passage not found in its text) is written out as one revision \
        request (template _revise) for build-prompt | call-llm | validate-format | sheaf-run \
        revise --save. A revision is keyed by the text it starts from and its edits: nothing \
        new, nothing asked. followups go to followups.md in the run directory. make doc does \
        this before it merges, and the document uses the revised sections.

        EXAMPLES
          sheaf-run revise --run runs/book | build-prompt | call-llm | validate-format \\
            | sheaf-run revise --run runs/book --save
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(help: "Keep the answered revision requests read from standard input.") var save = false
    @Flag(help: "Only remove revisions whose section text or edits changed; ask nothing.")
    var prune = false
    mutating func execute() throws -> ExitStatus {
      let directory = RunDirectory(path: run)
      return save
        ? try Revision.save(run: directory, tool: SheafRun.toolName)
        : try Revision.emit(run: directory, tool: SheafRun.toolName, prune: prune)
    }
  }

  struct DraftPlan: FilterCommand {
    static let configuration = CommandConfiguration(
      commandName: "draft",
      abstract: "Write drafted plans (make outline's answers) as plan files to read, edit and run.",
      discussion: """
        Reads the validated answers of the outline plan (pipelines/outline/plan.json: a JSON \
        section checked against pipelines/outline/plan.schema.json and plan-sections' own \
        rules). Each plan gets the kind's prompt set, inputs, formats and section defaults \
        (--kinds, --kind), the brief as an input (a file reference when it is in the plan's \
        folder, else its text), and the provider and model that drafted it. One answer is \
        written to --out; several (CANDIDATES=k) to <stem>-1.json … <stem>-k.json. Prints a \
        line per plan: its path, title and sections. An existing file is never replaced \
        without --force.

        EXAMPLES
          make outline BRIEF=brief.md OUT=plan.json KIND=book SECTIONS=12
          make outline BRIEF=brief.md OUT=plan.json CANDIDATES=3
        """)
    @Option(help: ArgumentHelp("The plan file to write.", valueName: "file")) var out: String
    @Option(help: ArgumentHelp("The brief the plans were drafted from.", valueName: "file"))
    var brief: String?
    @Option(
      help: ArgumentHelp("The kind of document (report, prd, book, blog).", valueName: "kind"))
    var kind: String?
    @Option(help: ArgumentHelp("The kinds file (pipelines/outline/kinds.json).", valueName: "file"))
    var kinds: String?
    @Flag(help: "Replace plan files that exist; let a drafted id name a run that exists.")
    var force = false
    @Option(
      help: ArgumentHelp(
        "The root of the run directories: a drafted id never names a run there that exists.",
        valueName: "dir"))
    var runs: String?
    @Option(
      help: ArgumentHelp(
        "With --check: how many plans the run will write (1 to 9).", valueName: "k"))
    var candidates = "1"
    @Option(
      help: ArgumentHelp(
        "With --check: how many sections to ask for (a number; empty: the model chooses).",
        valueName: "n"))
    var sections = ""
    @Flag(
      help:
        "Only check what make outline was given (BRIEF, KIND, SECTIONS, CANDIDATES) and that no file it would write exists; print the kind's guide; read nothing else."
    )
    var check = false
    mutating func execute() throws -> ExitStatus {
      let force = force || ProcessInfo.processInfo.environment["SHEAF_FORCE"] == "1"
      if check {
        let request = Draft.Request(
          brief: brief ?? "", kind: kind ?? "report", sections: sections, candidates: candidates,
          kinds: kinds ?? "kinds.json")
        let count = try Draft.check(request)
        try Draft.check(out: out, candidates: count, force: force)
        try RecordWriter().writeText(request.guide + "\n")
        return .completed
      }
      var options = Draft.Options(out: out)
      options.brief = brief
      options.kind = kind
      options.kinds = kinds
      options.force = force
      options.runs = runs
      return try Draft.run(options, tool: SheafRun.toolName)
    }
  }
}

// In a staged run these write what call-llm cancels: they finish their input when it stops.
extension SheafRun.Deps: FinishesInputOnSignal {}
extension SheafRun.Save: FinishesInputOnSignal {}
extension SheafRun.Fresh: FinishesInputOnSignal {}
extension SheafRun.Summaries: FinishesInputOnSignal {}
extension SheafRun.Revise: FinishesInputOnSignal {}
