import Foundation
import SheafCore
import SheafValidate

extension CallEngine {
  // MARK: - Attempts

  func startAttempts() throws {
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
      // A batch's request reserves when it is queued, and is paid for when it is read.
      if let budget, !batched(job), let refusal = reserve(job, in: budget) {
        scheduler.ended()
        try fail(job, refusal, status: refusal.type == .quota ? .skipped : .failed)
        continue
      }
      if let shared, job.resolved.provider.usesNetwork, !batched(job) {
        // The other call-llm processes of the run: their 429 cool-down and concurrency.
        guard let slot = shared.acquire(job.resolved.rateKey) else {
          budget?.settle(id: job.id, cost: 0)
          scheduler.putBack(job)
          heldByShared = true
          break
        }
        job.slot = slot
      }
      if job.resolved.provider.usesNetwork && !batched(job) && !paceStart(job) {
        // The provider's own headers said its window has nothing left: wait for it to reset.
        job.releaseSlot()
        budget?.settle(id: job.id, cost: 0)
        scheduler.putBack(job)
        heldByShared = true
        break
      }
      try startAttempt(job)
    }
  }

  /// The level to ask a JSON section at next, when this attempt was a 400 that names what asks
  /// for the structure (`response_format`, `json_schema`, `format`, `tool`); `nil` otherwise.
  func refusedStructure(
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

  /// Reserves a request's estimated cost under the budget (its prompt, and `max_tokens` or 1,000
  /// tokens of answer); the error when it may not start.
  func reserve(_ job: Job, in budget: Budget, id: String? = nil, kept: Bool = false)
    -> SheafError?
  {
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
    return budget.reserve(price.cost(input: input, output: output), id: id ?? job.id, kept: kept)
  }

  func deadlineError(_ job: Job) -> SheafError {
    let limit = job.resolved.deadline ?? 0
    let limitText = limit == limit.rounded() ? String(Int(limit)) : String(limit)
    return SheafError(
      .timeout,
      "deadline: section '\(job.id)' used its \(limitText) s (llm.deadline_s) over \(job.attempts) attempt\(job.attempts == 1 ? "" : "s")",
      hint: "raise llm.deadline_s in the plan, or lower retries and repair_attempts")
  }

  func startAttempt(_ job: Job) throws {
    let now = clock.now
    let provider = job.resolved.provider
    if job.call.brief.wantsJSON {
      // A continuation continues text: it is asked for by the prompt alone.
      job.call.settings.structured = max(
        structuredLevels[job.resolved.baseURL] ?? .native,
        job.prefix.isEmpty ? .native : .promptOnly)
    }
    let request = provider.request(
      job.call, baseURL: job.resolved.baseURL, apiKey: job.resolved.apiKey)
    var transport = provider.usesNetwork ? http : offline
    if batched(job) {
      // Through the provider's batch API: the answer a wave brought, or queued for the next.
      switch try batchStart(job, request) {
      case .play(let replaying):
        transport = replaying
      case .queued:
        scheduler.ended()
        try fail(job, batchPending(job), status: .skipped)
        return
      case .refused(let refusal):
        scheduler.ended()
        try fail(job, refusal, status: .skipped)
        return
      }
    }
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
    do {
      attempt.transfer = try transport.start(request, sink: attempt)
      attempt.transport = transport
      active.append(attempt)
    } catch let failure as TransportFailure {
      scheduler.ended()
      job.releaseSlot()
      paceObserve(job, attempt)
      budget?.settle(id: job.id, cost: 0)
      job.current = nil
      try fail(job, SheafError(.internal, failure.message))
    }
  }

  /// Moves every transfer along and judges those that ended.
  func performTransfers() throws {
    guard transportFailure == nil else { return }
    for transport in [http, offline, replay] {
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

  func checkTimeouts() throws {
    let now = clock.now
    for attempt in active {
      if let deadlineAt = attempt.job.deadlineAt, now >= deadlineAt {
        if let transfer = attempt.transfer { attempt.transport?.stop(transfer) }
        try finish(attempt, end: nil, abort: deadlineError(attempt.job))
        continue
      }
      let timing = timing(attempt, now: now)
      if timing.serverBusy && attempt.firstByte == nil { attempt.waitedForBusyServer = true }
      guard attempt.transport === http, var error = Rules.timeout(timing) else { continue }
      if attempt.waitedForBusyServer && attempt.firstByte == nil {
        error.message +=
          " (the server was answering this run's other requests meanwhile: more sections at once than it has slots?)"
        error.hint =
          "keep J at or below the server's slots (llama.cpp --parallel N, OLLAMA_NUM_PARALLEL), or raise the first-byte timeout"
      }
      if let transfer = attempt.transfer { attempt.transport?.stop(transfer) }
      try finish(attempt, end: nil, abort: error)
    }
  }

  /// The clocks of an attempt at `now`, with what is known of its stream and its server.
  func timing(_ attempt: Attempt, now: Double) -> Rules.Timing {
    let resolved = attempt.job.resolved
    // A local model reads a long prompt before it writes anything: the first byte may take a
    // second per 25 estimated prompt tokens when that is longer than the limit.
    let reading = Double(attempt.job.promptTokens) / 25
    var timing = Rules.Timing(
      now: now, attemptStart: attempt.start, firstByte: attempt.firstByte,
      lastByte: attempt.lastByte, total: resolved.totalTimeout,
      firstByteLimit: max(options.firstByteTimeout, reading), idleLimit: options.idleTimeout)
    timing.healthy = attempt.isHealthy(now: now, floor: resolved.minTokensPerS)
    timing.staged = resolved.staged
    if attempt.firstByte == nil {
      // Busy with this run: another request to the same server is streaming, here or in another
      // process of the run.
      let here = lastStream[resolved.rateKey].map { now - $0 < options.idleTimeout } == true
      let elsewhere = shared?.sinceStreaming(resolved.rateKey).map { $0 < options.idleTimeout }
      timing.serverBusy = here || elsewhere == true
    }
    return timing
  }

  /// A response to the job's server is streaming (for the run's other requests waiting on it).
  func streaming(_ job: Job) {
    lastStream[job.resolved.rateKey] = clock.now
    shared?.streaming(job.resolved.rateKey)
  }

  /// An attempt ended: an answer, a retry, or a failure.
  func finish(_ attempt: Attempt, end: TransferEnd?, abort: SheafError?) throws {
    active.removeAll { $0 === attempt }
    scheduler.ended()
    let job = attempt.job
    job.releaseSlot()
    // Every attempt's end: what its headers said of the provider's window, or its start taken back.
    paceObserve(job, attempt)
    job.current = nil
    let seconds = clock.now - attempt.start
    // Time ran out while the answer was coming: what arrived is kept (below).
    let keptAfterTimeout =
      abort.map {
        $0.type == .timeout && !interrupted
          && ($0.message.hasPrefix("total timeout") || $0.message.hasPrefix("deadline"))
      } == true && !attempt.think.content.trimmed.isEmpty
    if keptAfterTimeout
      || (abort == nil && attempt.streamError == nil && end == .complete
        && attempt.transfer.map({ $0.status < 300 }) ?? true)
    {
      attempt.finishStream()
    }
    flushChunk(job)
    // Settled once the stream is finished: a whole JSON body (a batch's answer, a server that
    // does not stream) says its usage only when it is read.
    settleBudget(job, attempt)
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
    if let abort, keptAfterTimeout {
      // Time ran out while the answer was coming: what arrived is kept, paid for and judged as
      // an answer cut short (continued, or re-asked with its feedback), never thrown away.
      logAttempt(attempt, seconds: seconds, error: abort)
      addUsage(job, attempt)
      shared?.answered(resolved.rateKey)
      Diagnostics.say(
        tool,
        "\(job.id): \(abort.message); the \(attempt.think.content.split(whereSeparator: \.isWhitespace).count) words that arrived are kept as an answer cut short"
      )
      try judge(job, answer: cutAnswer(job, attempt, reason: "timeout"), attempt: attempt)
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
      try judge(job, answer: cutAnswer(job, attempt, reason: reason), attempt: attempt)
    case .failed(let error, let retry):
      // Tokens that streamed are paid for, even when the attempt fails.
      if attempt.firstToken != nil || attempt.outputTokens != nil { addUsage(job, attempt) }
      // One delay per failure (the jitter draws from a seeded generator), capped at --retry-max.
      // A batch's error is asked again in the next wave, without waiting here.
      let delay =
        batched(job) ? 0 : retryPolicy.delay(afterAttempt: job.tries, retryAfter: error.retryAfterS)
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

  /// The answer an attempt gave (joined to what came before, when it continues one).
  func cutAnswer(_ job: Job, _ attempt: Attempt, reason: String?) -> CachedAnswer {
    let resolved = job.resolved
    var added = attempt.think.content
    if resolved.provider.wrapsSchema(job.call) { added = StructuredSchema.unwrap(added) }
    // The text as it arrived, its last line break or space kept, for a continuation to join.
    job.raw =
      job.prefix.isEmpty ? added : Self.joinedRaw(job.prefix, added, prefilled: job.prefilled)
    return CachedAnswer(
      content: Self.joined(job.prefix, added, prefilled: job.prefilled),
      reasoning: attempt.think.reasoning.isEmpty ? nil : attempt.think.reasoning.trimmed,
      provider: resolved.call.settings.provider, model: resolved.call.settings.model,
      usage: totalUsage(job), finishReason: reason)
  }

  /// The transport itself failed: every record in flight, waiting or queued is written as
  /// failed (nothing is lost), and so is every record read after.
  func transportBroke(_ failure: TransportFailure) throws {
    let error = SheafError(
      .internal, failure.message, hint: "run the same command again: completed answers are cached")
    transportFailure = error
    try failEverything(error)
  }

  func failEverything(_ error: SheafError) throws {
    for attempt in active {
      if let transfer = attempt.transfer { attempt.transport?.stop(transfer) }
      attempt.transfer = nil
      scheduler.ended()
      settleBudget(attempt.job, attempt)
    }
    let unfinished = (active.map(\.job) + scheduler.takeAll()).sorted { $0.index < $1.index }
    active = []
    for job in unfinished { try fail(job, error, attempt: job.current) }
  }

  /// An attempt ended: its reservation goes and what it cost is spent.
  ///
  /// A batch's answer settles what was reserved when it was queued, and is spent once: a later
  /// pass that plays it again, on the way to a re-ask, spends nothing more.
  func settleBudget(_ job: Job, _ attempt: Attempt) {
    guard attempt.transport === replay, let key = job.batchKey else {
      budget?.settle(id: job.id, cost: attemptCost(job, attempt))
      return
    }
    let read = attempt.inputTokens != nil || attempt.outputTokens != nil
    budget?.settle(
      id: "batch:" + key, cost: job.batchPaid ? 0 : attemptCost(job, attempt), kept: true)
    if !job.batchPaid, read, budget != nil { batches?.markPaid(key) }
  }

  // MARK: - The provider's own rate-limit headers

  /// Whether `job` may start by what the provider's headers said of its window (the run's, when
  /// the run shares one; else this process's); notes when it was sent.
  func paceStart(_ job: Job) -> Bool {
    let key = job.resolved.rateKey
    let started: Double?
    if let shared {
      started = shared.paceStart(key)
    } else {
      started = localPace[key, default: RatePace()].start(now: clock.now)
    }
    guard let started else { return false }
    job.sentAt = started
    return true
  }

  /// Reads the rate-limit headers of an attempt's answer (a 429's included) into the window;
  /// an attempt that ended with none (or with no answer) is only taken back.
  func paceObserve(_ job: Job, _ attempt: Attempt) {
    guard job.resolved.provider.usesNetwork, job.sentAt != 0 else { return }
    let window = attempt.transfer.flatMap { transfer in RateWindow.from { transfer.header($0) } }
    let key = job.resolved.rateKey
    if let shared {
      shared.paceObserve(key, window, sentAt: job.sentAt)
    } else if let window {
      localPace[key, default: RatePace()].observe(window, sentAt: job.sentAt, now: clock.now)
    } else {
      localPace[key]?.forget(sentAt: job.sentAt)
    }
    job.sentAt = 0
  }

}
