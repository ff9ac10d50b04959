import Foundation
import SheafCore
import SheafValidate

/// call-llm's event loop, and only that: it reads records (through the shared non-blocking
/// `LineReader`), asks the `Scheduler` what to start, starts attempts on a `Transport` (libcurl,
/// or the offline writer), lets `Rules` judge how each ended, and writes through `RecordOutput`.
public final class CallEngine {
  let options: CallOptions
  let tool: String
  let clock: EngineClock
  let http: Transport
  let offline: Transport
  /// The answers of the provider's batches, played back (`--batch`).
  let replay = BatchReplayTransport()
  /// The set's batch folder (`--batch`): requests go through the provider's batch API.
  let batches: BatchStore?
  let output: RecordOutput
  let scheduler: Scheduler<Job>
  var inputPaths: [String]
  var reader: LineReader?
  var inputDone = false
  let cache: ResponseCache?
  var retryPolicy: RetryPolicy
  var signalRead: Int32 = -1
  var active: [Attempt] = []
  var nextIndex = 0
  var malformed: ToolFailure?
  var interrupted = false
  var anyFailed = false
  var transportFailure: SheafError?
  let validator: FormatValidator
  let shared: SharedRateLimit?
  /// The spending limit, from `--budget` or the first record that sets `llm.max_cost`.
  var budget: Budget?
  /// How JSON sections are asked for, per base URL: lowered (and said once) when a server refuses
  /// structured output.
  var structuredLevels: [String: StructuredOutput] = [:]
  /// Whether a start waits for the run's shared rate limit.
  var heldByShared = false
  /// Whether a server that lost a prompt (its input tokens far below the estimate) was said.
  var warnedPromptLost = false
  /// When a response last streamed from each server (by rate key), in this process.
  var lastStream: [String: Double] = [:]
  /// Each server's window as its rate-limit headers said (by rate key), when no run shares it.
  var localPace: [String: RatePace] = [:]

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
    batches = options.batchDirectory.map(BatchStore.init(directory:))
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

  var wantsInput: Bool {
    !interrupted && malformed == nil && scheduler.pending + active.count < max(16, options.jobs * 2)
  }

  /// Seconds until something is due: a timeout, a retry, a paced offline piece, the progress line.
  func nextWake() -> Double {
    let now = clock.now
    var wake = now + 1
    for attempt in active where attempt.transport === http {
      wake = min(
        wake,
        Rules.nextTimeout(timing(attempt, now: now)))
    }
    for attempt in active { if let due = attempt.job.deadlineAt { wake = min(wake, due) } }
    if let due = scheduler.nextWake, !(heldByShared && due <= now) { wake = min(wake, due) }
    if heldByShared { wake = min(wake, now + SharedRateLimit.pollInterval) }
    if let due = offline.nextDue { wake = min(wake, due) }
    if replay.nextDue != nil { wake = now }
    if output.showsProgress { wake = min(wake, now + 0.25) }
    return max(0, wake - now)
  }

  // MARK: - Input

  func readInput() throws {
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

  func admit(_ record: Record) throws {
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
  func warnContextWindow(_ job: Job) {
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
}
