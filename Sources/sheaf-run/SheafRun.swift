import ArgumentParser
import Foundation
import SheafCore
import SheafPrompt
import SheafRun

/// `sheaf-run`: the run-directory steps of a staged run; `pipelines/sheaf.mk` calls them.
@main
struct SheafRun: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "sheaf-run",
    abstract:
      "The run-directory steps of a staged run (runs/<doc>/), as pipelines/sheaf.mk uses them.",
    discussion: """
      make doc PLAN=pipelines/prd/plan.json J=8 runs, for each section, the pipeline
        plan-sections --only ID plan.json | sheaf-run deps --run R | build-prompt --run R
        | sheaf-run fresh --run R | call-llm --run R | validate-format --run R
        | sheaf-run save --run R                                         (R: runs/<doc>)
      and these steps around it. Use `sheaf-run status` and `sheaf-run watch` yourself.

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current,
    subcommands: [
      Init.self, Prepare.self, Where.self, Lock.self, Deps.self, Fresh.self, Save.self,
      Summaries.self, Finish.self, Status.self, Watch.self, Pause.self, Info.self, Versions.self,
      Restore.self, Approve.self, Revise.self, DraftPlan.self, DoctorCommand.self,
      TimelineCommand.self, Graph.self, Serve.self, Docs.self, Stamp.self,
    ])

  mutating func execute() throws -> ExitStatus {
    throw ToolFailure.usage(
      "name a step: init, prepare, where, lock, deps, fresh, save, summaries, finish, status, watch, pause, info, versions, restore, approve, revise, draft, doctor, timeline, graph, serve, docs or stamp"
    )
  }

  /// The prices file, for estimates.
  struct PriceFlag: ParsableArguments {
    @Option(
      help: ArgumentHelp(
        "Prices per million tokens by model (else SHEAF_PRICES), for estimates.",
        valueName: "file"))
    var prices: String?

    func priceList() throws -> PriceList {
      try PriceList.load(flag: prices, environment: ProcessInfo.processInfo.environment)
    }
  }

  struct Prepare: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Write plan.ndjson and sections.mk, adopt people's edits, clear what must be redone; print the doc id."
    )
    @Option(help: ArgumentHelp("The plan.", valueName: "path")) var plan: String
    @Option(help: ArgumentHelp("The root of the run directories.", valueName: "dir")) var runs =
      "runs"
    @Option(help: ArgumentHelp("The plan's mode.", valueName: "name")) var mode: String?
    @OptionGroup var document: DocumentFlags
    @Option(
      name: .customLong("in-set"),
      help: ArgumentHelp(
        "A document of a set (make docs): share the set's rate limit and ledger (its folder).",
        valueName: "dir"))
    var inSet: String?
    @Flag(help: "Regenerate over people's edits.") var force = false
    @Option(help: ArgumentHelp("Regenerate this section.", valueName: "id")) var regenerate: String?
    @Option(
      help: ArgumentHelp(
        "With --regenerate: also the sections that use it: yes, no, or the ids to redo (a,b).",
        valueName: "yes|no|ids"))
    var cascade = "yes"
    @Option(
      help: ArgumentHelp(
        "With --regenerate: a note kept as the section's instructions until cleared.",
        valueName: "text"))
    var note: String?
    @Flag(name: .customLong("clear-note"), help: "With --regenerate: drop the section's note.")
    var clearNote = false
    @Flag(
      name: .customLong("dry-run"),
      help: "Print what the next make doc would ask for, and its estimated cost; change nothing.")
    var dryRun = false
    @OptionGroup var outside: OutsideFlag
    @OptionGroup var prompt: PromptFlags
    @OptionGroup var price: PriceFlag
    @Option(
      help: ArgumentHelp(
        "Check the sections ONLY= selects (comma-separated ids; an empty list is an error).",
        valueName: "ids"))
    var only: String?
    @Option(
      help: ArgumentHelp(
        "Rules that only warn (WARN=), stored for the run (default: the ones the run stored).",
        valueName: "rules"))
    var warn: String?
    @Option(help: ArgumentHelp("The run's budget (BUDGET=), stored for the run.", valueName: "usd"))
    var budget: Double?
    @Option(help: ArgumentHelp("Sections at once (J=), for the ETA.", valueName: "n"))
    var jobs: Int = 4
    @Flag(
      help:
        "Forget the settings earlier runs were given (PROMPT_FLAGS, WARN, PROVIDER, MODEL, BASE_URL, MAX_TOKENS); use only what is given now."
    )
    var forget = false
    @Argument(
      parsing: .postTerminator,
      help: ArgumentHelp(
        "After --: call-llm's flags (CALL_FLAGS); those that choose who answers are stored for the run.",
        valueName: "call-llm flags"))
    var callFlags: [String] = []

    func validate() throws {
      if let problem = RequestSettings.environmentProblem(ProcessInfo.processInfo.environment) {
        throw ValidationError(problem)
      }
      if let budget, !(budget >= 0) {
        throw ValidationError("--budget must be 0 or more USD (got \(budget))")
      }
      guard (1...1024).contains(jobs) else {
        throw ValidationError("--jobs must be from 1 to 1024 (got \(jobs))")
      }
      try document.validate()
    }

    mutating func execute() throws -> ExitStatus {
      let mode =
        self.mode.flatMap { $0.isEmpty ? nil : $0 }
        ?? ProcessInfo.processInfo.environment["SHEAF_MODE"].flatMap { $0.isEmpty ? nil : $0 }
      var options = RunCommands.PrepareOptions(planPath: plan, runs: runs)
      options.mode = mode
      options.force = force
      options.regenerate = regenerate.flatMap { $0.isEmpty ? nil : $0 }
      options.cascade = cascade
      options.note = note
      options.clearNote = clearNote
      options.dryRun = dryRun
      options.allowOutside = outside.allowOutside
      options.prompts = prompt.settings
      options.prices = try price.priceList()
      options.only = only.map { commaSeparated([$0]) }
      options.request = try RequestFlags.among(callFlags).given
      if let given: String = warn { options.warn = commaSeparated([given]) }
      options.budget = budget
      options.jobs = jobs
      options.forget = forget
      options.document = document.id
      options.set = inSet.map { (SetLayout($0).rate, SetLayout($0).ledger) }
      let doc = try RunCommands.prepare(options, tool: SheafRun.toolName)
      if !dryRun { try RecordWriter().writeText(doc + "\n") }
      return .completed
    }
  }

  struct Init: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Start a document in a new folder from an example: its plan, inputs, prompt set and a Makefile.",
      discussion: """
        EXAMPLES
          sheaf-run init --list
          sheaf-run init my-prd --from prd && cd my-prd && make doc
        """)
    @Argument(help: "The new folder.") var directory: String?
    @Option(
      name: .customLong("from"), help: ArgumentHelp("The kind (see --list).", valueName: "kind"))
    var kind: String?
    @Flag(help: "List the kinds, one line each.") var list = false
    mutating func execute() throws -> ExitStatus {
      if list {
        try RecordWriter().writeText(Scaffold.list())
        return .completed
      }
      guard let directory, let kind else {
        throw ToolFailure.usage("init: give a folder and --from KIND (see sheaf-run init --list)")
      }
      try Scaffold.create(directory, kind: kind, tool: SheafRun.toolName)
      return .completed
    }
  }

  struct Lock: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Take the run's lock on a descriptor the shell opened: one make doc or regen per document at a time (a second one waits, saying so).",
      discussion: """
        A flock belongs to the open file, shared by the shell and what it starts: the lock \
        outlives this step and dies with the run's last process (kill -9 included).

        EXAMPLE
          run=$(sheaf-run where --plan pipelines/prd/plan.json --runs runs)
          exec 9>>"$run/.lock"; sheaf-run lock --run "$run" --fd 9 && make …
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Option(help: ArgumentHelp("The open descriptor of <run>/.lock.", valueName: "n"))
    var fd: Int32 = 9
    @Flag(help: "Fail at once when another run holds the lock, instead of waiting.")
    var noWait = false
    mutating func execute() throws -> ExitStatus {
      try RunCommands.lock(
        run: RunDirectory(path: run), fd: fd, wait: !noWait, tool: SheafRun.toolName)
    }
  }

  struct Where: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print a plan's run directory (runs/<doc>), creating it.")
    @Option(help: ArgumentHelp("The plan.", valueName: "path")) var plan: String
    @Option(help: ArgumentHelp("The root of the run directories.", valueName: "dir")) var runs =
      "runs"
    @OptionGroup var document: DocumentFlags
    func validate() throws { try document.validate() }
    mutating func execute() throws -> ExitStatus {
      let run = try RunCommands.runDirectory(plan: plan, runs: runs, document: document.id)
      try RecordWriter().writeText(run.path + "\n")
      return .completed
    }
  }

  struct Fresh: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "After build-prompt: a section whose stored result has the fingerprint it would get now is passed on as that result (nothing is asked); others pass through."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    mutating func execute() throws -> ExitStatus {
      try RunCommands.fresh(run: RunDirectory(path: run), tool: SheafRun.toolName)
    }
  }

  struct Pause: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Pause a run: the sections running finish, no new one starts; the next make doc resumes.")
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    mutating func execute() throws -> ExitStatus {
      let directory = RunDirectory(path: run)
      guard FileManager.default.fileExists(atPath: directory.layout.plan) else {
        throw ToolFailure.usage("\(run): no run here (run `make doc PLAN=…` first)")
      }
      try directory.markPaused()
      Diagnostics.say(
        SheafRun.toolName,
        "\(run): paused; the sections running finish and no new one starts; `make doc` resumes")
      return .completed
    }
  }

  struct Versions: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "List the kept versions of a section (make regen keeps the one it replaces).")
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Argument(help: "The section id.") var id: String
    mutating func execute() throws -> ExitStatus {
      try RunCommands.versions(run: RunDirectory(path: run), id: id)
    }
  }

  struct Restore: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Make a kept version the section's result again (kept like a person's edit; the current one becomes a version)."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Argument(help: "The section id.") var id: String
    @Argument(help: "The version number (see versions).") var number: Int
    mutating func execute() throws -> ExitStatus {
      try RunCommands.restore(
        run: RunDirectory(path: run), id: id, number: number, tool: SheafRun.toolName)
    }
  }

  struct Deps: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Mark records skipped (dependency_failed) whose depends_on sections did not complete; pass a person's section as it is."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(help: "Regenerate sections a person wrote.") var force = false
    @Flag(
      name: .customLong("for-summaries"),
      help: "The records go to build-prompt --summary-requests: the sections do not start here.")
    var forSummaries = false
    mutating func execute() throws -> ExitStatus {
      try RunCommands.deps(
        run: RunDirectory(path: run),
        force: force || ProcessInfo.processInfo.environment["SHEAF_FORCE"] == "1",
        starts: !forSummaries)
    }
  }

  struct Save: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write records to sections/<id>.json and .md, atomically; keep people's sections.")
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(help: "Overwrite sections a person wrote.") var force = false
    mutating func execute() throws -> ExitStatus {
      try RunCommands.save(
        run: RunDirectory(path: run),
        force: force || ProcessInfo.processInfo.environment["SHEAF_FORCE"] == "1",
        tool: SheafRun.toolName)
    }
  }

  struct Summaries: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Keep answered summary requests (build-prompt --summary-requests) in the run's summaries/.",
      discussion: """
        A section whose prompt is over its budget (max_input_tokens) is given the oldest \
        context as summaries. They are records of their own, made before the section by
        plan-sections --only ID | sheaf-run deps --run R | build-prompt --run R \
        --summary-requests | call-llm --run R | validate-format --run R | sheaf-run summaries \
        --run R --save: each is asked once per content, logged in events.ndjson and counted in \
        cost and budget like any request.
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(help: "Keep the answered summary requests read from standard input.") var save = false
    mutating func execute() throws -> ExitStatus {
      guard save else { throw ToolFailure.usage("summaries: give --save") }
      return try RunCommands.saveSummaries(run: RunDirectory(path: run), tool: SheafRun.toolName)
    }
  }

  struct Finish: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "The end of a make doc: say where the document and summary are, what waits for review, and run NOTIFY with the document's status.",
      discussion: """
        NOTIFY (a shell command) runs with SHEAF_DOC, SHEAF_DOC_STATUS (ready, partial, failed, \
        cancelled), SHEAF_DOCUMENT and SHEAF_SUMMARY in its environment; its failure is said \
        and changes nothing.
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Option(help: ArgumentHelp("A shell command to run at the end.", valueName: "command"))
    var notify: String?
    mutating func execute() throws -> ExitStatus {
      try RunCommands.finish(
        run: RunDirectory(path: run), notify: notify, tool: SheafRun.toolName)
    }
  }

  struct Info: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Print the plan path or the mode of the run's last `make doc` (for make regen), its mode's section ids (sections), what make builds (targets: every section, or ONLY='s), or the sections waiting for a provider batch's next wave (batched)."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Argument(help: "plan, mode, sections, targets or batched.") var key: String
    mutating func execute() throws -> ExitStatus {
      guard ["plan", "mode", "sections", "targets", "batched"].contains(key) else {
        throw ToolFailure.usage(
          "info: name plan, mode, sections, targets or batched (got '\(key)')")
      }
      return try RunCommands.info(run: RunDirectory(path: run), key: key)
    }
  }

  struct Status: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Each section's status, seconds, tokens, attempts and error hint, and the progress."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @OptionGroup var prompt: PromptFlags
    @OptionGroup var price: PriceFlag
    @Argument(
      parsing: .postTerminator,
      help: ArgumentHelp(
        "After --: call-llm's flags (CALL_FLAGS) to judge the sections by (default: the run's).",
        valueName: "call-llm flags"))
    var callFlags: [String] = []
    mutating func execute() throws -> ExitStatus {
      let request =
        callFlags.isEmpty ? nil : try RequestFlags.among(callFlags).given ?? JSON.object()
      return try RunCommands.status(
        run: RunDirectory(path: run), prompts: prompt.settings, request: request,
        prices: try price.priceList())
    }
  }

  struct Watch: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show the run's state, then follow it live.")
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(name: .customLong("until-complete"), help: "Stop when the run completes.")
    var untilComplete = false
    @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "s")) var timeout:
      Double?
    @Flag(
      help:
        "Write the run's state as NDJSON for other programs: a line per section as it changes, and the progress."
    )
    var json = false
    mutating func execute() throws -> ExitStatus {
      try RunCommands.watch(
        run: RunDirectory(path: run), untilComplete: untilComplete, timeout: timeout, json: json)
    }
  }
}
