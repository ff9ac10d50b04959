import Foundation
import SheafCore
import SheafPlan

/// `sheaf-run init DIR --from KIND`: a folder to write a document in, from one of the shipped
/// examples: its plan and inputs, its prompt set copied for editing, and a Makefile that includes
/// the driver with `PLAN` set, so `make doc` works there with no arguments.
public enum Scaffold {
  /// The kinds, with one line each.
  public static let kinds: [(name: String, line: String)] = [
    ("prd", "a product requirements document: 12 sections in 3 stages, and a draft mode"),
    ("report", "a report from a Markdown outline, with the generic prompt set"),
    ("book", "chapters that follow each other, and a continuity pass"),
    ("blog", "a blog post from a Markdown outline"),
    ("episode", "an episode script written block by block"),
  ]

  /// Where sheaf's shared files are: `SHEAF_SHARE`, else `share/sheaf` beside the tools, else the
  /// checkout the tools were built in; `nil` when none has the examples.
  public static func root() -> String? {
    SheafRoots.candidates.first {
      FileManager.default.fileExists(atPath: "\($0)/pipelines/sheaf.mk")
    }
  }

  /// The list for `init --list`.
  public static func list() -> String {
    kinds.map { "\($0.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \($0.line)\n" }
      .joined()
  }

  /// Writes the scaffold of `kind` into `directory` (which must not exist or be empty).
  /// - Throws: `ToolFailure` for an unknown kind, a folder in use, or files that cannot be copied.
  public static func create(_ directory: String, kind: String, tool: String) throws {
    guard kinds.contains(where: { $0.name == kind }) else {
      throw ToolFailure.usage(
        "init: unknown kind '\(kind)' (known: \(kinds.map(\.name).joined(separator: ", ")))")
    }
    guard let root = root() else {
      throw ToolFailure.usage(
        "init: cannot find sheaf's shared files (set SHEAF_SHARE to the folder with pipelines/ and prompts/)"
      )
    }
    let files = FileManager.default
    if let entries = try? files.contentsOfDirectory(atPath: directory), !entries.isEmpty {
      throw ToolFailure.usage("init: \(directory) is not empty; choose a new folder")
    }
    do {
      try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
      let example = "\(root)/pipelines/\(kind)"
      for name in try files.contentsOfDirectory(atPath: example) {
        try files.copyItem(atPath: "\(example)/\(name)", toPath: "\(directory)/\(name)")
      }
      let planName = files.fileExists(atPath: "\(directory)/plan.json") ? "plan.json" : "plan.md"
      // The plan's prompt set, copied for editing (a plan without one uses the default set).
      let plan = try PlanReader.read(path: "\(directory)/\(planName)", allowOutside: false)
      let set = plan.promptSet ?? "default"
      let source = "\(root)/prompts/\(plan.promptSet ?? "default")"
      if files.fileExists(atPath: source) {
        try files.createDirectory(
          atPath: "\(directory)/prompts", withIntermediateDirectories: true)
        try files.copyItem(atPath: source, toPath: "\(directory)/prompts/\(set)")
      }
      let makefile = """
        # \(plan.title): `make doc` writes runs/\(plan.id)/\(plan.id).md (PROVIDER=, MODEL= to
        # choose the model); `make status`, `make watch`, `make regen SECTION=… NOTE="…"`.
        # Edit \(planName), its inputs and prompts/\(set)/ to make the document your own.
        PLAN := \(planName)
        DOC := \(plan.id)
        include \(root)/pipelines/sheaf.mk

        """
      try AtomicFile.write(makefile, to: "\(directory)/Makefile")
      Diagnostics.say(
        tool,
        "\(directory): \(planName), its inputs, prompts/\(set)/ and a Makefile; run `make doc` there"
      )
    } catch let failure as ToolFailure {
      throw failure
    } catch {
      throw ToolFailure.usage("init: \(directory): \(SystemReason.of(error))")
    }
  }
}
