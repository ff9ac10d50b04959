import Foundation
import SheafCore

/// call-llm's settings, from its flags and the environment.
public struct CallOptions {
  /// Record files (empty: standard input).
  public var inputs: [String] = []
  /// The request settings given on the command line (`--provider`, `--model`, `--base-url`,
  /// `--seed`), with a run's stored ones under them: they win over `SHEAF_*` and the plan.
  public var given: JSON?
  /// A staged run (`--run`): its events, rate limit, budget ledger, sections and progress.
  public var run: RunLayout?

  /// `--provider`: a given setting.
  public var provider: String? {
    get { given?["provider"]?.string }
    set { setGiven("provider", newValue) }
  }
  /// `--model`: a given setting.
  public var model: String? {
    get { given?["model"]?.string }
    set { setGiven("model", newValue) }
  }
  /// `--base-url`: a given setting.
  public var baseURL: String? {
    get { given?["base_url"]?.string }
    set { setGiven("base_url", newValue) }
  }

  private mutating func setGiven(_ key: String, _ value: String?) {
    let settings = given ?? JSON.object()
    settings[key] = value.map { JSON($0) }
    given = settings
  }
  /// `--api-key-env`: the variable the key comes from (default: the provider's own).
  public var apiKeyVariable: String?
  /// Requests in flight at once.
  public var jobs = 4
  /// Write records in input order instead of as they complete.
  public var keepOrder = false
  /// Write events to standard output between records.
  public var events = false
  /// Append events to this file.
  public var eventsFile: String?
  /// Seconds to connect.
  public var connectTimeout = 10.0
  /// Seconds to the first byte of the response.
  public var firstByteTimeout = 120.0
  /// Seconds without a byte once the response has started.
  public var idleTimeout = 60.0
  /// Seconds for a whole attempt (`--timeout`); else the record's `llm.timeout_s`; else 600.
  public var totalTimeout: Double?
  /// Retries after the first attempt (`--retries`); else the record's `llm.retries`; else 2.
  public var retries: Int?
  /// First backoff, in seconds.
  public var retryBase = 1.0
  /// Longest wait between attempts, in seconds.
  public var retryMax = 60.0
  /// Seed for the backoff jitter and the offline provider.
  public var seed: UInt64 = 0
  /// Cache folder (default: `$XDG_CACHE_HOME/sheaf` or `~/.cache/sheaf`).
  public var cacheDirectory: String?
  /// Neither read nor write the cache.
  public var noCache = false
  /// Ask again for these section ids (and store the new answer).
  public var refresh: Set<String> = []
  /// Answer from the cache only: a miss fails, nothing goes to the network.
  public var cacheOnly = false
  /// Offline provider: seconds before the first piece.
  public var offlineDelay = 0.0
  /// Offline provider: pieces (about a token each) per second; 0 writes the answer at once.
  public var offlineTPS = 0.0
  /// Show a live progress line on standard error.
  public var progress = false
  /// Append one line per HTTP attempt here.
  public var log: String?
  /// Put the messages in the log too.
  public var logPrompts = false
  /// Re-asks after an answer that breaks its format (`--repair-attempts`); else the record's
  /// `llm.repair_attempts`; else 2.
  public var repairAttempts: Int?
  /// Rules whose violations are warnings (validate-format's `--warn`): they cause no re-ask.
  public var warn: Set<String> = []
  /// A run's `sections/`, for the rules that compare with the other sections.
  public var sectionsDirectory: String?
  /// A folder where the call-llm processes of one run share their rate limits (per provider and
  /// base URL): the 429 cool-down and the concurrency.
  public var rateDirectory: String?
  /// The set's batch folder: requests go through the provider's batch API (`--batch`).
  public var batchDirectory: String?
  /// Prices by model (`--prices`, `SHEAF_PRICES`), for `cost`.
  public var prices = PriceList()
  /// A budget in USD (`--budget`); else the records' `llm.max_cost`.
  public var budget: Double?
  /// A ledger shared by the call-llm processes of one run (`--budget-file`).
  public var budgetFile: String?
  /// The environment (keys, SHEAF_*, OLLAMA_HOST, XDG_CACHE_HOME).
  public var environment: [String: String] = ProcessInfo.processInfo.environment

  /// Options with the defaults.
  public init() {}

  /// Takes a staged run's files and stored settings: its events, shared rate limit, budget
  /// ledger and sections; its budget, rules that only warn and request settings where none is
  /// given here.
  public mutating func take(run layout: RunLayout) {
    run = layout
    eventsFile = layout.events
    let settings = layout.settings
    // A document of a set shares the set's rate limit and ledger with the set's other documents.
    rateDirectory = settings.setRate ?? layout.rate
    budgetFile = settings.setLedger ?? layout.budget
    sectionsDirectory = layout.sections
    if budget == nil { budget = settings.budget }
    if warn.isEmpty { warn = Set(settings.warn) }
    if let stored = settings.request {
      let merged = stored.copy()
      for (key, value) in given?.members ?? [] { merged[key] = value.copy() }
      given = merged
      if let seed = merged["seed"]?.int { self.seed = UInt64(truncatingIfNeeded: seed) }
    }
  }
}

/// The settings of one record, resolved: flags, then `SHEAF_*`, then the record's `llm`.
struct ResolvedCall {
  var call: LLMCall
  var provider: any Provider
  var baseURL: String
  var requestKey: String
  var maxAttempts: Int
  var totalTimeout: Double
  var apiKey: String?
  var targetWords: ClosedRange<Int>?
  /// Re-asks allowed after answers that break the format.
  var repairAttempts: Int
  /// Seconds for the section across all its attempts, if limited.
  var deadline: Double?
  /// The most `max_tokens` a re-ask of a truncated answer may ask for.
  var maxTokensLimit: Int?
  /// The price of the model, when one is known (`llm.price`, or the prices file).
  var price: Price?
  /// The budget the plan sets (`llm.max_cost`), in USD.
  var maxCost: Double?
  /// The slowest a stream may be and still outlive the attempt's total timeout
  /// (`llm.min_tokens_per_s`, default 1; 0: the total timeout always cuts).
  var minTokensPerS = 1.0
  /// Whether the record is a staged run's (`--run`): hints name make's variables.
  var staged = false
  /// The most bytes an answer (text and thinking) may take (`llm.max_answer_bytes`; default 32
  /// bytes a token of `max_tokens`, at least 64 KiB; 8 MiB without `max_tokens`).
  var maxAnswerBytes = 8 << 20

  /// What the run's shared rate limit is kept per: the provider and its base URL.
  var rateKey: String { "\(call.settings.provider) \(baseURL)" }

  /// The cache key: everything that reaches the wire and shapes the answer, never the API key.
  static func requestKey(
    provider: any Provider, settings: LLMSettings, messages: [Message], format: JSON?, seed: UInt64
  ) -> String {
    let canonical = JSON.object()
    canonical["provider"] = JSON(settings.provider)
    canonical["base_url"] = JSON(settings.baseURL ?? "")
    canonical["model"] = JSON(settings.model)
    canonical["messages"] = ProviderErrors.messagesJSON(messages)
    let parameterObject = JSON.object()
    for (key, value) in settings.parameters.sorted(by: { $0.key < $1.key }) {
      parameterObject[key] = try? JSON.parse(value)
    }
    canonical["parameters"] = parameterObject
    if !provider.usesNetwork {
      canonical["offline_seed"] = JSON(Int(truncatingIfNeeded: seed))
    }
    // A JSON section's request carries its schema (structured output, or the prompt's): two
    // sections that differ only there are two requests. A Markdown format reaches no wire.
    if FormatTypes.isJSON(format) {
      let response = JSON.object()
      response["json"] = JSON(true)
      response["schema"] = format?["schema"]?.copy() ?? .null
      canonical["response"] = response
    }
    return SHA256.hex(canonical.compactText)
  }

  /// The cap on an answer's bytes: `llm.max_answer_bytes`, else 32 bytes a token of the
  /// request's `max_tokens` (or `max_completion_tokens`, or `thinking_budget` with it) but at
  /// least 64 KiB, else 8 MiB.
  static func maxAnswerBytes(llm: JSON?, parameters: [(key: String, value: String)]) -> Int {
    if let given = llm?["max_answer_bytes"]?.int, given > 0 { return given }
    let tokens = ["max_tokens", "max_completion_tokens", "thinking_budget"].compactMap { key in
      parameters.first { $0.key == key }.flatMap { Int($0.value) }
    }.reduce(0, +)
    return tokens > 0 ? max(64 << 10, tokens * 32) : 8 << 20
  }

  /// Resolves a record's settings.
  /// - Throws: `SheafError` (type `input`) when the record cannot be sent.
  static func resolve(_ record: Record, options: CallOptions) throws(SheafError) -> ResolvedCall {
    let json = record.json
    let llm = json["llm"]
    let env = options.environment
    func setting(_ key: String) -> String? {
      RequestSettings.value(key, given: options.given, environment: env, llm: llm)
    }
    guard let list = json["messages"]?.array, !list.isEmpty else {
      throw SheafError(
        .input, "section '\(record.id ?? "?")' has no messages",
        hint: "put build-prompt before call-llm: plan-sections plan.json | build-prompt | call-llm")
    }
    var messages: [Message] = []
    for item in list {
      guard let role = item["role"]?.string, let content = item["content"]?.string else {
        throw SheafError(
          .input, "section '\(record.id ?? "?")': each message needs a string role and content")
      }
      messages.append(Message(role: role, content: content))
    }

    guard let providerName = setting("provider") else {
      throw SheafError(
        .input, "no provider for section '\(record.id ?? "?")'",
        hint:
          "pass --provider (\(ProviderRegistry.names.joined(separator: ", "))), set SHEAF_PROVIDER, or set llm.provider in the plan"
      )
    }
    guard let provider = ProviderRegistry.provider(providerName, seed: options.seed) else {
      throw SheafError(
        .input,
        "unknown provider '\(providerName)' (known: \(ProviderRegistry.names.joined(separator: ", ")))",
        hint: "fix llm.provider in the plan, or pass --provider")
    }
    let model =
      setting("model")
      ?? (provider.usesNetwork ? nil : OfflineProvider.defaultModel)
    guard let model else {
      throw SheafError(
        .input, "no model for section '\(record.id ?? "?")'",
        hint: "pass --model, set SHEAF_MODEL, or set llm.model in the plan")
    }
    let baseURL =
      provider.usesNetwork
      ? setting("base_url")
        ?? provider.defaultBaseURL(environment: env) : "offline"
    let keyVariable = provider.usesNetwork ? options.apiKeyVariable ?? provider.keyVariable : nil
    let apiKey = keyVariable.flatMap { env[$0] }.flatMap { $0.isEmpty ? nil : $0 }
    // A key goes only to the provider's own host or to a base URL the user chose (a flag, the
    // environment): a plan naming another host gets a refusal, before anything is sent.
    let userChose = [options.given?["base_url"]?.string, env["SHEAF_BASE_URL"]].contains {
      !($0 ?? "").isEmpty
    }
    if !userChose, let keyVariable, apiKey != nil, let planned = llm?["base_url"]?.string,
      !BaseURLPolicy.sameOrigin(planned, provider.defaultBaseURL(environment: env))
    {
      throw SheafError(
        .plan,
        "the plan's llm.base_url '\(planned)' is not \(providerName)'s own address, and \(keyVariable) is sent only to an address you choose",
        hint:
          "to use it, pass --base-url \(planned) (make: BASE_URL=…) or set SHEAF_BASE_URL; for a server that needs no key, unset \(keyVariable)"
      )
    }

    let parameters = RequestSettings.requestParameters(
      llm: llm, given: options.given, environment: env
    ).map { (key: $0.key, value: $0.value.compactText) }
    let settings = LLMSettings(
      provider: providerName, model: model, baseURL: baseURL, parameters: parameters)

    let requestKey = Self.requestKey(
      provider: provider, settings: settings, messages: messages, format: json["format"],
      seed: options.seed)

    // Flags, then make's TIMEOUT= and RETRIES= (SHEAF_TIMEOUT, SHEAF_RETRIES), then the plan.
    let retries = min(
      100,
      max(0, options.retries ?? env["SHEAF_RETRIES"].flatMap(Int.init) ?? llm?["retries"]?.int ?? 2)
    )
    let repairs = min(10, max(0, options.repairAttempts ?? llm?["repair_attempts"]?.int ?? 2))
    let total =
      options.totalTimeout ?? env["SHEAF_TIMEOUT"].flatMap(Double.init) ?? llm?["timeout_s"]?.double
      ?? 600
    var targetWords: ClosedRange<Int>?
    if let format = json["format"], let low = format["min_words"]?.int,
      let high = format["max_words"]?.int, low <= high
    {
      targetWords = low...high
    }
    return ResolvedCall(
      call: LLMCall(
        id: record.id ?? "?", messages: messages, settings: settings,
        brief: SectionBrief(
          title: record.title ?? record.id ?? "?", description: json["description"]?.string ?? "",
          instructions: json["instructions"]?.string, docTitle: json["doc_title"]?.string,
          targetWords: targetWords, wantsJSON: FormatTypes.isJSON(json["format"]),
          jsonSchema: json["format"]?["schema"]?.compactText)),
      provider: provider, baseURL: baseURL, requestKey: requestKey,
      maxAttempts: max(1, retries + 1),
      totalTimeout: total, apiKey: apiKey, targetWords: targetWords, repairAttempts: repairs,
      deadline: llm?["deadline_s"]?.double.flatMap { $0 > 0 ? $0 : nil },
      maxTokensLimit: llm?["max_tokens_limit"]?.int,
      price: options.prices.price(llm: llm, provider: providerName, model: model).map {
        // Through the provider's batch API: at the batch price.
        options.batchDirectory != nil && BatchStore.providers.contains(providerName)
          ? $0.batched : $0
      },
      maxCost: llm?["max_cost"]?.double,
      minTokensPerS: max(0, llm?["min_tokens_per_s"]?.double ?? 1.0), staged: options.run != nil,
      maxAnswerBytes: Self.maxAnswerBytes(llm: llm, parameters: parameters))
  }
}

/// Which addresses a key may be sent to.
enum BaseURLPolicy {
  /// Whether two URLs have the same scheme, host and port.
  static func sameOrigin(_ a: String, _ b: String) -> Bool {
    guard let first = origin(a), let second = origin(b) else { return false }
    return first == second
  }

  static func origin(_ url: String) -> String? {
    guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
      let host = components.host?.lowercased(), !host.isEmpty
    else { return nil }
    let port = components.port ?? (scheme == "https" ? 443 : scheme == "http" ? 80 : -1)
    return "\(scheme)://\(host):\(port)"
  }
}
