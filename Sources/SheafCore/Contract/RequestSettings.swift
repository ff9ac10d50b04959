import ArgumentParser

/// The settings that shape a request, resolved in one place for every tool: a setting given on
/// the command line (call-llm's flags, or the copy of them a run keeps in `run.json`) wins, then
/// `SHEAF_PROVIDER`, `SHEAF_MODEL`, `SHEAF_BASE_URL`, then the record's `llm` (plan, stage and
/// section values, merged by plan-sections).
///
/// build-prompt's fingerprint and call-llm's `request_key` are both made from what this returns,
/// with one hash (SHA-256), so `CALL_FLAGS=--model x` changes both.
public enum RequestSettings {
  /// The settings a flag or the environment may choose, with their variables.
  public static let chosen = [
    ("provider", "SHEAF_PROVIDER"), ("model", "SHEAF_MODEL"), ("base_url", "SHEAF_BASE_URL"),
  ]

  /// One setting: `given` (flags), then the environment, then `llm`.
  public static func value(
    _ key: String, given: JSON?, environment: [String: String], llm: JSON?
  ) -> String? {
    if let value = given?[key]?.string, !value.isEmpty { return value }
    if let variable = chosen.first(where: { $0.0 == key })?.1, let value = environment[variable],
      !value.isEmpty
    {
      return value
    }
    return llm?[key]?.string
  }

  /// `max_tokens` as given (`--max-tokens`, else `SHEAF_MAX_TOKENS`, make's MAX_TOKENS=), over
  /// the plan's; `nil` when neither gives one.
  public static func maxTokens(given: JSON?, environment: [String: String]) -> Int? {
    if let value = given?["max_tokens"]?.int, value > 0 { return value }
    if let text = environment["SHEAF_MAX_TOKENS"], let value = Int(text), value > 0 {
      return value
    }
    return nil
  }

  /// The request keys of `llm` as they reach the request: the plan's, with a given `max_tokens`
  /// over its own.
  public static func requestParameters(llm: JSON?, given: JSON?, environment: [String: String])
    -> [(key: String, value: JSON)]
  {
    var parameters: [(key: String, value: JSON)] = []
    for key in ProviderNames.requestKeys {
      if let value = llm?[key], !value.isNull { parameters.append((key, value)) }
    }
    if let tokens = maxTokens(given: given, environment: environment) {
      parameters.removeAll { $0.key == "max_tokens" }
      parameters.append(("max_tokens", JSON(tokens)))
    }
    return parameters
  }

  /// What shapes an answer, resolved: `provider`, `model`, `base_url` where one is chosen, the
  /// `llm` keys that reach the request (never prices, timeouts or retries) with a given
  /// `max_tokens`, and a given `seed`.
  public static func effective(llm: JSON?, given: JSON?, environment: [String: String]) -> JSON {
    let settings = JSON.object()
    for (key, _) in chosen {
      if let value = value(key, given: given, environment: environment, llm: llm) {
        settings[key] = JSON(value)
      }
    }
    for (key, value) in requestParameters(llm: llm, given: given, environment: environment) {
      settings[key] = value.copy()
    }
    if let seed = given?["seed"], !seed.isNull { settings["seed_given"] = seed.copy() }
    return settings
  }

  /// The settings make passes as `SHEAF_*` that must be numbers (MAX_TOKENS=, TIMEOUT=,
  /// RETRIES=): the first that is not, in words.
  public static func environmentProblem(_ environment: [String: String]) -> String? {
    for (variable, name, whole) in [
      ("SHEAF_MAX_TOKENS", "MAX_TOKENS", true), ("SHEAF_TIMEOUT", "TIMEOUT", false),
      ("SHEAF_RETRIES", "RETRIES", true),
    ] {
      guard let text = environment[variable], !text.isEmpty else { continue }
      let fine =
        whole
        ? Int(text).map { $0 >= (name == "RETRIES" ? 0 : 1) && $0 <= 10_000_000 } ?? false
        : Double(text).map { $0 > 0 && $0.isFinite } ?? false
      if !fine {
        return "\(name)=\(text): give \(whole ? "a whole number" : "seconds") (\(variable))"
      }
    }
    return nil
  }
}

/// call-llm's flags that choose who answers (`--provider`, `--model`, `--base-url`, `--seed`):
/// one definition for call-llm and for the run steps that must judge requests as call-llm will
/// (`sheaf-run prepare` and `status` read them from the run's CALL_FLAGS, after `--`).
public struct RequestFlags: ParsableArguments {
  /// `--provider`.
  @Option(help: ArgumentHelp("openai, anthropic, ollama or offline.", valueName: "name"))
  public var provider: String?

  /// `--model`.
  @Option(help: ArgumentHelp("The model.", valueName: "name"))
  public var model: String?

  /// `--base-url`.
  @Option(
    name: .customLong("base-url"),
    help: ArgumentHelp(
      "The provider's base URL (for example http://localhost:8000/v1).", valueName: "url"))
  public var baseURL: String?

  /// `--seed`.
  @Option(help: ArgumentHelp("Seed for backoff jitter and the offline provider.", valueName: "n"))
  public var seed: UInt64?

  /// `--max-tokens`.
  @Option(
    name: .customLong("max-tokens"),
    help: ArgumentHelp(
      "Cap every answer at this many tokens, over llm.max_tokens (else SHEAF_MAX_TOKENS).",
      valueName: "n"))
  public var maxTokens: Int?

  /// Flags as given.
  public init() {}

  /// - Throws: `ValidationError` for a `--max-tokens` under 1.
  public func validate() throws {
    if let maxTokens, maxTokens < 1 {
      throw ValidationError("--max-tokens must be 1 or more (got \(maxTokens))")
    }
  }

  /// The settings given, as `RequestSettings` takes them (`provider`, `model`, `base_url`,
  /// `seed`), or `nil` when none is.
  public var given: JSON? {
    let json = JSON.object()
    if let provider, !provider.isEmpty { json["provider"] = JSON(provider) }
    if let model, !model.isEmpty { json["model"] = JSON(model) }
    if let baseURL, !baseURL.isEmpty { json["base_url"] = JSON(baseURL) }
    if let seed { json["seed"] = JSON(Int(truncatingIfNeeded: seed)) }
    if let maxTokens { json["max_tokens"] = JSON(maxTokens) }
    return json.members.isEmpty ? nil : json
  }

  /// The request flags among a whole call-llm command line (a run's CALL_FLAGS): the others are
  /// call-llm's own business and are skipped.
  /// - Throws: `ToolFailure.usage` when a request flag has no value.
  public static func among(_ arguments: [String]) throws -> RequestFlags {
    do {
      return try AmongOthers.parse(arguments).flags
    } catch {
      throw ToolFailure.usage("CALL_FLAGS: \(AmongOthers.message(for: error))")
    }
  }

  private struct AmongOthers: ParsableArguments {
    @OptionGroup var flags: RequestFlags
    @Argument(parsing: .allUnrecognized) var others: [String] = []
  }
}
