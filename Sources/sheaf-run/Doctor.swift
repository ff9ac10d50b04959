import ArgumentParser
import Foundation
import SheafCore
import SheafPrompt
import SheafRun

extension SheafRun {
  struct DoctorCommand: FilterCommand {
    static let configuration = CommandConfiguration(
      commandName: "doctor",
      abstract:
        "Check what a run needs before it spends anything: the tools, the plan, its prompts, the price, the key, the server and the model.",
      discussion: """
        One line each, ✓ or ✗ with the fix; exits 0 only when every check passes. The key is \
        never shown. --cheap checks only what needs no network and no other tool (make doc \
        does that before its first request).

        EXAMPLES
          sheaf-run doctor --plan pipelines/prd/plan.json
          sheaf-run doctor --plan plan.json -- --provider ollama --model llama3.2
          make doctor PLAN=plan.json PROVIDER=openai MODEL=gpt-4o-mini
        """)
    @Option(help: ArgumentHelp("The plan.", valueName: "file")) var plan: String
    @Option(help: ArgumentHelp("The plan's mode.", valueName: "name")) var mode: String?
    @Option(
      help: ArgumentHelp(
        "The folder of the tools (default: SHEAF_BIN, else this tool's).", valueName: "dir"))
    var bin: String?
    @Flag(help: "Only what needs no network: the plan, its prompts, the price and the keys.")
    var cheap = false
    @Option(
      help: ArgumentHelp(
        "A prepared run: check only the sections it will ask, with the settings it keeps.",
        valueName: "dir"))
    var run: String?
    @Option(
      help: ArgumentHelp(
        "A table of inputs (make docs ROWS=): check the prompts with its first row's fields.",
        valueName: "path"))
    var rows: String?
    @Option(
      help: ArgumentHelp("A budget in USD: every model then needs a price.", valueName: "usd"))
    var budget: Double?
    @OptionGroup var outside: OutsideFlag
    @OptionGroup var prompt: PromptFlags
    @OptionGroup var price: PriceFlag
    @Argument(
      parsing: .postTerminator,
      help: ArgumentHelp("After --: call-llm's flags (CALL_FLAGS).", valueName: "call-llm flags"))
    var callFlags: [String] = []

    mutating func execute() throws -> ExitStatus {
      var options = Doctor.Options(plan: plan)
      options.mode = mode
      let environment = ProcessInfo.processInfo.environment
      options.bin = bin ?? environment["SHEAF_BIN"].flatMap { $0.isEmpty ? nil : $0 }
      options.cheap = cheap
      options.budget = budget
      options.prices = try price.priceList()
      options.prompts = prompt.settings
      options.callFlags = callFlags
      options.allowOutside = outside.allowOutside
      options.run = run
      options.rows = rows.flatMap { $0.isEmpty ? nil : $0 }
      return try Doctor.run(options)
    }
  }
}

extension SheafRun {
  struct TimelineCommand: FilterCommand {
    static let configuration = CommandConfiguration(
      commandName: "timeline",
      abstract:
        "Where the last run's time went, as SVG: a bar per request, a row per section, stage by stage.",
      discussion: """
        Green: answered; amber: answered, then asked again (the answer broke its format); red: \
        failed. Each bar's tooltip says the section, the attempt and its seconds.

        EXAMPLES
          sheaf-run timeline --run runs/prd > timeline.svg
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    mutating func execute() throws -> ExitStatus {
      try RecordWriter().writeText(Timeline.svg(run: RunDirectory(path: run)))
      return .completed
    }
  }
}
