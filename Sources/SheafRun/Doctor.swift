import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// What a run will need, checked before it spends anything.
///
/// `sheaf-run doctor`, `make doctor`: the tools and their versions, the plan, every prompt set and template, the price when there is
/// a budget, then what call-llm checks (`call-llm --check`: the key, the server, the model). One
/// line each, ✓ or ✗ with the fix.
public enum Doctor {
  /// What to check.
  public struct Options {
    /// The plan's path and mode.
    public var plan: String
    public var mode: String?
    /// The folder of the tools (`SHEAF_BIN`; default: the one this tool is in).
    public var bin: String?
    /// Only what is quick and needs no network (what `make doc` checks first).
    public var cheap = false
    /// A budget, which needs a price.
    public var budget: Double?
    public var prices = PriceList()
    public var prompts = PromptSettings()
    /// call-llm's flags (CALL_FLAGS).
    public var callFlags: [String] = []
    public var allowOutside = false
    /// A prepared run: its planned sections that will be asked (not completed) are checked, with
    /// the settings the run keeps (run.json) under the ones given.
    public var run: String?
    /// A table of inputs (`make docs ROWS=`): the prompts are checked with its first row's fields
    /// as the document's inputs, as its documents will be built.
    public var rows: String?

    public init(plan: String) { self.plan = plan }
  }

  /// The lines, written as they are found; `.completed` only when every check passed.
  public static func run(_ options: Options) throws -> ExitStatus {
    let writer = RecordWriter()
    var failed = false
    // The quick checks before a make doc say only what failed, as the tools' diagnostics are.
    let prefix = options.cheap ? "sheaf-run: " : ""
    func say(_ passed: Bool, _ text: String) throws {
      if !passed { failed = true }
      if passed && options.cheap { return }
      try writer.writeText(prefix + (passed ? "✓ " : "✗ ") + text + "\n")
    }
    let bin = options.bin ?? ((CommandLine.arguments[0] as NSString).deletingLastPathComponent)
    if !options.cheap {
      for tool in ["plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc"] {
        let path = "\(bin)/\(tool)"
        let (status, said) = Subprocess.run(path, ["--version"])
        try say(
          status == 0,
          status == 0
            ? "\(tool) \(said.trimmed) (\(path))"
            : "\(tool) not found in \(bin): run make build, or set SHEAF_BIN to the tools' folder")
      }
    }
    var prompts = options.prompts.options
    var request = try RequestFlags.among(options.callFlags).given
    let records: [JSON]
    if let path = options.run {
      // What this make doc will ask: the planned sections without a completed result.
      let run = RunDirectory(path: path)
      records = run.plannedRecords().filter { record in
        guard let id = record["id"]?.string else { return false }
        return run.record(id)?["status"]?.string != SectionStatus.completed.rawValue
      }
      prompts = run.promptOptions(given: options.prompts, request: request)
      request = prompts.request
    } else {
      guard let planned = try plannedRecords(options, say: say) else { return .someFailed }
      records = planned
    }
    guard !records.isEmpty else { return .completed }
    try checkPrompts(records, options: prompts, say: say)
    if options.budget != nil {
      try checkPrices(records, options: options, request: request, say: say)
    }
    // The key, the server and the model: what call-llm would send, checked by call-llm.
    let input = records.map { $0.compactText + "\n" }.joined()
    let (status, said) = Subprocess.run(
      "\(bin)/call-llm",
      ["--check"] + (options.cheap ? ["--no-network"] : [])
        + (options.run.map { ["--run", $0] } ?? []) + options.callFlags,
      input: input)
    try writer.writeText(
      options.cheap
        ? said.split(separator: "\n").filter { $0.hasPrefix("✗") }.map { prefix + $0 + "\n" }
          .joined()
        : said)
    if status != 0 {
      failed = true
      if said.isEmpty { try say(false, "call-llm --check could not run (exit \(status))") }
    }
    return failed ? .someFailed : .completed
  }

  /// The plan's records, said to be valid (or why not); `nil` when it is not.
  static func plannedRecords(_ options: Options, say: (Bool, String) throws -> Void) throws
    -> [JSON]?
  {
    var plan: Plan
    let graph: SectionGraph
    do {
      plan = try PlanReader.read(
        path: options.plan, allowOutside: options.allowOutside || PlanPaths.allowOutside())
      if let rows = options.rows, let first = try DocumentRows.read(path: rows).rows.first {
        plan.document(plan.id, row: first.fields)
      }
      graph = try SectionGraph(plan: plan, mode: options.mode.flatMap { $0.isEmpty ? nil : $0 })
    } catch let problems as PlanProblems {
      try say(false, "plan \(options.plan): \(problems.lines.joined(separator: "; "))")
      return nil
    } catch let failure as ToolFailure {
      try say(false, "plan: \(failure.message)")
      return nil
    }
    let stages = Set(graph.sections.map(\.stage)).count
    try say(
      true,
      "plan \(options.plan): \(graph.sections.count) section\(graph.sections.count == 1 ? "" : "s") in \(stages) stage\(stages == 1 ? "" : "s")"
    )
    return graph.sections.map { PlanEmitter.record(for: $0, in: graph) }
  }

  /// Every section's prompt renders: its prompt set and templates are found and know every name.
  static func checkPrompts(
    _ records: [JSON], options: PromptOptions, say: (Bool, String) throws -> Void
  ) throws {
    let builder = PromptBuilder(options: options)
    var problems: [String] = []
    var sets = Set<String>()
    for record in records {
      let built = try builder.build(Record(record.copy()))
      if let error = built["error"], built["status"]?.string == "failed" {
        problems.append(
          "section '\(record["id"]?.string ?? "?")': \(SheafError(json: error).shown)")
      } else if let files = built["template_files"]?.array?.compactMap(\.string),
        let first = files.first
      {
        sets.insert((first as NSString).deletingLastPathComponent)
      }
    }
    if problems.isEmpty {
      try say(
        true,
        "prompts: every section's prompt renders (from \(sets.sorted().joined(separator: ", ")))")
    } else {
      for problem in problems.prefix(5) { try say(false, problem) }
      if problems.count > 5 { try say(false, "and \(problems.count - 5) more sections like these") }
    }
  }

  /// A budget needs a price for every model the sections are sent to.
  static func checkPrices(
    _ records: [JSON], options: Options, request: JSON?, say: (Bool, String) throws -> Void
  ) throws {
    let environment = ProcessInfo.processInfo.environment
    // CALL_FLAGS may name the price list (--prices) too.
    var prices = options.prices
    if let flag = options.callFlags.firstIndex(of: "--prices"), flag + 1 < options.callFlags.count {
      prices = try PriceList.load(flag: options.callFlags[flag + 1], environment: environment)
    }
    var missing = Set<String>()
    for record in records {
      let llm = record["llm"]
      let provider =
        RequestSettings.value("provider", given: request, environment: environment, llm: llm) ?? "?"
      let model =
        RequestSettings.value("model", given: request, environment: environment, llm: llm) ?? "?"
      if provider == "offline" { continue }
      if prices.price(llm: llm, provider: provider, model: model) == nil {
        missing.insert("\(provider)/\(model)")
      }
    }
    if missing.isEmpty {
      try say(true, "prices: known for every model the budget counts")
    } else {
      try say(
        false,
        "no price for \(missing.sorted().joined(separator: ", ")), which BUDGET needs: give PRICES=file (or SHEAF_PRICES) or llm.price in the plan"
      )
    }
  }
}
