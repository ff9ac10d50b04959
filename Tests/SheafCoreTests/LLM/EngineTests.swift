import Foundation
import Testing

@testable import SheafCore
@testable import SheafLLM

/// A clock that moves only when the engine waits: timing rules are checked without sleeping.
final class FakeClock: EngineClock {
  var now = 1000.0
  func wait(fds: [Int32], timeout: Double) { now += max(0, timeout) }
}

/// A transport that plays a script per request, on the fake clock.
final class ScriptedTransport: Transport {
  struct Reply {
    var status = 200
    var headers = ["content-type": "text/event-stream"]
    /// Body pieces, each `after` seconds from the request's start.
    var chunks: [(after: Double, text: String)] = []
    /// How and when it ends; `nil`: it never ends on its own.
    var end: TransferEnd? = .complete
    var endAfter = 0.0
  }

  final class Running: Transfer {
    let reply: Reply
    let sink: TransferSink
    let start: Double
    var next = 0
    init(reply: Reply, sink: TransferSink, start: Double) {
      self.reply = reply
      self.sink = sink
      self.start = start
    }
    var status: Int { reply.status }
    func header(_ name: String) -> String? { reply.headers[name.lowercased()] }
  }

  let clock: FakeClock
  let script: (Int, HTTPRequest) -> Reply
  private(set) var requests: [(at: Double, request: HTTPRequest)] = []
  private var running: [Running] = []
  /// Called at every wait, with the time (to interrupt the engine, say).
  var onWait: (Double) -> Void = { _ in }
  /// From this time on, `perform` fails as a broken libcurl would.
  var failAt: Double?

  init(clock: FakeClock, script: @escaping (Int, HTTPRequest) -> Reply) {
    self.clock = clock
    self.script = script
  }

  func start(_ request: HTTPRequest, sink: TransferSink) throws -> Transfer {
    requests.append((clock.now, request))
    let transfer = Running(reply: script(requests.count, request), sink: sink, start: clock.now)
    running.append(transfer)
    return transfer
  }

  func stop(_ transfer: Transfer) {
    running.removeAll { $0 === transfer }
  }

  func perform() throws -> [(Transfer, TransferEnd)] {
    if let failAt, clock.now >= failAt {
      throw TransportFailure("libcurl: the multi handle failed")
    }
    var ended: [(Transfer, TransferEnd)] = []
    for transfer in running {
      var stopped = false
      while transfer.next < transfer.reply.chunks.count,
        transfer.start + transfer.reply.chunks[transfer.next].after <= clock.now
      {
        transfer.sink.activity()
        var text = transfer.reply.chunks[transfer.next].text
        transfer.next += 1
        if !text.withUTF8({ transfer.sink.body(UnsafeRawBufferPointer($0)) }) {
          stopped = true
          break
        }
      }
      if stopped {
        ended.append((transfer, .stopped))
      } else if transfer.next == transfer.reply.chunks.count, let end = transfer.reply.end,
        transfer.start + transfer.reply.endAfter <= clock.now
      {
        ended.append((transfer, end))
      }
    }
    running.removeAll { transfer in ended.contains { $0.0 === transfer } }
    return ended
  }

  var nextDue: Double? {
    running.compactMap { transfer -> Double? in
      if transfer.next < transfer.reply.chunks.count {
        return transfer.start + transfer.reply.chunks[transfer.next].after
      }
      return transfer.reply.end == nil ? nil : transfer.start + transfer.reply.endAfter
    }.min()
  }

  func wait(fds: [Int32], timeout: Double) throws {
    onWait(clock.now)
    let until = min(
      clock.now + max(0, timeout), nextDue ?? .infinity,
      failAt.map { max($0, clock.now) } ?? .infinity)
    clock.now = max(clock.now, until)
  }
}

/// OpenAI-style stream pieces.
func sse(_ text: String) -> String {
  #"data: {"choices":[{"index":0,"delta":{"content":"\#(text)"},"finish_reason":null}]}"# + "\n\n"
}
let sseEnd =
  #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"# + "\n\n"
  + "data: [DONE]\n\n"

/// An answer in three pieces, then the end.
func answer(at start: Double = 0, spacing: Double = 0.1) -> ScriptedTransport.Reply {
  ScriptedTransport.Reply(
    chunks: [
      (start, sse("Hello ")), (start + spacing, sse("there ")),
      (start + 2 * spacing, sse("friend.")), (start + 3 * spacing, sseEnd),
    ],
    endAfter: start + 3 * spacing)
}

func errorReply(_ status: Int, headers: [String: String] = [:], message: String = "oops")
  -> ScriptedTransport.Reply
{
  var all = ["content-type": "application/json"]
  for (key, value) in headers { all[key] = value }
  return ScriptedTransport.Reply(
    status: status, headers: all, chunks: [(0, #"{"error":{"message":"\#(message)"}}"#)],
    endAfter: 0)
}

/// Settings a test changes from the defaults.
struct Patch {
  var events = false
  var retryBase: Double?
  var retryMax: Double?
  var firstByteTimeout: Double?
  var idleTimeout: Double?
  var totalTimeout: Double?
  var provider: String?
  var offlineDelay: Double?
  var offlineTPS: Double?

  func apply(to options: inout CallOptions) {
    options.events = events
    if let retryBase { options.retryBase = retryBase }
    if let retryMax { options.retryMax = retryMax }
    if let firstByteTimeout { options.firstByteTimeout = firstByteTimeout }
    if let idleTimeout { options.idleTimeout = idleTimeout }
    if let totalTimeout { options.totalTimeout = totalTimeout }
    if let provider { options.provider = provider }
    if let offlineDelay { options.offlineDelay = offlineDelay }
    if let offlineTPS { options.offlineTPS = offlineTPS }
  }
}

struct EngineTests {
  /// Runs the engine over `count` records with the scripted transport; returns the records
  /// written, the exit status and the transport.
  func run(
    _ count: Int = 1, jobs: Int = 4, retries: Int = 2,
    patch: Patch = Patch(),
    transport: (FakeClock) -> ScriptedTransport
  ) throws -> (
    records: [JSON], status: SheafCore.ExitStatus, transport: ScriptedTransport, clock: FakeClock,
    start: Double, events: [JSON]
  ) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "engine-\(UUID().uuidString).ndjson"
    ).path
    var lines = ""
    for index in 1...count {
      lines +=
        #"{"doc":"t","id":"s\#(index)","title":"S\#(index)","status":"pending","llm":{"provider":"openai","model":"m"},"messages":[{"role":"user","content":"Write \#(index)."}]}"#
        + "\n"
    }
    try lines.write(toFile: path, atomically: true, encoding: .utf8)
    var options = CallOptions()
    options.inputs = [path]
    options.noCache = true
    options.jobs = jobs
    options.retries = retries
    options.baseURL = "http://stub.invalid/v1"
    options.environment = [:]
    patch.apply(to: &options)
    let clock = FakeClock()
    let start = clock.now
    let scripted = transport(clock)
    var written: [JSON] = []
    let engine = try CallEngine(
      options: options, tool: "call-llm", clock: clock, http: scripted, sink: { written.append($0) }
    )
    let status = try engine.run()
    return (
      written.filter { !Event.isEvent($0) }, status, scripted, clock, start,
      written.filter { Event.isEvent($0) }
    )
  }

  @Test func anAnswerCompletesWithItsTextAndTiming() throws {
    let result = try run { ScriptedTransport(clock: $0) { _, _ in answer(at: 0.5) } }
    #expect(result.status == .completed)
    let record = try #require(result.records.first)
    #expect(record["content"]?.string == "Hello there friend.")
    #expect(record["attempts"]?.int == 1)
    #expect(record["timing"]?["first_token_s"]?.double == 0.5)
    #expect(record["finish_reason"]?.string == "stop")
  }

  @Test func aServerErrorIsRetriedAfterABackoffWithJitter() throws {
    let result = try run(patch: Patch(retryBase: 2)) { clock in
      ScriptedTransport(clock: clock) { number, _ in number == 1 ? errorReply(500) : answer() }
    }
    #expect(result.status == .completed)
    let times = result.transport.requests.map(\.at)
    #expect(times.count == 2)
    let gap = times[1] - times[0]
    #expect(gap >= 1.0 && gap <= 2.0, "base 2 s, equal jitter: between 1 and 2 s, got \(gap)")
    #expect(result.records.first?["attempts"]?.int == 2)
  }

  @Test func retryAfterIsHonouredExactly() throws {
    let result = try run(patch: Patch(retryMax: 60)) { clock in
      ScriptedTransport(clock: clock) { number, _ in
        number == 1
          ? errorReply(429, headers: ["retry-after": "7"], message: "slow down") : answer()
      }
    }
    let times = result.transport.requests.map(\.at)
    #expect(times.count == 2 && times[1] - times[0] == 7)
  }

  @Test func retryAfterMillisecondsWinsAndIsCappedByRetryMax() throws {
    let capped = try run(patch: Patch(retryMax: 3)) { clock in
      ScriptedTransport(clock: clock) { number, _ in
        number == 1 ? errorReply(503, headers: ["retry-after": "30"]) : answer()
      }
    }
    let times = capped.transport.requests.map(\.at)
    #expect(times[1] - times[0] == 3, "a Retry-After over --retry-max waits --retry-max")
    let millis = try run { clock in
      ScriptedTransport(clock: clock) { number, _ in
        number == 1
          ? errorReply(503, headers: ["retry-after-ms": "250", "retry-after": "9"]) : answer()
      }
    }
    let gap = millis.transport.requests[1].at - millis.transport.requests[0].at
    #expect(abs(gap - 0.25) < 1e-9)
  }

  @Test func theLastAttemptsHintSaysWhatToDo() throws {
    let result = try run(retries: 2) { ScriptedTransport(clock: $0) { _, _ in errorReply(500) } }
    #expect(result.status == .someFailed)
    #expect(result.transport.requests.count == 3)
    let error = try #require(result.records.first?["error"])
    #expect(error["type"]?.string == "provider")
    #expect(
      error["hint"]?.string
        == "a server error; gave up after 3 attempts; run the same command again later (completed answers are kept)"
    )
  }

  @Test func clientErrorsAreNotRetried() throws {
    let result = try run(retries: 5) { ScriptedTransport(clock: $0) { _, _ in errorReply(400) } }
    #expect(result.transport.requests.count == 1)
    #expect(result.records.first?["error"]?["type"]?.string == "bad_request")
  }

  @Test func theFirstByteTimeoutFiresAtItsTime() throws {
    let result = try run(retries: 0, patch: Patch(firstByteTimeout: 5)) { clock in
      ScriptedTransport(clock: clock) { _, _ in ScriptedTransport.Reply(end: nil) }
    }
    let error = try #require(result.records.first?["error"])
    #expect(error["type"]?.string == "timeout")
    #expect(error["message"]?.string == "first-byte timeout: no response within 5 s")
    #expect(result.clock.now - result.start >= 5 && result.clock.now - result.start < 5.5)
  }

  @Test func theIdleTimeoutFiresWhenTheStreamStalls() throws {
    let result = try run(retries: 0, patch: Patch(idleTimeout: 3)) { clock in
      ScriptedTransport(clock: clock) { _, _ in
        ScriptedTransport.Reply(chunks: [(1, sse("Hello "))], end: nil)
      }
    }
    let error = try #require(result.records.first?["error"])
    #expect(error["message"]?.string == "idle timeout: the stream stalled (no bytes for 3 s)")
    let elapsed = result.clock.now - result.start
    #expect(elapsed >= 4 && elapsed < 4.5, "1 s to the first byte, then 3 s of silence: \(elapsed)")
  }

  @Test func theTotalTimeoutBoundsAStreamThatNeverEnds() throws {
    // Two words a second, over the floor (llm.min_tokens_per_s, 1): the stream is healthy, so
    // the total timeout lets it go on, but never past ten times the total; what arrived is kept.
    let result = try run(retries: 0, patch: Patch(totalTimeout: 10)) { clock in
      ScriptedTransport(clock: clock) { _, _ in
        ScriptedTransport.Reply(chunks: (0..<1000).map { (Double($0) / 2, sse("word ")) }, end: nil)
      }
    }
    let record = try #require(result.records.first)
    #expect(record["finish_reason"]?.string == "timeout")
    #expect((record["content"]?.string ?? "").split(separator: " ").count >= 190)
    let elapsed = result.clock.now - result.start
    #expect(elapsed >= 100 && elapsed < 101 + 3 * 101, "\(elapsed)")
  }

  @Test func aFirstByteWaitsWhileTheServerStreamsTheRunsOtherRequests() throws {
    // One slot: the second request gets no byte until the first ends at 12 s, past its 5 s
    // first-byte limit; the server is busy with this run, so it waits, and both complete.
    let result = try run(2, patch: Patch(firstByteTimeout: 5, totalTimeout: 60)) { clock in
      ScriptedTransport(clock: clock) { number, _ in
        number == 1
          ? ScriptedTransport.Reply(
            chunks: (0..<24).map { (Double($0) / 2, sse("word ")) } + [(12, sseEnd)],
            endAfter: 12)
          : answer(at: 12.5)
      }
    }
    #expect(result.records.count == 2)
    #expect(result.records.allSatisfy { $0["status"]?.string == "completed" }, "\(result.records)")
    #expect(result.transport.requests.count == 2, "nothing asked twice")
  }

  @Test func aFirstByteThatNeverComesFromAnIdleServerStillTimesOut() throws {
    let result = try run(retries: 0, patch: Patch(firstByteTimeout: 5, totalTimeout: 60)) {
      clock in
      ScriptedTransport(clock: clock) { _, _ in ScriptedTransport.Reply(end: nil) }
    }
    let error = try #require(result.records.first?["error"])
    #expect(error["message"]?.string == "first-byte timeout: no response within 5 s")
  }

  @Test(arguments: [
    // The prefix's own last space or newline is kept; a word-to-word joint gets one space.
    (
      "The plan has three parts.\n\n", "The second part",
      "The plan has three parts.\n\nThe second part"
    ),
    ("By week", " twelve the pilot ends.", "By week twelve the pilot ends."),
    ("By week", "twelve the pilot ends.", "By week twelve the pilot ends."),
    ("It ends", ", then starts again.", "It ends, then starts again."),
    // What the continuation repeats of the end is dropped, whole words only.
    (
      "The pilot runs in two depots until the end of March",
      "until the end of March, and then in all of them.",
      "The pilot runs in two depots until the end of March, and then in all of them."
    ),
    // A continuation that starts the whole answer again replaces it.
    (
      "The dispatch board shows every job of the day on one screen",
      "The dispatch board shows every job of the day on one screen, sorted by time.",
      "The dispatch board shows every job of the day on one screen, sorted by time."
    ),
  ])
  func aContinuationJoinsWhereTheTextStopped(_ prefix: String, _ added: String, _ joined: String) {
    #expect(CallEngine.joined(prefix, added, prefilled: false) == joined)
  }

  @Test func aKeySplitAcrossTwoPiecesReachesOneEventWhole() throws {
    Secrets.register(
      variable: "SPLIT_TEST_API_KEY", environment: ["SPLIT_TEST_API_KEY": "sk-split-0123456789"])
    let result = try run(patch: Patch(events: true)) { clock in
      ScriptedTransport(clock: clock) { _, _ in
        ScriptedTransport.Reply(
          chunks: [
            (0, sse("The key is sk-spl")), (0.1, sse("it-0123")), (0.2, sse("456789 and more.")),
            (0.3, sseEnd),
          ], endAfter: 0.3)
      }
    }
    #expect(result.records.first?["content"]?.string == "The key is sk-split-0123456789 and more.")
    let chunks = result.events.filter { $0["event"]?.string == "chunk" }.compactMap {
      $0["text"]?.string
    }
    #expect(chunks.joined() == "The key is sk-split-0123456789 and more.")
    // The whole key is in one event (so the writer masks it); no event holds a part of it only.
    #expect(chunks.contains { $0.contains("sk-split-0123456789") }, "\(chunks)")
    #expect(!chunks.contains { $0.hasSuffix("sk-spl") || $0.hasSuffix("it-0123") }, "\(chunks)")
  }

  @Test func aStreamUnderTheFloorIsCutAtTheTotalTimeoutAndKept() throws {
    // One word every three seconds: under the floor; cut at 10 s, its words kept and paid for,
    // and continued (not asked again from the start) by the re-asks.
    var asked: [String] = []
    let result = try run(retries: 0, patch: Patch(totalTimeout: 10)) { clock in
      ScriptedTransport(clock: clock) { _, request in
        asked.append(request.body)
        return ScriptedTransport.Reply(
          chunks: (0..<100).map { (Double($0) * 3, sse("word\($0) ")) }, end: nil)
      }
    }
    let record = try #require(result.records.first)
    #expect(record["finish_reason"]?.string == "timeout")
    #expect((record["content"]?.string ?? "").hasPrefix("word0 word1 word2 word3"))
    #expect((record["usage"]?["output_tokens"]?.int ?? 0) > 0)
    #expect(asked.count == 3, "the ask and two continuations")
    #expect(asked.dropFirst().allSatisfy { $0.contains(#""role":"assistant""#) })
    #expect(!asked[0].contains(#""role":"assistant""#))
    let kinds = record["repairs"]?.array?.compactMap { $0["kind"]?.string }
    #expect(kinds == ["continue", "continue"])
  }

  @Test func aConnectTimeoutIsATimeoutAndIsRetried() throws {
    let result = try run(retries: 1) { clock in
      ScriptedTransport(clock: clock) { number, _ in
        number == 1
          ? ScriptedTransport.Reply(
            chunks: [], end: .connectTimeout("Connection timed out after 10001 ms")) : answer()
      }
    }
    #expect(result.status == .completed)
    #expect(result.transport.requests.count == 2)
  }

  @Test func aRateLimitHalvesTheConcurrencyForTheCoolDown() throws {
    // Eight records, -j 4: the first request is told to wait 20 s; while that holds, at most two
    // are in flight.
    var inFlight: [(Double, Int)] = []
    let result = try run(8, jobs: 4) { clock in
      let transport = ScriptedTransport(clock: clock) { number, _ in
        number == 1 ? errorReply(429, headers: ["retry-after": "20"]) : answer(at: 1, spacing: 1)
      }
      return transport
    }
    #expect(result.status == .completed)
    let starts = result.transport.requests.map { $0.at - result.start }
    // Before the 429: four start at once. After it: starts come two at a time until the cool-down ends.
    #expect(starts.prefix(4).allSatisfy { $0 == 0 })
    for moment in starts where moment > 0 && moment < 20 {
      let running = starts.filter { $0 <= moment && $0 + 4 > moment }.count
      inFlight.append((moment, running))
    }
    #expect(
      !inFlight.isEmpty && inFlight.allSatisfy { $0.1 <= 2 },
      "during the cool-down the limit is halved: \(inFlight)")
    #expect(result.transport.requests.count == 9)
  }

  @Test func interruptionCancelsWhatIsInFlightAndKeepsWhatCompleted() throws {
    var engineRef: CallEngine?
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "engine-\(UUID().uuidString).ndjson"
    ).path
    var lines = ""
    for index in 1...3 {
      lines +=
        #"{"doc":"t","id":"s\#(index)","status":"pending","llm":{"provider":"openai","model":"m"},"messages":[{"role":"user","content":"Write \#(index)."}]}"#
        + "\n"
    }
    try lines.write(toFile: path, atomically: true, encoding: .utf8)
    var options = CallOptions()
    options.inputs = [path]
    options.noCache = true
    options.baseURL = "http://stub.invalid/v1"
    options.environment = [:]
    let clock = FakeClock()
    let transport = ScriptedTransport(clock: clock) { number, _ in
      number == 1 ? answer() : ScriptedTransport.Reply(chunks: [(0.5, sse("partial "))], end: nil)
    }
    transport.onWait = { now in if now - 1000 > 2 { engineRef?.interrupt() } }
    var written: [JSON] = []
    let engine = try CallEngine(
      options: options, tool: "call-llm", clock: clock, http: transport,
      sink: { written.append($0) })
    engineRef = engine
    #expect(try engine.run() == .interrupted)
    let records = written.filter { !Event.isEvent($0) }
    #expect(
      records.map { $0["status"]?.string ?? "" }.sorted() == [
        "cancelled", "cancelled", "completed",
      ])
    #expect(
      records.filter { $0["status"]?.string == "cancelled" }.allSatisfy {
        $0["error"]?["type"]?.string == "cancelled"
      })
  }

  @Test func aBrokenTransportFailsEveryRecordInFlightAndAfter() throws {
    let result = try run(6, jobs: 2) { clock in
      let transport = ScriptedTransport(clock: clock) { _, _ in answer(at: 1, spacing: 1) }
      transport.failAt = clock.now + 2
      return transport
    }
    #expect(result.status == .someFailed)
    #expect(result.records.count == 6, "every record is written")
    #expect(
      result.records.allSatisfy {
        $0["status"]?.string == "failed" && $0["error"]?["type"]?.string == "internal"
      })
    #expect(
      result.records.first?["error"]?["message"]?.string == "libcurl: the multi handle failed")
  }

  @Test func offlineAnswersArePacedOnTheEnginesClock() throws {
    let result = try run(patch: Patch(provider: "offline", offlineDelay: 2, offlineTPS: 100)) {
      ScriptedTransport(clock: $0) { _, _ in answer() }
    }
    #expect(result.transport.requests.isEmpty, "offline never touches the HTTP transport")
    let record = try #require(result.records.first)
    #expect(record["provider"]?.string == "offline")
    let first = try #require(record["timing"]?["first_token_s"]?.double)
    #expect(first == 2)
    let words = record["usage"]?["output_tokens"]?.int ?? 0
    let elapsed = result.clock.now - result.start
    #expect(
      abs(elapsed - (2 + Double(words - 1) / 100)) < 0.05,
      "\(words) pieces at 100 a second after 2 s: \(elapsed)")
  }
}

struct RetryAfterTests {
  @Test func retryAfterIsReadInEachForm() {
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    #expect(RetryPolicy.retryAfter(milliseconds: "250", header: "9", now: now) == 0.25)
    #expect(RetryPolicy.retryAfter(milliseconds: nil, header: " 7 ", now: now) == 7)
    let date = now.addingTimeInterval(42)
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "GMT")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    #expect(
      RetryPolicy.retryAfter(milliseconds: nil, header: formatter.string(from: date), now: now)
        == 42)
    #expect(RetryPolicy.retryAfter(milliseconds: nil, header: "soon", now: now) == nil)
  }
}

struct SchedulerTests {
  final class Item {
    let name: String
    init(_ name: String) { self.name = name }
  }

  @Test func retriesGoFirstOnceDue() {
    let clock = FakeClock()
    let scheduler = Scheduler<Item>(jobs: 1, clock: clock)
    scheduler.add(Item("a"))
    scheduler.add(Item("b"))
    #expect(scheduler.next()?.name == "a")
    #expect(scheduler.next() == nil, "-j 1")
    scheduler.ended()
    scheduler.retry(Item("a2"), after: 3)
    #expect(scheduler.next()?.name == "b")
    scheduler.ended()
    #expect(scheduler.next() == nil)
    #expect(scheduler.nextWake == clock.now + 3)
    clock.now += 3
    #expect(scheduler.next()?.name == "a2")
  }

  @Test func aRateLimitHalvesUntilTheCoolDownEnds() {
    let clock = FakeClock()
    let scheduler = Scheduler<Item>(jobs: 8, clock: clock)
    scheduler.rateLimited(retryAfter: 12)
    #expect(scheduler.limit == 4 && scheduler.cooldownUntil == clock.now + 12)
    scheduler.rateLimited(retryAfter: nil)
    #expect(
      scheduler.limit == 2 && scheduler.cooldownUntil == clock.now + 10, "no Retry-After: 10 s")
    scheduler.rateLimited(retryAfter: 1)
    #expect(scheduler.limit == 1 && scheduler.cooldownUntil == clock.now + 5, "at least 5 s")
    for index in 0..<8 { scheduler.add(Item("\(index)")) }
    #expect(scheduler.next() != nil && scheduler.next() == nil)
    clock.now += 5
    scheduler.tick()
    #expect(scheduler.next() != nil, "the limit grows back after the cool-down")
    #expect(scheduler.next() == nil, "by one a pass of the loop, not all at once")
    scheduler.tick()
    #expect(scheduler.next() != nil)
  }
}

extension EngineTests {
  /// A server that answers with one JSON body says its usage only when the body is read: the
  /// budget's ledger counts what it cost all the same.
  @Test func aWholeBodyAnswerIsPaidForInTheLedger() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "whole-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try
      (#"{"doc":"t","id":"s1","title":"S1","status":"pending","llm":{"provider":"openai","model":"m","price":{"input":1000,"output":1000}},"messages":[{"role":"user","content":"Write."}]}"#
      + "\n").write(toFile: folder + "/in.ndjson", atomically: true, encoding: .utf8)
    var options = CallOptions()
    options.inputs = [folder + "/in.ndjson"]
    options.noCache = true
    options.baseURL = "http://stub.invalid/v1"
    options.environment = [:]
    options.budget = 100
    options.budgetFile = folder + "/budget.json"
    let body =
      #"{"choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":50}}"#
    let clock = FakeClock()
    let scripted = ScriptedTransport(clock: clock) { _, _ in
      ScriptedTransport.Reply(
        status: 200, headers: ["content-type": "application/json"], chunks: [(0, body)],
        endAfter: 0)
    }
    var written: [JSON] = []
    let engine = try CallEngine(
      options: options, tool: "call-llm", clock: clock, http: scripted, sink: { written.append($0) }
    )
    #expect(try engine.run() == .completed)
    #expect(written.first { !Event.isEvent($0) }?["cost"]?.double == 0.15)
    let ledger = try #require(JSON.readObject(folder + "/budget.json"))
    #expect(ledger["spent"]?.double == 0.15, "\(ledger.compactText)")
  }
}
