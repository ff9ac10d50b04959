import ArgumentParser
import Foundation
import SheafCore
import SheafLLM
import SheafPlan

/// `call-llm`: records with messages in, records with the model's answer out.
@main
struct CallLLM: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "call-llm",
    abstract: "Send each record's messages to a model and fill in the answer.",
    discussion: """
      Providers: openai (any OpenAI-compatible Chat Completions endpoint: OpenAI, vLLM, \
      llama.cpp, LM Studio, OpenRouter, Ollama's /v1), anthropic (Messages API), ollama \
      (native /api/chat) and offline (built in, deterministic, no network; its records say \
      "provider":"offline"). Requests stream through libcurl, -j at once in one thread.

      Settings: a flag wins, then SHEAF_PROVIDER, SHEAF_MODEL and SHEAF_BASE_URL, then the \
      record's llm settings (from the plan: plan, stage, then section). Keys come only from \
      the environment: OPENAI_API_KEY, ANTHROPIC_API_KEY, or the variable --api-key-env names; \
      they never reach a record, event, cache file or log. Ollama's host: OLLAMA_HOST. \
      Sent from llm: temperature, top_p, top_k, max_tokens, max_completion_tokens and \
      reasoning_effort (OpenAI reasoning models), thinking_budget (Anthropic's thinking), \
      context_window (Ollama's num_ctx; a prompt that looks bigger is warned about), seed, \
      stop, the penalties, response_format, and extra (an object merged into the request \
      body as given, for anything else a server accepts). A server that answers a streamed \
      request with one JSON body is read as a whole answer.

      Each record gets status, content (<think> blocks moved to reasoning), provider, model, \
      usage, timing, attempts, cache (hit or miss) and request_key, or status failed and an \
      error with a hint. Retryable errors (429, 408, 409, 5xx, 529, broken connections, \
      timeouts) are retried with exponential backoff and jitter, honouring retry-after-ms \
      and Retry-After; a 429 also halves the concurrency for a while. Records that are not \
      pending (failed upstream, skipped, completed) pass through unchanged, as do events.

      Re-ask with feedback: an answer is judged by validate-format's rules for the record's \
      format (after the repairs that are safe). One that breaks them is asked again, at most \
      llm.repair_attempts times (default 2; --repair-attempts): the original prompt first and \
      unchanged, then the answer as the assistant's turn and the violations as a new user \
      turn. An answer cut at the token limit (finish_reason length; Anthropic max_tokens) is \
      asked again with twice the max_tokens up to llm.max_tokens_limit, or else continued \
      from where it stopped (Anthropic: the partial answer as the assistant's prefix). Each \
      re-ask is a new request, never a cache replay; attempts counts every request, usage \
      sums them, and repairs lists each re-ask (attempt, kind, violations). The final answer \
      is cached under the record's own request_key, so the next run replays it, or, when it \
      still breaks the rules, starts its re-asks from it. llm.deadline_s bounds a section \
      across all its attempts.

      Cost: with a price (llm.price {input, output, cached_input} in USD per million tokens, \
      or a prices file: --prices, SHEAF_PRICES) each record gets cost, from usage (cached \
      input at its price); with no price, no cost. A budget (--budget USD, or llm.max_cost) \
      starts no request once spent plus in flight (at its estimate) would pass it: those \
      records are skipped, type quota. --budget-file shares it across processes.

      Provider batch APIs (make docs BATCH=1): with --batch DIR, an openai or anthropic \
      request is not sent; the answer a wave brought into DIR is played back as if it had \
      streamed (validated, re-asked, cached, costed at llm.price less its batch_discount, \
      default 0.5; the record says which batch), else the request is queued in DIR and the \
      record written skipped, type batch_pending. --batch-run DIR sends the queue as one \
      batch per provider, base URL and key, and per model for OpenAI (OpenAI: a JSONL file with purpose batch, then a batch \
      on /v1/chat/completions; Anthropic: /v1/messages/batches), keeps the batch ids in DIR, \
      and polls until every batch ended: killed, it polls the same batches when run again. \
      Ctrl-C there asks whether to leave the batches running or cancel them; SIGTERM leaves \
      them; --batch-cancel DIR cancels them.

      Completed answers are cached under --cache (default $XDG_CACHE_HOME/sheaf or \
      ~/.cache/sheaf) before they are written, so an interrupted run asks for nothing twice. \
      Ctrl-C writes in-flight records as cancelled and exits 130.

      EXAMPLES
        plan-sections plan.json | build-prompt | call-llm -j 8 | merge-doc > doc.md
        ... | call-llm --provider ollama --model llama3.1 --events
        ... | call-llm --provider offline --offline-tps 40 --events-file events.ndjson
        ... | call-llm --base-url http://127.0.0.1:8000/v1 --model qwen2.5 -j 16
        ... | call-llm --cache-only > replay.ndjson
        ... | call-llm --refresh goals_objectives --log calls.ndjson
        ... | call-llm --repair-attempts 3 | validate-format
        ... | call-llm --run runs/prd
        call-llm --batch-run runs/prd.set/all/batch --batch-poll 60

      \(ExitStatus.helpText)
      """,
    version: SheafVersion.current)

  @Argument(help: "Record files (NDJSON); '-' or none: standard input.")
  var inputs: [String] = []

  @OptionGroup var request: RequestFlags

  @Option(
    help: ArgumentHelp(
      "A staged run's directory: its events, shared rate limit, budget ledger, sections and stored settings.",
      valueName: "dir"))
  var run: String?

  @Option(
    name: .customLong("api-key-env"),
    help: ArgumentHelp("Take the API key from this environment variable.", valueName: "name"))
  var apiKeyEnv: String?

  @Option(name: .short, help: ArgumentHelp("Requests in flight at once.", valueName: "n"))
  var j: Int = 4

  @Flag(
    name: .customLong("keep-order"), help: "Write records in input order, not as they complete.")
  var keepOrder = false

  @Flag(
    help:
      "Write section_start, chunk, section_complete and section_failed events to standard output.")
  var events = false

  @Option(
    name: .customLong("events-file"),
    help: ArgumentHelp("Append events to this file (whole lines).", valueName: "path"))
  var eventsFile: String?

  @Option(
    name: .customLong("connect-timeout"), help: ArgumentHelp("Seconds to connect.", valueName: "s"))
  var connectTimeout: Double = 10

  @Option(
    name: .customLong("first-byte-timeout"),
    help: ArgumentHelp("Seconds to the first byte of the response.", valueName: "s"))
  var firstByteTimeout: Double = 120

  @Option(
    name: .customLong("idle-timeout"),
    help: ArgumentHelp("Seconds a stream may stall.", valueName: "s"))
  var idleTimeout: Double = 60

  @Option(
    help: ArgumentHelp(
      "Seconds for a whole attempt (default: llm.timeout_s, else 600).", valueName: "s"))
  var timeout: Double?

  @Option(
    help: ArgumentHelp(
      "Retries after the first attempt (default: llm.retries, else 2).", valueName: "n"))
  var retries: Int?

  @Option(
    name: .customLong("retry-base"),
    help: ArgumentHelp("First backoff in seconds; it doubles per attempt.", valueName: "s"))
  var retryBase: Double = 1

  @Option(
    name: .customLong("retry-max"),
    help: ArgumentHelp("Longest wait between attempts, in seconds.", valueName: "s"))
  var retryMax: Double = 60

  @Option(help: ArgumentHelp("The response cache folder.", valueName: "dir"))
  var cache: String?

  @Flag(name: .customLong("no-cache"), help: "Neither read nor write the cache.")
  var noCache = false

  @Option(
    help: ArgumentHelp(
      "Ask again for these sections (comma-separated) and store the new answers.", valueName: "ids")
  )
  var refresh: [String] = []

  @Flag(
    name: .customLong("cache-only"),
    help: "Replay from the cache; a miss fails and nothing goes to the network.")
  var cacheOnly = false

  @Option(
    name: .customLong("offline-delay"),
    help: ArgumentHelp("Offline provider: seconds before the first token.", valueName: "s"))
  var offlineDelay: Double = 0

  @Option(
    name: .customLong("offline-tps"),
    help: ArgumentHelp("Offline provider: tokens per second (0: all at once).", valueName: "n"))
  var offlineTPS: Double = 0

  @Flag(
    help: ArgumentHelp(
      "Ask nothing: check what the records would need, one line each (the key in the environment, never shown; the server answers; it lists the model), and exit 0 only when all pass.",
      discussion: "sheaf-run doctor runs it."))
  var check = false

  @Flag(
    name: .customLong("no-network"),
    help: "With --check: only what needs no network (the keys).")
  var noNetwork = false

  @Flag(help: "Show the live progress line even when standard error is not a terminal.")
  var progress = false

  @Option(help: ArgumentHelp("Append one line per HTTP attempt to this file.", valueName: "path"))
  var log: String?

  @Flag(name: .customLong("log-prompts"), help: "Put the messages in the log too.")
  var logPrompts = false

  @Option(
    name: .customLong("repair-attempts"),
    help: ArgumentHelp(
      "Re-asks after an answer that breaks its format (default: llm.repair_attempts, else 2; 0: none).",
      valueName: "n"))
  var repairAttempts: Int?

  @Option(
    help: ArgumentHelp(
      "Rules that only warn (as validate-format's --warn): they cause no re-ask.",
      valueName: "rules"))
  var warn: [String] = []

  @Option(
    help: ArgumentHelp(
      "A run's sections/ folder: the duplicate rule compares with the sections stored there.",
      valueName: "dir"))
  var sections: String?

  @Option(
    name: .customLong("shared-limit"),
    help: ArgumentHelp(
      "Share the 429 cool-down and the concurrency with every call-llm given this folder (one run's processes).",
      valueName: "dir"))
  var sharedLimit: String?

  @Option(
    help: ArgumentHelp(
      "Prices per million tokens by model (else SHEAF_PRICES), for each record's cost.",
      valueName: "file"))
  var prices: String?

  @Option(
    help: ArgumentHelp(
      "Start no request once spent plus in flight would pass this many USD (else llm.max_cost).",
      valueName: "usd"))
  var budget: Double?

  @Option(
    name: .customLong("budget-file"),
    help: ArgumentHelp(
      "Share the budget's ledger with every call-llm given this file (one run's processes).",
      valueName: "path"))
  var budgetFile: String?

  @Option(
    help: ArgumentHelp(
      "Ask through the provider's batch API (openai, anthropic), at its batch price: a request is played back from this folder's answers, or queued there for the next wave and its record written skipped (batch_pending).",
      valueName: "dir"))
  var batch: String?

  @Option(
    name: .customLong("batch-run"),
    help: ArgumentHelp(
      "Send one wave: send what is queued in this folder as one batch per provider, base URL and key (and model, for OpenAI), then poll every batch the folder keeps, those of earlier runs too, until each is answered (make docs BATCH=1 runs it).",
      valueName: "dir"))
  var batchRun: String?

  @Flag(
    name: .customLong("batch-resume"),
    help:
      "With --batch-run: only read the batches kept from before, and drop what an earlier pass queued (the next pass queues what is still needed)."
  )
  var batchResume = false

  @Option(
    name: .customLong("batch-cancel"),
    help: ArgumentHelp(
      "Ask the provider to cancel the batches this folder keeps; each is read once it has ended, and what it did not run is asked again by the next make docs BATCH=1.",
      valueName: "dir"))
  var batchCancel: String?

  @Option(
    name: .customLong("batch-poll"),
    help: ArgumentHelp(
      "Seconds between two polls of a batch (default: SHEAF_BATCH_POLL, else 30).",
      valueName: "s"))
  var batchPoll: Double?

  @Option(
    name: .customLong("max-event-bytes"),
    help: ArgumentHelp(
      "The longest line or event a response stream may send (default 8 MiB).", valueName: "n"))
  var maxEventBytes: Int = StreamLimits.defaultMaxEventBytes

  func validate() throws {
    if let provider = request.provider, !ProviderRegistry.names.contains(provider) {
      throw ValidationError(
        "unknown provider '\(provider)' (known: \(ProviderRegistry.names.joined(separator: ", ")))")
    }
    guard (1...1024).contains(j) else {
      throw ValidationError("-j must be from 1 to 1024 (got \(j))")
    }
    for (name, value) in [
      ("--connect-timeout", connectTimeout), ("--first-byte-timeout", firstByteTimeout),
      ("--idle-timeout", idleTimeout), ("--retry-base", retryBase), ("--retry-max", retryMax),
    ] where !(value > 0) {
      throw ValidationError("\(name) must be more than 0 (got \(value))")
    }
    if let timeout, !(timeout > 0) {
      throw ValidationError("--timeout must be more than 0 (got \(timeout))")
    }
    if let retries, retries < 0 || retries > 100 {
      throw ValidationError("--retries must be from 0 to 100 (got \(retries))")
    }
    if offlineDelay < 0 || offlineTPS < 0 {
      throw ValidationError("--offline-delay and --offline-tps must be 0 or more")
    }
    if noCache && cacheOnly {
      throw ValidationError("--no-cache and --cache-only cannot go together")
    }
    if let repairAttempts, repairAttempts < 0 || repairAttempts > 10 {
      throw ValidationError("--repair-attempts must be from 0 to 10 (got \(repairAttempts))")
    }
    if let budget, !(budget >= 0) {
      throw ValidationError("--budget must be 0 or more USD (got \(budget))")
    }
    if let problem = RequestSettings.environmentProblem(ProcessInfo.processInfo.environment) {
      throw ValidationError(problem)
    }
    if let batchPoll, !(batchPoll > 0) {
      throw ValidationError("--batch-poll must be more than 0 seconds (got \(batchPoll))")
    }
    if maxEventBytes < 1024 {
      throw ValidationError("--max-event-bytes must be 1024 or more (got \(maxEventBytes))")
    }
  }

  mutating func execute() throws -> ExitStatus {
    PlanReader.registerCheck()
    let environment = ProcessInfo.processInfo.environment
    if let folder = batchRun ?? batchCancel {
      let poll = batchPoll ?? environment["SHEAF_BATCH_POLL"].flatMap(Double.init) ?? 30
      let wave = BatchWave(
        store: BatchStore(directory: folder), environment: environment,
        pollInterval: poll > 0 ? poll : 30, tool: Self.toolName)
      if batchCancel != nil {
        let open = wave.store.openBatches().count
        return wave.cancelAll() == open ? .completed : .someFailed
      }
      return try wave.run(send: !batchResume)
    }
    var options = CallOptions()
    options.inputs = inputs
    options.given = request.given
    options.apiKeyVariable = apiKeyEnv
    options.jobs = j
    options.keepOrder = keepOrder
    options.events = events
    options.eventsFile = eventsFile
    options.connectTimeout = connectTimeout
    options.firstByteTimeout = firstByteTimeout
    options.idleTimeout = idleTimeout
    options.totalTimeout = timeout
    options.retries = retries
    options.retryBase = retryBase
    options.retryMax = retryMax
    options.seed = request.seed ?? 0
    options.cacheDirectory = cache
    options.noCache = noCache
    options.refresh = Set(commaSeparated(refresh))
    options.cacheOnly = cacheOnly
    options.offlineDelay = offlineDelay
    options.offlineTPS = offlineTPS
    options.progress = progress
    options.log = log
    options.logPrompts = logPrompts
    options.repairAttempts = repairAttempts
    options.warn = Set(commaSeparated(warn))
    options.sectionsDirectory = sections
    options.rateDirectory = sharedLimit
    options.prices = try PriceList.load(flag: prices, environment: options.environment)
    options.budget = budget
    options.budgetFile = budgetFile
    options.batchDirectory = batch
    if let run {
      let layout = RunLayout(run)
      try layout.check()
      options.take(run: layout)
    }
    if let apiKeyEnv { Secrets.register(variable: apiKeyEnv) }
    StreamLimits.maxEventBytes = maxEventBytes
    if check {
      let lines = try ProviderCheck.run(inputs: inputs, options: options, network: !noNetwork)
      try RecordWriter().writeText(lines.map { $0.text + "\n" }.joined())
      return lines.allSatisfy(\.passed) ? .completed : .someFailed
    }
    return try CallEngine(options: options, tool: Self.toolName).run()
  }
}
