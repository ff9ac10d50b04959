import ArgumentParser
import Foundation
import SheafCore
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
        plan-sections --only ID | sheaf-run deps | build-prompt --context runs/<doc>/sections
        | call-llm --events-file runs/<doc>/events.ndjson | validate-format | sheaf-run save
      and these steps around it. Use `sheaf-run status` and `sheaf-run watch` yourself.

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current,
    subcommands: [
      Prepare.self, Deps.self, Save.self, Keep.self, Status.self, Watch.self, Info.self,
    ])

  mutating func execute() throws -> ExitStatus {
    throw ToolFailure.usage("name a step: prepare, deps, save, keep, status or watch")
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
    @Flag(help: "Regenerate over people's edits.") var force = false
    @Option(help: ArgumentHelp("Regenerate this section.", valueName: "id")) var regenerate: String?
    @Option(
      help: ArgumentHelp(
        "With --regenerate: also the sections that use it (yes or no).", valueName: "yes|no"))
    var cascade = "yes"
    @Flag(
      name: .customLong("allow-outside"),
      help: "Let the plan read files outside its folder (or SHEAF_ALLOW_OUTSIDE=1).")
    var allowOutside = false

    mutating func execute() throws -> ExitStatus {
      let mode =
        self.mode.flatMap { $0.isEmpty ? nil : $0 }
        ?? ProcessInfo.processInfo.environment["SHEAF_MODE"].flatMap { $0.isEmpty ? nil : $0 }
      let doc = try RunCommands.prepare(
        planPath: plan, runs: runs, mode: mode, force: force,
        regenerate: regenerate.flatMap { $0.isEmpty ? nil : $0 },
        cascade: !["no", "false", "0"].contains(cascade.lowercased()), allowOutside: allowOutside,
        tool: SheafRun.toolName)
      try RecordWriter().writeText(doc + "\n")
      return .completed
    }
  }

  struct Deps: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Mark records skipped (dependency_failed) whose depends_on sections did not complete; pass a person's section as it is."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Flag(help: "Regenerate sections a person wrote.") var force = false
    mutating func execute() throws -> ExitStatus {
      try RunCommands.deps(
        run: RunDirectory(path: run),
        force: force || ProcessInfo.processInfo.environment["SHEAF_FORCE"] == "1")
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

  struct Keep: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Exit 0 when a person wrote the section (and SHEAF_FORCE is not 1), else 1.")
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Argument(help: "The section id.") var id: String
    mutating func execute() throws -> ExitStatus {
      let force = ProcessInfo.processInfo.environment["SHEAF_FORCE"] == "1"
      return !force && RunDirectory(path: run).isHuman(id) ? .completed : .someFailed
    }
  }

  struct Info: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the plan path or the mode of the run's last `make doc` (for make regen).")
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    @Argument(help: "plan or mode.") var key: String
    mutating func execute() throws -> ExitStatus {
      guard ["plan", "mode"].contains(key) else {
        throw ToolFailure.usage("info: name plan or mode (got '\(key)')")
      }
      return try RunCommands.info(run: RunDirectory(path: run), key: key)
    }
  }

  struct Status: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Each section's status, seconds, tokens, attempts and error hint, and the progress."
    )
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    mutating func execute() throws -> ExitStatus {
      try RunCommands.status(run: RunDirectory(path: run))
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
    mutating func execute() throws -> ExitStatus {
      try RunCommands.watch(
        run: RunDirectory(path: run), untilComplete: untilComplete, timeout: timeout)
    }
  }
}
