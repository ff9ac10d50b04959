import Foundation
import SheafCore
import SheafValidate

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
  /// When the answer's recent pieces arrived (the last `rateWindow` seconds), for its rate.
  var tokenTimes: [Double] = []
  /// Whether the first-byte wait was extended because the server was busy with this run.
  var waitedForBusyServer = false

  /// The answer's bytes so far (text and thinking), against `llm.max_answer_bytes`.
  var answerBytes = 0

  /// The window a stream's rate is measured over, in seconds.
  static let rateWindow = 10.0

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
      if overCap(text) { return false }
      let now = engine.clock.now
      if firstToken == nil { firstToken = now }
      tokenTimes.append(now)
      if tokenTimes.count > 4096 || (tokenTimes.first ?? now) < now - Self.rateWindow {
        tokenTimes.removeAll { $0 < now - Self.rateWindow }
      }
      engine.streaming(job)
      let shown = think.feed(text)
      if !shown.isEmpty { engine.chunk(job, shown) }
    case .reasoning(let text):
      if overCap(text) { return false }
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

  /// Whether `text` takes the answer past its cap: the stream is stopped and fails (what came is
  /// dropped; a server that does not stop costs no more memory, events or disk).
  func overCap(_ text: String) -> Bool {
    answerBytes += text.utf8.count
    let cap = job.resolved.maxAnswerBytes
    guard answerBytes > cap else { return false }
    streamError = SheafError(
      .provider,
      "the answer passed \(cap) bytes (llm.max_answer_bytes) and was stopped: the server does not stop",
      retryable: false,
      hint: job.resolved.staged
        ? "cap the answer with MAX_TOKENS= (or llm.max_tokens), or raise llm.max_answer_bytes"
        : "cap the answer with --max-tokens (or llm.max_tokens), or raise llm.max_answer_bytes")
    return true
  }

  /// Pieces a second over the last `rateWindow` seconds (or since the first, when sooner);
  /// `nil` before two seconds of answer.
  func rate(now: Double) -> Double? {
    guard let firstToken, now - firstToken >= 2 else { return nil }
    let window = min(Self.rateWindow, now - firstToken)
    return Double(tokenTimes.filter { $0 >= now - window }.count) / window
  }

  /// Whether the answer is still coming at `floor` pieces a second or more.
  func isHealthy(now: Double, floor: Double) -> Bool {
    guard floor > 0, let rate = rate(now: now) else { return false }
    return rate >= floor && now - lastByte < Self.rateWindow
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
