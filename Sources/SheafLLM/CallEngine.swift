import Foundation
import SheafCore
import SheafValidate

/// The write end of the pipe that SIGINT, SIGTERM and SIGHUP wake the event loop through.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// One record on its way through call-llm, across its attempts.
final class Job {
  let index: Int
  let record: Record
  let resolved: ResolvedCall
  /// What the next attempt sends: the record's prompt, or a re-ask (the prompt unchanged, then
  /// the feedback).
  var call: LLMCall
  /// Requests started so far, re-asks included.
  var attempts = 0
  /// Attempts of the current ask (its retries).
  var tries = 0
  /// Each re-ask: why (`feedback`, `continue`, `more_tokens`) and the violations it answers.
  var repairs: [JSON] = []
  /// The answer so far, when a truncated answer is being continued.
  var prefix = ""
  /// Whether the continuation is the model continuing its own message (Anthropic's prefill).
  var prefilled = false
  /// The messages of the current ask, before any continuation turns.
  var askMessages: [Message]
  /// The last answer, while it is being re-asked: cached if the re-ask never completes.
  var lastAnswer: CachedAnswer?
  /// A JSON section's answer so far, and when its partial value was last sent.
  var streamed = ""
  var lastPartial = -Double.infinity
  /// Tokens over every answered request.
  var usage = (input: 0, output: 0, cached: 0, written: 0, estimated: false, counted: false)
  var startedAt = Date()
  var firstStart = 0.0
  /// When the section's `deadline_s` runs out (set by its first attempt).
  var deadlineAt: Double?
  /// The attempt under way, if any (the attempt holds its job).
  weak var current: Attempt?
  /// The run's shared rate-limit slot its request holds, if any.
  var slot: SharedRateLimit.Slot?

  func releaseSlot() {
    slot?.release()
    slot = nil
  }

  init(index: Int, record: Record, resolved: ResolvedCall) {
    self.index = index
    self.record = record
    self.resolved = resolved
    call = resolved.call
    askMessages = resolved.call.messages
  }

  var id: String { resolved.call.id }
}

/// One attempt's state: its transfer, what arrived, and when.
///
/// It is the transfer's sink.
final class Attempt: TransferSink {
  let job: Job
  unowned let engine: CallEngine
  let start: Double
  var firstByte: Double?
  var lastByte: Double
  var firstToken: Double?
  var think = ThinkFilter()
  var decoder: (any StreamDecoder)?
  var inputTokens: Int?
  var outputTokens: Int?
  var cachedRead = 0
  var cacheWritten = 0
  var finishReason: String?
  var streamError: SheafError?
  var errorBody: [UInt8] = []
  var bodyBytes = 0
  var pieceCount = 0
  var transfer: Transfer?
  var transport: Transport?

  init(job: Job, engine: CallEngine, now: Double) {
    self.job = job
    self.engine = engine
    start = now
    lastByte = now
    decoder = job.resolved.provider.makeDecoder()
  }

  func activity() {
    let now = engine.clock.now
    if firstByte == nil { firstByte = now }
    lastByte = now
  }

  func body(_ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let transfer else { return false }
    if transfer.status >= 300 {
      if errorBody.count < 65536 {
        errorBody.append(contentsOf: bytes.prefix(65536 - errorBody.count))
      }
      return true
    }
    if bodyBytes == 0, let type = transfer.header("content-type")?.lowercased() {
      if type.contains("text/html") {
        streamError = Rules.notAStream(type, baseURL: job.resolved.baseURL)
        return false
      }
      if type.contains("json") && !type.contains("ndjson") && !type.contains("stream") {
        // One JSON body where a stream was asked for: read it whole.
        decoder = WholeBodyDecoder(provider: job.resolved.provider)
      }
    }
    bodyBytes += bytes.count
    // Take the decoder out while it works: were the attempt to keep a second reference, every
    // read would copy the decoder's buffers (a long line would cost its length squared).
    guard var working = decoder else { return true }
    decoder = nil
    let pieces = working.feed(bytes)
    decoder = working
    for piece in pieces where !handle(piece) { return false }
    return true
  }

  /// Takes one piece of an answer; `false` when the stream reported an error.
  func handle(_ piece: StreamPiece) -> Bool {
    pieceCount += 1
    switch piece {
    case .text(let text):
      if firstToken == nil { firstToken = engine.clock.now }
      let shown = think.feed(text)
      if !shown.isEmpty { engine.chunk(job, shown) }
    case .reasoning(let text):
      if firstToken == nil { firstToken = engine.clock.now }
      think.addReasoning(text)
    case .usage(let input, let output):
      if let input { inputTokens = input }
      if let output { outputTokens = output }
    case .cached(let read, let written):
      if let read { cachedRead = read }
      if let written { cacheWritten = written }
    case .finish(let reason):
      finishReason = reason ?? "stop"
    case .error(let error):
      streamError = error
      return false
    }
    return true
  }

  /// Ends the stream: what the decoder held back, and the think filter.
  func finishStream() {
    if var working = decoder {
      decoder = nil
      for piece in working.finish() { _ = handle(piece) }
      decoder = working
    }
    think.finish()
  }

  /// What the rules need to judge it.
  func report(end: TransferEnd?, abort: SheafError?) -> AttemptReport {
    let transfer = self.transfer
    var report = AttemptReport(end: end, abort: abort)
    report.status = transfer?.status ?? 0
    report.header = { transfer?.header($0) }
    report.errorBody = String(decoding: errorBody, as: UTF8.self)
    report.streamError = streamError
    report.finishReason = finishReason
    report.insideThink = think.isInsideThink
    report.thinkingCharacters = think.reasoning.count
    report.content = think.content
    report.bodyBytes = bodyBytes
    report.eventCount = decoder?.eventCount ?? 0
    report.pieceCount = pieceCount
    return report
  }
}

/// call-llm's event loop, and only that: it reads records (through the shared non-blocking
/// `LineReader`), asks the `Scheduler` what to start, starts attempts on a `Transport` (libcurl,
/// or the offline writer), lets `Rules` judge how each ended, and writes through `RecordOutput`.
public final class CallEngine {
  private let options: CallOptions
  private let tool: String
  let clock: EngineClock
  private let http: Transport
  private let offline: Transport
  private let output: RecordOutput
  private let scheduler: Scheduler<Job>
  private var inputPaths: [String]
  private var reader: LineReader?
  private var inputDone = false
  private let cache: ResponseCache?
  private var retryPolicy: RetryPolicy
  private var signalRead: Int32 = -1
  private var active: [Attempt] = []
  private var nextIndex = 0
  private var malformed: ToolFailure?
  private var interrupted = false
  private var anyFailed = false
  private var transportFailure: SheafError?
  private let validator: FormatValidator
  private let shared: SharedRateLimit?
  /// The spending limit, from `--budget` or the first record that sets `llm.max_cost`.
  private var budget: Budget?
  /// How JSON sections are asked for, per base URL: lowered (and said once) when a server refuses
  /// structured output.
  private var structuredLevels: [String: StructuredOutput] = [:]

  /// An engine for these options.
  ///
  /// Tests give it a clock, a transport for HTTP and a sink for its
  /// output; by default it runs on the monotonic clock, libcurl and standard output.
  /// - Throws: `ToolFailure` when an input, the events file or the log cannot be opened.
  public init(
    options: CallOptions, tool: String, clock: EngineClock = MonotonicClock(),
    http: Transport? = nil,
    sink: ((JSON) throws -> Void)? = nil
  ) throws {
    self.options = options
    self.tool = tool
    self.clock = clock
    do {
      self.http = try http ?? CurlTransport(connectTimeout: options.connectTimeout)
    } catch let failure as TransportFailure {
      throw ToolFailure.usage(failure.message)
    }
    offline = OfflineTransport(clock: clock, delay: options.offlineDelay, tps: options.offlineTPS)
    output = try RecordOutput(options: options, tool: tool, clock: clock, sink: sink)
    scheduler = Scheduler(jobs: options.jobs, clock: clock)
    inputPaths = options.inputs.isEmpty ? ["-"] : options.inputs
    cache =
      options.noCache
      ? nil
      : ResponseCache(
        directory: options.cacheDirectory
          ?? ResponseCache.defaultDirectory(environment: options.environment))
    retryPolicy = RetryPolicy(
      base: options.retryBase, maximum: options.retryMax, seed: options.seed)
    validator = FormatValidator(warn: options.warn, sectionsDirectory: options.sectionsDirectory)
    shared = try options.rateDirectory.map { try SharedRateLimit(directory: $0) }
    budget = options.budget.map { Budget(limit: $0, path: options.budgetFile) }
    reader = try LineReader(path: inputPaths.removeFirst())
  }

  // MARK: - The loop

  /// Runs until the input is done and every record is written, or until interrupted.
  /// - Throws: `ToolFailure` for malformed input (after every record before it is written) or
  ///   an output that cannot be written.
  public func run() throws -> ExitStatus {
    installSignalHandlers()
    while true {
      if interrupted {
        try cancelEverything()
        break
      }
      try readInput()
      try startAttempts()
      try performTransfers()
      try checkTimeouts()
      try startAttempts()
      output.progress(force: false, inFlight: active.count, inputDone: inputDone)
      if inputDone && scheduler.isIdle && active.isEmpty { break }
      var fds = [signalRead].filter { $0 >= 0 }
      if wantsInput, let reader { fds.append(reader.descriptor) }
      do {
        try http.wait(fds: fds, timeout: nextWake())
      } catch let failure as TransportFailure {
        try transportBroke(failure)
      }
      drainSignalPipe()
    }
    output.progress(force: true, inFlight: 0, inputDone: true)
    if output.showsProgress { Diagnostics.raw("\n") }
    if interrupted { return .interrupted }
    if let malformed { throw malformed }
    return anyFailed ? .someFailed : .completed
  }

  /// Stops the run as Ctrl-C does (for tests and embedders).
  public func interrupt() {
    interrupted = true
  }

  private var wantsInput: Bool {
    !interrupted && malformed == nil && scheduler.pending + active.count < max(16, options.jobs * 2)
  }

  /// Seconds until something is due: a timeout, a retry, a paced offline piece, the progress line.
  private func nextWake() -> Double {
    let now = clock.now
    var wake = now + 1
    for attempt in active where attempt.transport === http {
      wake = min(
        wake,
        Rules.nextTimeout(
          attemptStart: attempt.start, firstByte: attempt.firstByte, lastByte: attempt.lastByte,
          total: attempt.job.resolved.totalTimeout, firstByteLimit: options.firstByteTimeout,
          idleLimit: options.idleTimeout))
    }
    for attempt in active { if let due = attempt.job.deadlineAt { wake = min(wake, due) } }
    if let due = scheduler.nextWake, !(heldByShared && due <= now) { wake = min(wake, due) }
    if heldByShared { wake = min(wake, now + SharedRateLimit.pollInterval) }
    if let due = offline.nextDue { wake = min(wake, due) }
    if output.showsProgress { wake = min(wake, now + 0.25) }
    return max(0, wake - now)
  }

  // MARK: - Input

  private func readInput() throws {
    while wantsInput, let reader {
      switch try reader.next(waiting: false) {
      case .wouldBlock:
        return
      case .end:
        if inputPaths.isEmpty {
          self.reader = nil
          inputDone = true
        } else {
          self.reader = try LineReader(path: inputPaths.removeFirst())
        }
      case .line(let line):
        if FilterLoop.isBlank(line) { continue }
        let location = LineLocation(source: reader.name, line: reader.lineNumber)
        let object: JSON
        do {
          object = try FilterLoop.parseObject(line, at: location)
        } catch let failure as ToolFailure {
          malformed = failure
          inputDone = true
          self.reader = nil
          return
        }
        if Event.isEvent(object) {
          try output.passThrough(object)
          continue
        }
        try admit(Record(object))
      }
    }
  }

  private func admit(_ record: Record) throws {
    let index = nextIndex
    nextIndex += 1
    output.read()
    if let status = record.status, status != .pending, status != .queued, status != .processing {
      // Finished upstream (failed in build-prompt, skipped, or already answered): passed on.
      if status != .completed { anyFailed = true }
      try output.record(index, record.json)
      return
    }
    let resolved: ResolvedCall
    do {
      resolved = try ResolvedCall.resolve(record, options: options)
    } catch {
      try failRecord(index, record, error, resolved: nil, timing: nil, attempts: 0)
      return
    }
    let job = Job(index: index, record: record, resolved: resolved)
    warnContextWindow(job)
    if let cache, !options.refresh.contains(job.id), let answer = cache.get(resolved.requestKey) {
      // A cached answer is judged like a new one: one that breaks the format is re-asked.
      try judge(job, answer: answer, attempt: nil)
      return
    }
    if options.cacheOnly {
      try fail(
        job,
        SheafError(
          .network,
          "no cached answer for section '\(job.id)' (request_key \(resolved.requestKey.prefix(12))…) and --cache-only forbids asking",
          hint: "run without --cache-only to ask the provider"))
      return
    }
    if let transportFailure {
      try fail(job, transportFailure)
      return
    }
    record.status = .queued
    scheduler.add(job)
  }

  /// A prompt larger than the context window the plan gives (`llm.context_window`, Ollama's
  /// `num_ctx`) is cut by the server without a word: said on standard error.
  private func warnContextWindow(_ job: Job) {
    let settings = job.call.settings
    guard
      let window = settings.parameter("context_window")?.int ?? settings.parameter("num_ctx")?.int
    else { return }
    let estimate = job.call.messages.map { OfflineProvider.estimateTokens($0.content) }.reduce(0, +)
    guard estimate > window else { return }
    Diagnostics.say(
      tool,
      "warning: section '\(job.id)': the prompt is about \(estimate) tokens, more than llm.context_window (\(window)); the model will not see all of it (raise context_window, or shorten the inputs)"
    )
  }

  // MARK: - Attempts

  private func startAttempts() throws {
    scheduler.tick()
    heldByShared = false
    while !interrupted, let job = scheduler.next() {
      if let transportFailure {
        scheduler.ended()
        try fail(job, transportFailure)
        continue
      }
      if let deadlineAt = job.deadlineAt, clock.now >= deadlineAt {
        scheduler.ended()
        try fail(job, deadlineError(job))
        continue
      }
      if budget == nil, let limit = job.resolved.maxCost {
        budget = Budget(limit: limit, path: options.budgetFile)
      }
      if let budget, let refusal = reserve(job, in: budget) {
        scheduler.ended()
        try fail(job, refusal, status: refusal.type == .quota ? .skipped : .failed)
        continue
      }
      if let shared, job.resolved.provider.usesNetwork {
        // The other call-llm processes of the run: their 429 cool-down and concurrency.
        guard let slot = shared.acquire(job.resolved.rateKey) else {
          budget?.settle(id: job.id, cost: 0)
          scheduler.putBack(job)
          heldByShared = true
          break
        }
        job.slot = slot
      }
      try startAttempt(job)
    }
  }

  /// The level to ask a JSON section at next, when this attempt was a 400 that names what asks
  /// for the structure (`response_format`, `json_schema`, `format`, `tool`); `nil` otherwise.
  private func refusedStructure(
    _ job: Job, _ attempt: Attempt, end: TransferEnd?, abort: SheafError?
  ) -> StructuredOutput? {
    guard job.call.brief.wantsJSON, abort == nil, attempt.transfer?.status == 400,
      job.call.settings.structured != .promptOnly
    else { return nil }
    let body = String(decoding: attempt.errorBody, as: UTF8.self).lowercased()
    let names = #"(response_format|json_schema|json_object|\bformat\b|\btools?\b|tool_choice)"#
    guard body.range(of: names, options: .regularExpression) != nil else { return nil }
    return job.call.settings.structured == .native ? .jsonMode : .promptOnly
  }

  /// Whether a start waits for the run's shared rate limit.
  private var heldByShared = false

  /// Reserves a request's estimated cost under the budget (its prompt, and `max_tokens` or 1,000
  /// tokens of answer); the error when it may not start.
  private func reserve(_ job: Job, in budget: Budget) -> SheafError? {
    guard job.resolved.provider.usesNetwork else { return nil }
    guard let price = job.resolved.price else {
      return SheafError(
        .plan,
        "a budget of $\(budget.limit) is set, but no price is known for model '\(job.resolved.call.settings.model)'",
        hint:
          "set llm.price in the plan, or pass a prices file (--prices, SHEAF_PRICES, make PRICES=)")
    }
    let input = job.call.messages.map { OfflineProvider.estimateTokens($0.content) }.reduce(0, +)
    let output =
      job.call.settings.parameter("max_tokens")?.int
      ?? job.call.settings.parameter("max_completion_tokens")?.int ?? 1000
    return budget.reserve(price.cost(input: input, output: output), id: job.id)
  }

  private func deadlineError(_ job: Job) -> SheafError {
    let limit = job.resolved.deadline ?? 0
    let limitText = limit == limit.rounded() ? String(Int(limit)) : String(limit)
    return SheafError(
      .timeout,
      "deadline: section '\(job.id)' used its \(limitText) s (llm.deadline_s) over \(job.attempts) attempt\(job.attempts == 1 ? "" : "s")",
      hint: "raise llm.deadline_s in the plan, or lower retries and repair_attempts")
  }

  private func startAttempt(_ job: Job) throws {
    let now = clock.now
    job.attempts += 1
    job.streamed = ""
    job.tries += 1
    if job.attempts == 1 {
      job.startedAt = Date()
      job.firstStart = now
      job.deadlineAt = job.resolved.deadline.map { now + $0 }
    }
    job.record.status = .processing
    let attempt = Attempt(job: job, engine: self, now: now)
    job.current = attempt
    try output.event(
      .sectionStart, doc: job.record.doc, ["id": JSON(job.id), "attempt": JSON(job.attempts)])
    if job.attempts == 1 { progress(job, phase: "AI_CALL") }
    let provider = job.resolved.provider
    if job.call.brief.wantsJSON {
      // A continuation continues text: it is asked for by the prompt alone.
      job.call.settings.structured = max(
        structuredLevels[job.resolved.baseURL] ?? .native,
        job.prefix.isEmpty ? .native : .promptOnly)
    }
    let transport = provider.usesNetwork ? http : offline
    let request = provider.request(
      job.call, baseURL: job.resolved.baseURL, apiKey: job.resolved.apiKey)
    do {
      attempt.transfer = try transport.start(request, sink: attempt)
      attempt.transport = transport
      active.append(attempt)
    } catch let failure as TransportFailure {
      scheduler.ended()
      job.releaseSlot()
      budget?.settle(id: job.id, cost: 0)
      job.current = nil
      try fail(job, SheafError(.internal, failure.message))
    }
  }

  /// Moves every transfer along and judges those that ended.
  private func performTransfers() throws {
    guard transportFailure == nil else { return }
    for transport in [http, offline] {
      let ended: [(Transfer, TransferEnd)]
      do {
        ended = try transport.perform()
      } catch let failure as TransportFailure {
        try transportBroke(failure)
        return
      }
      for (transfer, end) in ended {
        guard let attempt = active.first(where: { $0.transfer === transfer }) else { continue }
        try finish(attempt, end: end, abort: nil)
      }
    }
  }

  private func checkTimeouts() throws {
    let now = clock.now
    for attempt in active {
      if let deadlineAt = attempt.job.deadlineAt, now >= deadlineAt {
        if let transfer = attempt.transfer { attempt.transport?.stop(transfer) }
        try finish(attempt, end: nil, abort: deadlineError(attempt.job))
        continue
      }
      guard attempt.transport === http,
        let error = Rules.timeout(
          now: now, attemptStart: attempt.start, firstByte: attempt.firstByte,
          lastByte: attempt.lastByte,
          total: attempt.job.resolved.totalTimeout, firstByteLimit: options.firstByteTimeout,
          idleLimit: options.idleTimeout)
      else { continue }
      if let transfer = attempt.transfer { attempt.transport?.stop(transfer) }
      try finish(attempt, end: nil, abort: error)
    }
  }

  /// An attempt ended: an answer, a retry, or a failure.
  private func finish(_ attempt: Attempt, end: TransferEnd?, abort: SheafError?) throws {
    active.removeAll { $0 === attempt }
    scheduler.ended()
    let job = attempt.job
    job.releaseSlot()
    budget?.settle(id: job.id, cost: attemptCost(job, attempt))
    job.current = nil
    let seconds = clock.now - attempt.start
    if abort == nil, attempt.streamError == nil, end == .complete,
      attempt.transfer.map({ $0.status < 300 }) ?? true
    {
      attempt.finishStream()
    }
    let resolved = job.resolved
    if let lower = refusedStructure(job, attempt, end: end, abort: abort) {
      // The server refused how the structure was asked for: asked again a level lower, for every
      // JSON section to this base URL, and said once; it costs no retry.
      let base = resolved.baseURL
      let level = max(structuredLevels[base] ?? .native, lower)
      if level != structuredLevels[base] {
        Diagnostics.say(
          tool,
          "\(base) refused \(job.call.settings.structured.words) (HTTP 400); JSON sections to it use \(level.words) from now on"
        )
      }
      structuredLevels[base] = level
      job.tries -= 1
      job.record.status = .queued
      scheduler.retry(job, after: 0)
      return
    }
    let deadlineFired = abort != nil && job.deadlineAt.map { clock.now >= $0 } == true
    let verdict = Rules.verdict(
      attempt.report(end: end, abort: abort), provider: resolved.provider,
      baseURL: resolved.baseURL,
      model: resolved.call.settings.model, attempt: job.tries,
      maxAttempts: deadlineFired ? job.tries : resolved.maxAttempts)
    let error: SheafError?
    if case .failed(let failure, _) = verdict { error = failure } else { error = nil }
    logAttempt(attempt, seconds: seconds, error: error)
    switch verdict {
    case .answer:
      addUsage(job, attempt)
      shared?.answered(resolved.rateKey)
      let reason = attempt.finishReason.map {
        FormatValidator.truncatedReasons.contains($0) ? "length" : $0
      }
      var added = attempt.think.content
      if resolved.provider.wrapsSchema(job.call) { added = StructuredSchema.unwrap(added) }
      let answer = CachedAnswer(
        content: Self.joined(job.prefix, added, prefilled: job.prefilled),
        reasoning: attempt.think.reasoning.isEmpty ? nil : attempt.think.reasoning.trimmed,
        provider: resolved.call.settings.provider, model: resolved.call.settings.model,
        usage: totalUsage(job), finishReason: reason)
      try judge(job, answer: answer, attempt: attempt)
    case .failed(let error, let retry):
      // One delay per failure (the jitter draws from a seeded generator), capped at --retry-max.
      let delay = retryPolicy.delay(afterAttempt: job.tries, retryAfter: error.retryAfterS)
      if error.type == .rateLimited {
        scheduler.rateLimited(retryAfter: error.retryAfterS.map { min($0, options.retryMax) })
        shared?.rateLimited(resolved.rateKey, for: max(delay, 1))
      }
      let waitsPastDeadline = job.deadlineAt.map { clock.now + delay >= $0 }
      if retry && !interrupted && waitsPastDeadline == true {
        try fail(job, deadlineError(job), attempt: attempt)
      } else if retry && !interrupted {
        job.record.status = .queued
        scheduler.retry(job, after: delay)
      } else {
        try fail(job, error, attempt: attempt)
      }
    }
  }

  /// The transport itself failed: every record in flight, waiting or queued is written as
  /// failed (nothing is lost), and so is every record read after.
  private func transportBroke(_ failure: TransportFailure) throws {
    let error = SheafError(
      .internal, failure.message, hint: "run the same command again: completed answers are cached")
    transportFailure = error
    try failEverything(error)
  }

  private func failEverything(_ error: SheafError) throws {
    for attempt in active {
      if let transfer = attempt.transfer { attempt.transport?.stop(transfer) }
      attempt.transfer = nil
      scheduler.ended()
      budget?.settle(id: attempt.job.id, cost: attemptCost(attempt.job, attempt))
    }
    let unfinished = (active.map(\.job) + scheduler.takeAll()).sorted { $0.index < $1.index }
    active = []
    for job in unfinished { try fail(job, error, attempt: job.current) }
  }

  // MARK: - Results

  /// A chunk of answer text, for the events.
  ///
  /// For a JSON section the event also carries `data`, the best-effort value of the answer so
  /// far (its cut tail repaired), at most ten times a second, so a viewer can show items as they
  /// arrive.
  func chunk(_ job: Job, _ text: String) {
    guard job.call.brief.wantsJSON, options.events || options.eventsFile != nil else {
      try? output.event(.chunk, doc: job.record.doc, ["id": JSON(job.id), "text": JSON(text)])
      return
    }
    job.streamed += text
    let now = clock.now
    var partial: JSON?
    if now - job.lastPartial >= 0.1 {
      job.lastPartial = now
      partial = try? JSONRepair.parse(job.streamed).value
      if job.resolved.provider.wrapsSchema(job.call), let wrapped = partial?["value"] {
        partial = wrapped
      }
    }
    if let partial {
      try? output.event(
        .chunk, doc: job.record.doc, ["id": JSON(job.id), "text": JSON(text), "data": partial])
    } else {
      try? output.event(.chunk, doc: job.record.doc, ["id": JSON(job.id), "text": JSON(text)])
    }
  }

  /// Counts an answered attempt's tokens into its section's usage (every request is paid for,
  /// the rejected answers of re-asks too).
  private func addUsage(_ job: Job, _ attempt: Attempt) {
    let estimated =
      !job.resolved.provider.usesNetwork || attempt.inputTokens == nil
      || attempt.outputTokens == nil
    job.usage.input +=
      attempt.inputTokens
      ?? job.call.messages.map { OfflineProvider.estimateTokens($0.content) }.reduce(0, +)
    job.usage.output +=
      attempt.outputTokens ?? OfflineProvider.estimateTokens(attempt.think.content)
    job.usage.cached += attempt.cachedRead
    job.usage.written += attempt.cacheWritten
    job.usage.estimated = job.usage.estimated || estimated
    job.usage.counted = true
  }

  private func totalUsage(_ job: Job) -> JSON {
    let usage = JSON.object([
      "input_tokens": JSON(job.usage.input), "output_tokens": JSON(job.usage.output),
    ])
    if job.usage.cached > 0 { usage["cached_input_tokens"] = JSON(job.usage.cached) }
    if job.usage.written > 0 { usage["cache_write_tokens"] = JSON(job.usage.written) }
    if job.usage.estimated { usage["estimated"] = JSON(true) }
    return usage
  }

  /// What `usage` cost at the record's price, if one is known.
  private func cost(_ job: Job, usage: JSON?) -> Double? {
    // Estimated tokens (the offline provider, a server that reports none) make no cost.
    guard let price = job.resolved.price, let usage, usage["estimated"]?.bool != true else {
      return nil
    }
    return price.cost(
      input: usage["input_tokens"]?.int ?? 0, output: usage["output_tokens"]?.int ?? 0,
      cached: usage["cached_input_tokens"]?.int ?? 0)
  }

  /// What one attempt cost (for the budget).
  private func attemptCost(_ job: Job, _ attempt: Attempt) -> Double {
    guard let price = job.resolved.price, attempt.inputTokens != nil || attempt.outputTokens != nil
    else { return 0 }
    return price.cost(
      input: attempt.inputTokens ?? 0, output: attempt.outputTokens ?? 0,
      cached: attempt.cachedRead)
  }

  /// A continued answer: what came before and what the model added.
  ///
  /// A model that continues its own message (`prefilled`) adds exactly what follows. Otherwise
  /// the new part is kept as it starts (a newline before a heading or a list item stays), and a
  /// space is put between two words only.
  static func joined(_ prefix: String, _ added: String, prefilled: Bool) -> String {
    guard !prefix.isEmpty else { return added.trimmed }
    if prefilled { return (prefix + added).trimmed }
    guard let first = added.first, let last = prefix.last else { return (prefix + added).trimmed }
    let needsSpace = !first.isWhitespace && !last.isWhitespace && !".,;:!?)]}".contains(first)
    return (prefix + (needsSpace ? " " : "") + added).trimmed
  }

  // MARK: - Re-asks

  /// A staged run's `progress` event for a section (`--run`); summaries and revisions are not
  /// sections of the document and have none.
  private func progress(_ job: Job, phase: String) {
    guard let run = options.run, options.eventsFile != nil || options.events,
      job.record.json["summary_of"] == nil
    else { return }
    try? output.event(RunProgress.event(run: run, id: job.id, phase: phase, doc: job.record.doc))
  }

  /// An answer (new, or from the cache) is judged by the format's rules.
  ///
  /// After the repairs that are safe, it passes, is asked again with the violations as feedback
  /// (or continued, when it was cut at the token limit), or, once the re-asks are used up, is
  /// written as it is for validate-format to fail.
  private func judge(_ job: Job, answer: CachedAnswer, attempt: Attempt?) throws {
    progress(job, phase: "PARSE")
    let candidate = job.record.json.copy()
    candidate["status"] = JSON(SectionStatus.completed.rawValue)
    candidate["content"] = JSON(answer.content)
    candidate["finish_reason"] = answer.finishReason.map { JSON($0) }
    candidate["source"] = JSON("llm")
    candidate["llm"] = JSON.merged([candidate["llm"], maxTokensSetting(job.call)])
    let violations = validator.violations(of: candidate)
    if !violations.isEmpty, try reask(job, answer: answer, violations: violations, from: attempt) {
      job.lastAnswer = attempt == nil && job.attempts == 0 ? nil : answer
      return
    }
    job.lastAnswer = nil
    validator.remember(candidate)
    if attempt != nil || job.attempts > 0, let cache {
      // The final answer goes under the record's own request: a later run replays it (and a
      // rejected one is the start of that run's re-asks).
      do { try cache.put(job.resolved.requestKey, answer) } catch let failure as ToolFailure {
        Diagnostics.say(tool, failure.message)
      }
    }
    try complete(job, answer: answer, attempt: attempt)
  }

  /// The `max_tokens` the call asks for, as an `llm` object, so a truncation message names it.
  private func maxTokensSetting(_ call: LLMCall) -> JSON? {
    guard let value = call.settings.parameter("max_tokens") else { return nil }
    return .object(["max_tokens": value])
  }

  /// Queues a re-ask when one is left; `false` when the answer must stand.
  private func reask(
    _ job: Job, answer: CachedAnswer, violations: [Violation], from attempt: Attempt?
  ) throws -> Bool {
    guard job.repairs.count < job.resolved.repairAttempts, !interrupted, !options.cacheOnly,
      transportFailure == nil, job.deadlineAt.map({ clock.now < $0 }) ?? true
    else { return false }
    // Each re-ask keeps what the current ask has (its settings, its feedback turns).
    var next = job.call
    let kind: String
    if violations.contains(where: { $0.rule == "truncated" }) {
      let settings = job.call.settings
      let key =
        settings.parameter("max_completion_tokens") != nil ? "max_completion_tokens" : "max_tokens"
      let current = settings.parameter(key)?.int ?? job.usage.output
      if let limit = job.resolved.maxTokensLimit, current < limit {
        // Asked again with more room, the prompt as it was.
        next.settings = settings.setting(key, JSON(min(limit, max(current * 2, 1))))
        next.messages = job.askMessages
        job.prefix = ""
        job.prefilled = false
        kind = "more_tokens"
      } else if !answer.content.isEmpty {
        // Continued from where it stopped: the partial answer as the assistant's turn (a model
        // that thinks first cannot continue its own message: it is asked to continue).
        let prefill =
          job.resolved.provider.continuesAssistant && settings.parameter("thinking_budget") == nil
        next.messages = job.askMessages + [Message(role: "assistant", content: answer.content)]
        if !prefill {
          next.messages.append(
            Message(
              role: "user",
              content:
                "Your answer was cut off at the length limit. Continue exactly where it stopped, without repeating anything and without any remark."
            ))
        }
        job.prefix = answer.content
        job.prefilled = prefill
        kind = "continue"
      } else {
        return false  // nothing was written to continue, and no more room may be asked for
      }
    } else {
      next.messages =
        job.resolved.call.messages + [
          Message(role: "assistant", content: answer.content),
          Message(role: "user", content: Self.feedback(violations)),
        ]
      job.askMessages = next.messages
      job.prefix = ""
      job.prefilled = false
      kind = "feedback"
    }
    let entry = JSON.object()
    entry["attempt"] = JSON(job.attempts)
    entry["kind"] = JSON(kind)
    entry["violations"] = .array(violations.map(\.json))
    job.repairs.append(entry)
    job.call = next
    job.tries = 0
    job.record.status = .queued
    if attempt == nil && job.attempts == 0 {
      scheduler.add(job)
    } else {
      scheduler.retry(job, after: 0)
    }
    return true
  }

  /// The user turn of a re-ask: what was wrong, in the rules' own words.
  static func feedback(_ violations: [Violation]) -> String {
    var lines = ["Your answer does not meet these requirements:"]
    for violation in violations {
      lines.append("- " + violation.message + (violation.path.map { " (at \($0))" } ?? ""))
    }
    lines.append(
      "Write the whole answer again so that it meets every one of them. Give only the answer itself, with no remark about the changes."
    )
    return lines.joined(separator: "\n")
  }

  private func timingJSON(_ job: Job, attempt: Attempt?) -> JSON {
    let timing = JSON.object()
    timing["started_at"] = JSON(
      Event.timestamp(attempt == nil && job.attempts == 0 ? Date() : job.startedAt))
    timing["first_token_s"] =
      attempt.flatMap { a in a.firstToken.map { JSON(rounded($0 - a.start)) } } ?? .null
    timing["seconds"] = JSON(job.attempts == 0 ? 0 : rounded(clock.now - job.firstStart))
    return timing
  }

  private func complete(_ job: Job, answer: CachedAnswer, attempt: Attempt?) throws {
    let record = job.record.json
    let fromCache = job.attempts == 0
    record["status"] = JSON(SectionStatus.completed.rawValue)
    record["content"] = JSON(answer.content)
    record["reasoning"] = answer.reasoning.map { JSON($0) }
    record["provider"] = JSON(answer.provider)
    record["model"] = JSON(answer.model)
    record["usage"] = job.usage.counted ? totalUsage(job) : answer.usage?.copy() ?? .null
    // What the answer cost when it was asked (a replay from the cache costs nothing more).
    record["cost"] = cost(job, usage: record["usage"]).map { JSON($0) }
    record["timing"] = timingJSON(job, attempt: attempt)
    record["attempts"] = JSON(job.attempts)
    if !job.repairs.isEmpty { record["repairs"] = .array(job.repairs) }
    record["cache"] = JSON(fromCache ? "hit" : "miss")
    record["request_key"] = JSON(job.resolved.requestKey)
    record["finish_reason"] = answer.finishReason.map { JSON($0) }
    record["source"] = JSON("llm")
    record["error"] = nil
    try output.event(
      .sectionComplete, doc: job.record.doc,
      [
        "id": JSON(job.id), "title": JSON(job.record.title ?? job.id),
        "content": JSON(answer.content), "seconds": record["timing"]?["seconds"] ?? JSON(0),
      ])
    try output.record(job.index, record)
  }

  private func fail(
    _ job: Job, _ error: SheafError, attempt: Attempt? = nil, status: SectionStatus? = nil
  ) throws {
    job.releaseSlot()
    if let last = job.lastAnswer, let cache {
      // An answer that was being re-asked was paid for: the next run starts from it.
      try? cache.put(job.resolved.requestKey, last)
      job.lastAnswer = nil
    }
    if !job.repairs.isEmpty { job.record.json["repairs"] = .array(job.repairs) }
    if job.usage.counted {
      job.record.json["usage"] = totalUsage(job)
      job.record.json["cost"] = cost(job, usage: totalUsage(job)).map { JSON($0) }
    }
    try failRecord(
      job.index, job.record, error, resolved: job.resolved,
      timing: job.attempts > 0 ? timingJSON(job, attempt: attempt) : nil,
      attempts: job.attempts, status: status)
  }

  private func failRecord(
    _ index: Int, _ record: Record, _ error: SheafError, resolved: ResolvedCall?, timing: JSON?,
    attempts: Int, status: SectionStatus? = nil
  ) throws {
    let json = record.json
    json["status"] = JSON(
      (status ?? (error.type == .cancelled ? .cancelled : .failed)).rawValue)
    json["content"] = nil
    json["reasoning"] = nil
    if let resolved {
      json["provider"] = JSON(resolved.call.settings.provider)
      json["model"] = JSON(resolved.call.settings.model)
      json["request_key"] = JSON(resolved.requestKey)
    }
    if let timing { json["timing"] = timing }
    json["attempts"] = JSON(attempts)
    json["error"] = error.json
    anyFailed = true
    try output.event(
      .sectionFailed, doc: record.doc, ["id": JSON(record.id ?? "?"), "error": error.json])
    try output.record(index, json)
  }

  private func logAttempt(_ attempt: Attempt, seconds: Double, error: SheafError?) {
    guard output.logs else { return }
    let job = attempt.job
    let line = JSON.object()
    line["ts"] = JSON(Event.timestamp())
    line["id"] = JSON(job.id)
    line["provider"] = JSON(job.resolved.call.settings.provider)
    line["model"] = JSON(job.resolved.call.settings.model)
    line["attempt"] = JSON(job.attempts)
    let status = attempt.transfer?.status ?? 0
    line["http_status"] = status > 0 && job.resolved.provider.usesNetwork ? JSON(status) : .null
    line["seconds"] = JSON(rounded(seconds))
    line["first_token_s"] = attempt.firstToken.map { JSON(rounded($0 - attempt.start)) } ?? .null
    line["input_tokens"] = attempt.inputTokens.map { JSON($0) } ?? .null
    line["output_tokens"] = attempt.outputTokens.map { JSON($0) } ?? .null
    line["error_type"] = error.map { JSON($0.type.rawValue) } ?? .null
    line["request_key"] = JSON(job.resolved.requestKey)
    if options.logPrompts {
      line["messages"] = ProviderErrors.messagesJSON(job.call.messages)
    }
    output.log(line)
  }

  // MARK: - Interruption

  private func installSignalHandlers() {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return }
    signalRead = fds[0]
    signalPipeWrite = fds[1]
    _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
    _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
    let handler: @convention(c) (Int32) -> Void = { _ in
      var byte: UInt8 = 1
      _ = write(signalPipeWrite, &byte, 1)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGHUP, handler)
    // A parent may start us with these blocked (Foundation's Process does): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGHUP)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
  }

  /// Gives Ctrl-C back to the process and closes the signal pipe (an engine run inside another
  /// tool: build-prompt's summaries).
  func releaseSignals() {
    for number in [SIGINT, SIGTERM, SIGHUP] { signal(number, SIG_DFL) }
    if signalRead >= 0 { close(signalRead) }
    if signalPipeWrite >= 0 { close(signalPipeWrite) }
    signalRead = -1
    signalPipeWrite = -1
  }

  private func drainSignalPipe() {
    guard signalRead >= 0 else { return }
    var byte: UInt8 = 0
    while read(signalRead, &byte, 1) == 1 { interrupted = true }
  }

  private func cancelEverything() throws {
    try failEverything(
      SheafError(
        .cancelled, "interrupted before the answer was complete", retryable: true,
        hint:
          "run the same command again: completed answers are in the cache and are not asked for twice"
      ))
  }
}

private func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

extension CallEngine {
  /// Sends one record (pending, with `messages`) as call-llm would, with the same provider
  /// settings, cache, re-asks and rules, and gives it back answered or failed: the seam other
  /// tools use for a request of their own (build-prompt's summaries).
  public static func answer(_ record: JSON, options: CallOptions) -> JSON {
    let failed = { (message: String) -> JSON in
      let copy = record.copy()
      copy["status"] = JSON(SectionStatus.failed.rawValue)
      copy["error"] = SheafError(.internal, message).json
      return copy
    }
    // The request holds the document's text: a file only its owner reads.
    let directory = FileManager.default.temporaryDirectory.path
    let path = "\(directory)/sheaf-request-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).ndjson"
    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return failed("cannot write \(path)") }
    defer { unlink(path) }
    let bytes = Array((record.compactText + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    guard written == bytes.count else { return failed("cannot write \(path)") }
    var settings = options
    settings.inputs = [path]
    settings.jobs = 1
    settings.progress = false
    var result: JSON?
    do {
      let engine = try CallEngine(
        options: settings, tool: "call-llm",
        sink: { line in if line["event"] == nil { result = line } })
      // The engine turned Ctrl-C into a message for its loop: give it back to the caller, and
      // when it came, stop the caller as Ctrl-C would have.
      defer { engine.releaseSignals() }
      if try engine.run() == .interrupted {
        engine.releaseSignals()
        raise(SIGINT)
      }
    } catch let failure as ToolFailure {
      return failed(failure.message)
    } catch {
      return failed("\(error)")
    }
    return result ?? failed("no answer")
  }
}
