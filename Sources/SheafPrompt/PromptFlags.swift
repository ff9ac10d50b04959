import ArgumentParser
import Foundation
import SheafCore

/// build-prompt's flags that shape a prompt: one definition for build-prompt and for the run
/// steps that judge prompts as build-prompt will (`sheaf-run prepare`, `status`), which store them
/// in `run.json` once per run for every tool of the run to read.
public struct PromptFlags: ParsableArguments {
  /// `--prompts`.
  @Option(
    name: .customLong("prompts"),
    help: ArgumentHelp("A folder of prompt sets, searched first (repeatable).", valueName: "dir"))
  public var promptDirs: [String] = []

  /// `--set`.
  @Option(
    help: ArgumentHelp(
      "The prompt set (default: the record's prompt_set, else its plan_id, else its doc).",
      valueName: "name"))
  public var set: String?

  /// `--lax`.
  @Flag(help: "Render names the data does not have as empty instead of failing the record.")
  public var lax = false

  /// `--max-input-tokens`.
  @Option(
    name: .customLong("max-input-tokens"),
    help: ArgumentHelp("A budget for the prompt (about 4 characters a token).", valueName: "n"))
  public var maxInputTokens: Int?

  /// `--outline`.
  @Option(
    help: ArgumentHelp(
      "Which other sections a prompt names: all, selected (those plan-sections --only chose) or none.",
      valueName: "all|selected|none"))
  public var outline = "all"

  /// The defaults.
  public init() {}

  /// - Throws: `ValidationError` for a budget under 1 or an unknown outline choice.
  public func validate() throws {
    if let maxInputTokens, maxInputTokens < 1 {
      throw ValidationError("--max-input-tokens must be 1 or more")
    }
    guard ["all", "selected", "none"].contains(outline) else {
      throw ValidationError("--outline must be all, selected or none (got '\(outline)')")
    }
  }

  /// The flags as a plain value.
  public var settings: PromptSettings {
    PromptSettings(
      promptDirs: promptDirs, set: set, lax: lax, maxInputTokens: maxInputTokens, outline: outline)
  }
}

/// build-prompt's prompt-shaping settings as a value: as flags gave them, or as a run stored them
/// in `run.json` (`prompt_options`).
public struct PromptSettings {
  /// `--prompts`.
  public var promptDirs: [String] = []
  /// `--set`.
  public var set: String?
  /// `--lax`.
  public var lax = false
  /// `--max-input-tokens`.
  public var maxInputTokens: Int?
  /// `--outline`.
  public var outline = "all"

  /// Settings as given.
  public init(
    promptDirs: [String] = [], set: String? = nil, lax: Bool = false, maxInputTokens: Int? = nil,
    outline: String = "all"
  ) {
    self.promptDirs = promptDirs
    self.set = set
    self.lax = lax
    self.maxInputTokens = maxInputTokens
    self.outline = outline
  }

  /// The settings a run keeps in `run.json`.
  public init(stored: JSON?) {
    guard let stored else { return }
    promptDirs = stored["prompts"]?.array?.compactMap(\.string) ?? []
    set = stored["set"]?.string
    lax = stored["lax"]?.bool ?? false
    maxInputTokens = stored["max_input_tokens"]?.int
    outline = stored["outline"]?.string ?? "all"
  }

  /// Whether none was given (a run's stored options then apply).
  public var isEmpty: Bool {
    promptDirs.isEmpty && set == nil && !lax && maxInputTokens == nil && outline == "all"
  }

  /// The options these settings give.
  public var options: PromptOptions {
    var options = PromptOptions()
    options.promptDirs = promptDirs
    options.set = set
    options.lax = lax
    options.maxInputTokens = maxInputTokens
    options.outline = outline
    return options
  }

  /// The settings as `run.json` keeps them (`prompt_options`).
  public var stored: JSON {
    .object([
      "prompts": .array(promptDirs.map { JSON($0) }),
      "set": set.map { JSON($0) } ?? .null, "lax": JSON(lax),
      "max_input_tokens": maxInputTokens.map { JSON($0) } ?? .null,
      "outline": JSON(outline),
    ])
  }
}

extension PromptOptions {
  /// The options of a run: `given` flags when there are any, else the ones the run stored; the
  /// run's request settings and rules that only warn; its `sections/` and `summaries/`.
  public static func forRun(_ layout: RunLayout, given: PromptSettings) -> PromptOptions {
    let settings = layout.settings
    var options =
      given.isEmpty ? PromptSettings(stored: settings.promptOptions).options : given.options
    options.contextDir = layout.sections
    options.summariesDir = layout.summaries
    options.request = settings.request
    options.warn = settings.warn
    return options
  }
}
