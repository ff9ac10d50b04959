import CCurl
import Foundation

/// The write end of the pipe that SIGINT and SIGTERM wake the event loop through.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// Seconds on a clock that only goes forward.
func monotonicNow() -> Double {
  var time = timespec()
  clock_gettime(CLOCK_MONOTONIC, &time)
  return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// One record on its way through call-llm.
final class Job {
  let index: Int
  let record: Record
  let resolved: ResolvedCall
  var attempt = 0
  var startedAt = Date()
  var firstStart = 0.0
  var attemptStart = 0.0
  var firstByte: Double?
  var lastByte = 0.0
  var firstToken: Double?
  var think = ThinkFilter()
  var decoder: (any StreamDecoder)?
  var inputTokens: Int?
  var outputTokens: Int?
  var finishReason: String?
  var streamError: SheafError?
  var abortError: SheafError?
  var errorBody: [UInt8] = []
  var bodyBytes = 0
  var pieceCount = 0
  var transfer: CurlTransfer?
  var retryAt: Double?
  // The offline provider's stream.
  var offlinePieces: [String] = []
  var offlineNext = 0
  var offlineAt = 0.0
  var offlineInterval = 0.0

  init(index: Int, record: Record, resolved: ResolvedCall) {
    self.index = index
    self.record = record
    self.resolved = resolved
  }

  var id: String { resolved.call.id }
  var isOffline: Bool { resolved.provider == nil }

  /// Clears what one attempt gathered.
  func resetAttempt(now: Double) {
    think = ThinkFilter()
    decoder = resolved.provider?.makeDecoder()
    inputTokens = nil
    outputTokens = nil
    finishReason = nil
    streamError = nil
    abortError = nil
    errorBody = []
    bodyBytes = 0
    pieceCount = 0
    firstByte = nil
    firstToken = nil
    attemptStart = now
    lastByte = now
  }
}

/// call-llm's event loop: one thread, libcurl's multi interface, `-j` transfers at once.
public final class CallEngine {
  private let options: CallOptions
  private let tool: String
  private let writer = RecordWriter()
  private let multi: CurlMulti
  private var inputPaths: [String]
  private var reader: LineReader?
  private var inputDone = false
  private let cache: ResponseCache?
  private var retryPolicy: RetryPolicy
  private var eventsFile: AppendFile?
  private var logFile: AppendFile?
  private var signalRead: Int32 = -1

  private var queue: [Job] = []
  private var active: [Job] = []
  private var waiting: [Job] = []
  private var nextIndex = 0
  private var nextToWrite = 0
  private var held: [Int: JSON] = [:]
  private var limit: Int
  private var cooldownUntil = 0.0
  private var malformed: ToolFailure?
  private var interrupted = false
  private var anyFailed = false
  private var counts = (read: 0, done: 0, failed: 0, tokens: 0)
  private var warnedSideLog = false
  private var transportFailure: SheafError?
  private var lastProgress = 0.0
  private let started = monotonicNow()

  /// An engine for these options.
  /// - Throws: `ToolFailure` when an input, the events file or the log cannot be opened.
  public init(options: CallOptions, tool: String) throws {
    self.options = options
    self.tool = tool
    limit = max(1, options.jobs)
    do {
      multi = try CurlMulti()
    } catch let error as CurlError {
      throw ToolFailure.usage("libcurl: \(error.message)")
    }
    inputPaths = options.inputs.isEmpty ? ["-"] : options.inputs
    cache = options.noCache ? nil : ResponseCache(directory: options.cacheDirectory ?? ResponseCache.defaultDirectory(environment: options.environment))
    retryPolicy = RetryPolicy(base: options.retryBase, maximum: options.retryMax, seed: options.seed)
    eventsFile = try options.eventsFile.map { try AppendFile(path: $0) }
    logFile = try options.log.map { try AppendFile(path: $0) }
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
      try startJobs()
      if transportFailure == nil {
        do { try multi.perform() } catch let error as CurlError { try transportBroke(error) }
      }
      for (transfer, code) in multi.finished() {
        guard let job = active.first(where: { $0.transfer === transfer }) else { continue }
        multi.remove(transfer)
        try finishAttempt(job, code: code)
      }
      try advanceOffline()
      try checkTimeouts()
      promoteRetries()
      try startJobs()
      showProgress(force: false)
      if inputDone && queue.isEmpty && active.isEmpty && waiting.isEmpty { break }
      var fds = [signalRead]
      if wantsInput, let reader { fds.append(reader.descriptor) }
      if transportFailure == nil {
        do { try multi.poll(fds: fds, timeout: nextWake()) } catch let error as CurlError { try transportBroke(error) }
      } else {
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        _ = poll(&polled, nfds_t(polled.count), Int32(min(nextWake(), 1) * 1000))
      }
      drainSignalPipe()
    }
    showProgress(force: true)
    if Diagnostics.stderrIsTerminal || options.progress { Diagnostics.raw("\n") }
    if interrupted { return .interrupted }
    if let malformed { throw malformed }
    return anyFailed ? .someFailed : .completed
  }

  private var wantsInput: Bool {
    !interrupted && malformed == nil && queue.count + active.count + waiting.count < max(16, options.jobs * 2)
  }

  private func nextWake() -> Double {
    let now = monotonicNow()
    var wake = now + 1
    for job in active {
      if job.isOffline {
        if job.offlineNext < job.offlinePieces.count { wake = min(wake, job.offlineAt) }
        continue
      }
      wake = min(wake, job.attemptStart + job.resolved.totalTimeout)
      wake = min(wake, job.firstByte == nil ? job.attemptStart + options.firstByteTimeout : job.lastByte + options.idleTimeout)
    }
    for job in waiting { wake = min(wake, job.retryAt ?? wake) }
    if Diagnostics.stderrIsTerminal || options.progress { wake = min(wake, now + 0.25) }
    if !queue.isEmpty && active.count < limit { wake = now }
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
          try writer.write(object)
          continue
        }
        try admit(Record(object))
      }
    }
  }

  private func admit(_ record: Record) throws {
    let index = nextIndex
    nextIndex += 1
    counts.read += 1
    if let status = record.status, status != .pending, status != .queued, status != .processing {
      // Finished upstream (failed in build-prompt, skipped, or already answered): passed on.
      if status != .completed { anyFailed = true }
      counts.done += 1
      try emit(index, record.json)
      return
    }
    let resolved: ResolvedCall
    do {
      resolved = try ResolvedCall.resolve(record, options: options)
    } catch {
      try fail(index: index, record: record, error: error, resolved: nil, attempts: 0)
      return
    }
    let job = Job(index: index, record: record, resolved: resolved)
    if let cache, !options.refresh.contains(job.id), let answer = cache.get(resolved.requestKey) {
      try complete(job, answer: answer, fromCache: true)
      return
    }
    if options.cacheOnly {
      try fail(
        index: index, record: record,
        error: SheafError(.network, "no cached answer for section '\(job.id)' (request_key \(resolved.requestKey.prefix(12))…) and --cache-only forbids asking", hint: "run without --cache-only to ask the provider"),
        resolved: resolved, attempts: 0)
      return
    }
    record.status = .queued
    queue.append(job)
  }

  // MARK: - Attempts

  /// libcurl's multi handle failed: every record in flight, waiting or queued is written as
  /// failed (nothing is lost), and so is every record read after.
  private func transportBroke(_ error: CurlError) throws {
    let failure = SheafError(
      .internal, "libcurl: \(error.message)", hint: "run the same command again: completed answers are cached")
    transportFailure = failure
    for job in active {
      if let transfer = job.transfer { multi.remove(transfer) }
      job.transfer = nil
    }
    let unfinished = (active + waiting + queue).sorted { $0.index < $1.index }
    active = []
    waiting = []
    queue = []
    for job in unfinished {
      try fail(index: job.index, record: job.record, error: failure, resolved: job.resolved, attempts: job.attempt, job: job)
    }
  }

  private func startJobs() throws {
    if let transportFailure {
      while !queue.isEmpty {
        let job = queue.removeFirst()
        try fail(index: job.index, record: job.record, error: transportFailure, resolved: job.resolved, attempts: job.attempt, job: job)
      }
      return
    }
    let now = monotonicNow()
    if limit < max(1, options.jobs) && now >= cooldownUntil { limit = min(options.jobs, limit + 1) }
    while active.count < limit && !queue.isEmpty && !interrupted {
      let job = queue.removeFirst()
      try startAttempt(job)
    }
  }

  private func startAttempt(_ job: Job) throws {
    let now = monotonicNow()
    job.attempt += 1
    if job.attempt == 1 {
      job.startedAt = Date()
      job.firstStart = now
    }
    job.resetAttempt(now: now)
    job.record.status = .processing
    try event(.sectionStart, doc: job.record.doc, ["id": JSON(job.id), "attempt": JSON(job.attempt)])
    active.append(job)
    guard let provider = job.resolved.provider else {
      let record = job.record.json
      let text = OfflineProvider.answer(
        title: job.record.title ?? job.id, description: record["description"]?.string ?? "",
        instructions: record["instructions"]?.string, docTitle: record["doc_title"]?.string,
        messages: job.resolved.call.messages, seed: options.seed, targetWords: job.resolved.targetWords)
      job.offlinePieces = OfflineProvider.pieces(text)
      job.offlineNext = 0
      job.offlineAt = now + options.offlineDelay
      job.offlineInterval = options.offlineTPS > 0 ? 1 / options.offlineTPS : 0
      return
    }
    let request = provider.request(job.resolved.call, baseURL: job.resolved.baseURL, apiKey: job.resolved.apiKey)
    let transfer: CurlTransfer
    do {
      transfer = try CurlTransfer(request, connectTimeout: options.connectTimeout)
      transfer.onActivity = { [unowned job] in
        let moment = monotonicNow()
        if job.firstByte == nil { job.firstByte = moment }
        job.lastByte = moment
      }
      transfer.onBody = { [unowned self, unowned job, unowned transfer] bytes in
        self.receive(job, transfer: transfer, bytes)
      }
      try multi.add(transfer)
    } catch let error as CurlError {
      active.removeAll { $0 === job }
      try fail(index: job.index, record: job.record, error: SheafError(.internal, "libcurl: \(error.message)"), resolved: job.resolved, attempts: job.attempt)
      return
    }
    job.transfer = transfer
  }

  /// Body bytes of an HTTP attempt; `false` stops the transfer.
  private func receive(_ job: Job, transfer: CurlTransfer, _ bytes: UnsafeRawBufferPointer) -> Bool {
    if transfer.status >= 300 {
      if job.errorBody.count < 65536 { job.errorBody.append(contentsOf: bytes.prefix(65536 - job.errorBody.count)) }
      return true
    }
    if job.bodyBytes == 0, let type = transfer.header("content-type")?.lowercased(), type.contains("text/html") {
      job.streamError = Self.notAStream(type, job: job)
      return false
    }
    job.bodyBytes += bytes.count
    // Take the decoder out while it works: were the job to keep a second reference, every read
    // would copy the decoder's buffers (a long line would cost its length squared).
    guard var decoder = job.decoder else { return true }
    job.decoder = nil
    let pieces = decoder.feed(bytes)
    job.decoder = decoder
    for piece in pieces where !handle(piece, job) { return false }
    return true
  }

  /// The error for a body that is not the stream that was asked for.
  private static func notAStream(_ type: String, job: Job) -> SheafError {
    SheafError(
      .provider, "not an event stream: got \(type.split(separator: ";").first.map(String.init) ?? type) from \(job.resolved.baseURL)",
      hint: "is the base URL right? it should be the API's root (for example http://localhost:8000/v1), not a web page")
  }

  /// Takes one piece of an answer; `false` when the stream reported an error.
  private func handle(_ piece: StreamPiece, _ job: Job) -> Bool {
    job.pieceCount += 1
    switch piece {
    case .text(let text):
      if job.firstToken == nil { job.firstToken = monotonicNow() }
      let shown = job.think.feed(text)
      if !shown.isEmpty { try? event(.chunk, doc: job.record.doc, ["id": JSON(job.id), "text": JSON(shown)]) }
    case .reasoning(let text):
      if job.firstToken == nil { job.firstToken = monotonicNow() }
      job.think.addReasoning(text)
    case .usage(let input, let output):
      if let input { job.inputTokens = input }
      if let output { job.outputTokens = output }
    case .finish(let reason):
      job.finishReason = reason ?? "stop"
    case .error(let error):
      job.streamError = error
      return false
    }
    return true
  }

  private func advanceOffline() throws {
    let now = monotonicNow()
    for job in active where job.isOffline {
      while job.offlineNext < job.offlinePieces.count && job.offlineAt <= now {
        _ = handle(.text(job.offlinePieces[job.offlineNext]), job)
        job.offlineNext += 1
        job.offlineAt += job.offlineInterval
      }
      if job.offlineNext == job.offlinePieces.count {
        let input = job.resolved.call.messages.map { OfflineProvider.estimateTokens($0.content) }.reduce(0, +)
        job.inputTokens = input
        job.outputTokens = OfflineProvider.pieces(job.think.content).count
        job.finishReason = "stop"
        try finishAttempt(job, code: CURLE_OK)
      }
    }
  }

  private func checkTimeouts() throws {
    let now = monotonicNow()
    for job in active where !job.isOffline {
      let elapsed = now - job.attemptStart
      var error: SheafError?
      if elapsed > job.resolved.totalTimeout {
        error = SheafError(.timeout, "total timeout: the attempt took more than \(format(job.resolved.totalTimeout)) s", retryable: true, hint: "raise llm.timeout_s in the plan or pass --timeout")
      } else if job.firstByte == nil && elapsed > options.firstByteTimeout {
        error = SheafError(.timeout, "first-byte timeout: no response within \(format(options.firstByteTimeout)) s", retryable: true, hint: "the server is slow to start; raise --first-byte-timeout")
      } else if job.firstByte != nil && now - job.lastByte > options.idleTimeout {
        error = SheafError(.timeout, "idle timeout: the stream stalled (no bytes for \(format(options.idleTimeout)) s)", retryable: true, hint: "the server stopped sending; raise --idle-timeout if it is just slow")
      }
      guard let error, let transfer = job.transfer else { continue }
      job.abortError = error
      multi.remove(transfer)
      try finishAttempt(job, code: CURLE_OPERATION_TIMEDOUT)
    }
  }

  private func promoteRetries() {
    let now = monotonicNow()
    let due = waiting.filter { ($0.retryAt ?? 0) <= now }
    waiting.removeAll { ($0.retryAt ?? 0) <= now }
    // Retries go first: they have waited already.
    queue.insert(contentsOf: due, at: 0)
  }

  /// Decides how an attempt ended: an answer, a retry, or a failure.
  private func finishAttempt(_ job: Job, code: CURLcode) throws {
    active.removeAll { $0 === job }
    let seconds = monotonicNow() - job.attemptStart
    var error = job.abortError
    var status = 0
    if error == nil, let provider = job.resolved.provider {
      let transfer = job.transfer
      status = transfer?.status ?? 0
      if code == CURLE_OK || code == CURLE_WRITE_ERROR, let streamError = job.streamError {
        error = streamError
      } else if code != CURLE_OK {
        error = curlError(code, provider: provider, job: job)
      } else if status >= 300 {
        let retryAfter = RetryPolicy.retryAfter(milliseconds: transfer?.header("retry-after-ms"), header: transfer?.header("retry-after"))
        error = provider.error(
          status: status, body: String(decoding: job.errorBody, as: UTF8.self), retryAfter: retryAfter,
          baseURL: job.resolved.baseURL, model: job.resolved.call.settings.model)
      }
    }
    if error == nil {
      if var decoder = job.decoder {
        for piece in decoder.finish() { _ = handle(piece, job) }
        job.decoder = decoder
        if let streamError = job.streamError { error = streamError }
      }
      job.think.finish()
    }
    if error == nil {
      if job.think.isInsideThink {
        error = SheafError(.provider, "the answer stopped inside a <think> block (\(job.think.reasoning.count) characters of thinking, no answer after it)", retryable: true, hint: "raise max_tokens: the model ran out while thinking")
      } else if job.finishReason == nil && !job.isOffline && job.bodyBytes == 0 {
        error = SheafError(.provider, "the server answered with an empty body", hint: "is the base URL right? it should be the API's root (for example http://localhost:8000/v1)")
      } else if job.finishReason == nil && !job.isOffline && (job.decoder?.eventCount ?? 0) == 0 {
        let type = job.transfer?.header("content-type")?.lowercased() ?? "a body without a type"
        if type.contains("event-stream") || type.contains("ndjson") {
          error = SheafError(.provider, "the event stream held no events (\(job.bodyBytes) bytes, no data lines)", hint: "is the base URL an LLM server of this provider's kind? check --provider and --base-url")
        } else {
          error = Self.notAStream(type, job: job)
        }
      } else if job.finishReason == nil && !job.isOffline && job.pieceCount == 0 {
        error = SheafError(.provider, "the event stream held no answer (no text, no finish reason)", hint: "is the base URL an LLM server of this provider's kind? check --provider")
      } else if job.finishReason == nil {
        error = SheafError(.network, "the stream ended before the answer was finished", retryable: true, hint: "the connection dropped mid-answer; it is retried")
      } else if job.think.content.trimmed.isEmpty {
        error = SheafError(.provider, "the model returned an empty answer", retryable: true, hint: "check the prompt and max_tokens")
      }
    }
    job.transfer = nil
    sideLog { try logAttempt(job, status: status, seconds: seconds, error: error) }
    guard let error else {
      let answer = CachedAnswer(
        content: job.think.content.trimmed, reasoning: job.think.reasoning.isEmpty ? nil : job.think.reasoning.trimmed,
        provider: job.resolved.call.settings.provider, model: job.resolved.call.settings.model,
        usage: usageJSON(job), finishReason: job.finishReason)
      if let cache {
        do { try cache.put(job.resolved.requestKey, answer) } catch let failure as ToolFailure { Diagnostics.say(tool, failure.message) }
      }
      try complete(job, answer: answer, fromCache: false)
      return
    }
    if error.type == .rateLimited {
      limit = max(1, limit / 2)
      cooldownUntil = monotonicNow() + max(error.retryAfterS ?? 10, 5)
    }
    if error.retryable && job.attempt < job.resolved.maxAttempts && !interrupted {
      let delay = retryPolicy.delay(afterAttempt: job.attempt, retryAfter: error.retryAfterS)
      job.retryAt = monotonicNow() + delay
      job.record.status = .queued
      waiting.append(job)
      return
    }
    try fail(index: job.index, record: job.record, error: error, resolved: job.resolved, attempts: job.attempt, job: job)
  }

  private func curlError(_ code: CURLcode, provider: any HTTPProvider, job: Job) -> SheafError {
    let detail = job.transfer?.message(for: code) ?? String(cString: curl_easy_strerror(code))
    switch code {
    case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
      return provider.unreachable(detail, baseURL: job.resolved.baseURL)
    case CURLE_OPERATION_TIMEDOUT:
      return SheafError(.timeout, "connect timeout: \(detail)", retryable: true, hint: "is the server at \(job.resolved.baseURL) reachable? (--connect-timeout)")
    case _ where detail.lowercased().contains("header") || code == CURLE_OUT_OF_MEMORY || code.rawValue == 100:
      // libcurl refuses response headers over 100 KB (7.88 says "Out of memory", later ones
      // CURLE_TOO_LARGE).
      return SheafError(.provider, "the server's response headers could not be read (too large?): \(detail)", hint: "is the base URL right? a proxy or a login page may be answering instead of the API")
    case CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING:
      return SheafError(.network, "the connection broke: \(detail)", retryable: true, hint: "a network or server fault; it is retried")
    default:
      return SheafError(.network, "\(detail) (libcurl error \(code.rawValue))", retryable: true)
    }
  }

  // MARK: - Results

  private func usageJSON(_ job: Job) -> JSON {
    let estimated = job.isOffline || job.inputTokens == nil || job.outputTokens == nil
    let input = job.inputTokens ?? job.resolved.call.messages.map { OfflineProvider.estimateTokens($0.content) }.reduce(0, +)
    let output = job.outputTokens ?? OfflineProvider.estimateTokens(job.think.content)
    let usage = JSON.object(["input_tokens": JSON(input), "output_tokens": JSON(output)])
    if estimated { usage["estimated"] = JSON(true) }
    return usage
  }

  private func timingJSON(_ job: Job, cached: Bool) -> JSON {
    let now = monotonicNow()
    let timing = JSON.object()
    timing["started_at"] = JSON(Event.timestamp(cached ? Date() : job.startedAt))
    timing["first_token_s"] = job.firstToken.map { JSON(rounded($0 - job.attemptStart)) } ?? .null
    timing["seconds"] = JSON(cached ? 0 : rounded(now - job.firstStart))
    return timing
  }

  private func complete(_ job: Job, answer: CachedAnswer, fromCache: Bool) throws {
    let record = job.record.json
    record["status"] = JSON(SectionStatus.completed.rawValue)
    record["content"] = JSON(answer.content)
    record["reasoning"] = answer.reasoning.map { JSON($0) }
    record["provider"] = JSON(answer.provider)
    record["model"] = JSON(answer.model)
    record["usage"] = answer.usage?.copy() ?? usageJSON(job)
    record["timing"] = timingJSON(job, cached: fromCache)
    record["attempts"] = JSON(fromCache ? 0 : job.attempt)
    record["cache"] = JSON(fromCache ? "hit" : "miss")
    record["request_key"] = JSON(job.resolved.requestKey)
    record["finish_reason"] = answer.finishReason.map { JSON($0) }
    record["source"] = JSON("llm")
    record["error"] = nil
    counts.done += 1
    counts.tokens += (record["usage"]?["output_tokens"]?.int ?? 0)
    try event(
      .sectionComplete, doc: job.record.doc,
      ["id": JSON(job.id), "title": JSON(job.record.title ?? job.id), "content": JSON(answer.content), "seconds": record["timing"]?["seconds"] ?? JSON(0)])
    try emit(job.index, record)
  }

  private func fail(index: Int, record: Record, error: SheafError, resolved: ResolvedCall?, attempts: Int, job: Job? = nil) throws {
    let json = record.json
    json["status"] = JSON(error.type == .cancelled ? SectionStatus.cancelled.rawValue : SectionStatus.failed.rawValue)
    json["content"] = nil
    json["reasoning"] = nil
    if let resolved {
      json["provider"] = JSON(resolved.call.settings.provider)
      json["model"] = JSON(resolved.call.settings.model)
      json["request_key"] = JSON(resolved.requestKey)
    }
    if let job, job.attempt > 0 { json["timing"] = timingJSON(job, cached: false) }
    json["attempts"] = JSON(attempts)
    json["error"] = error.json
    anyFailed = true
    counts.done += 1
    counts.failed += 1
    try event(.sectionFailed, doc: record.doc, ["id": JSON(record.id ?? "?"), "error": error.json])
    try emit(index, json)
  }

  private func emit(_ index: Int, _ record: JSON) throws {
    guard options.keepOrder else {
      try writer.write(record)
      return
    }
    held[index] = record
    while let next = held.removeValue(forKey: nextToWrite) {
      try writer.write(next)
      nextToWrite += 1
    }
  }

  private func event(_ name: Event.Name, doc: String?, _ fields: KeyValuePairs<String, JSON>) throws {
    guard options.events || eventsFile != nil else { return }
    let event = Event.make(name, doc: doc, fields: fields)
    if options.events { try writer.write(event) }
    if let eventsFile { sideLog { try eventsFile.append(event.compactText) } }
  }

  /// Writes to a side log (the events file, the attempt log): a failure is a warning, said once,
  /// and never costs an answer that was paid for.
  private func sideLog(_ write: () throws -> Void) {
    do {
      try write()
    } catch let failure as ToolFailure {
      if !warnedSideLog { Diagnostics.say(tool, "warning: \(failure.message); the answers are kept") }
      warnedSideLog = true
    } catch {
      if !warnedSideLog { Diagnostics.say(tool, "warning: \(error)") }
      warnedSideLog = true
    }
  }

  private func logAttempt(_ job: Job, status: Int, seconds: Double, error: SheafError?) throws {
    guard let logFile else { return }
    let line = JSON.object()
    line["ts"] = JSON(Event.timestamp())
    line["id"] = JSON(job.id)
    line["provider"] = JSON(job.resolved.call.settings.provider)
    line["model"] = JSON(job.resolved.call.settings.model)
    line["attempt"] = JSON(job.attempt)
    line["http_status"] = status > 0 ? JSON(status) : .null
    line["seconds"] = JSON(rounded(seconds))
    line["first_token_s"] = job.firstToken.map { JSON(rounded($0 - job.attemptStart)) } ?? .null
    line["input_tokens"] = job.inputTokens.map { JSON($0) } ?? .null
    line["output_tokens"] = job.outputTokens.map { JSON($0) } ?? .null
    line["error_type"] = error.map { JSON($0.type.rawValue) } ?? .null
    line["request_key"] = JSON(job.resolved.requestKey)
    if options.logPrompts { line["messages"] = ProviderErrors.messagesJSON(job.resolved.call.messages) }
    try logFile.append(line.compactText)
  }

  // MARK: - Interruption and progress

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

  private func drainSignalPipe() {
    guard signalRead >= 0 else { return }
    var byte: UInt8 = 0
    while read(signalRead, &byte, 1) == 1 { interrupted = true }
  }

  private func cancelEverything() throws {
    let error = SheafError(
      .cancelled, "interrupted before the answer was complete", retryable: true,
      hint: "run the same command again: completed answers are in the cache and are not asked for twice")
    for job in active {
      if let transfer = job.transfer { multi.remove(transfer) }
      job.transfer = nil
    }
    let unfinished = (active + waiting + queue).sorted { $0.index < $1.index }
    active = []
    waiting = []
    queue = []
    for job in unfinished {
      try fail(index: job.index, record: job.record, error: error, resolved: job.resolved, attempts: job.attempt, job: job)
    }
  }

  private func showProgress(force: Bool) {
    guard Diagnostics.stderrIsTerminal || options.progress else { return }
    let now = monotonicNow()
    guard force || now - lastProgress >= 0.25 else { return }
    lastProgress = now
    let elapsed = now - started
    var eta = ""
    if counts.done > 0 && counts.read > counts.done {
      eta = " · ETA \(Int((elapsed / Double(counts.done)) * Double(counts.read - counts.done)))s"
    }
    let more = inputDone ? "" : "+"
    Diagnostics.raw(
      "\r\u{1B}[K\(tool): \(counts.done)/\(counts.read)\(more) done · \(active.count) in flight · \(counts.failed) failed · \(counts.tokens) tokens\(eta)")
  }
}

private func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

private func format(_ seconds: Double) -> String {
  seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
}
