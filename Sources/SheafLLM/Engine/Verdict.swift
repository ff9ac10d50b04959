import Foundation
import SheafCore
import SheafValidate

/// Everything known about one attempt when it ended: what the transport said, the HTTP status and
/// headers, the error body, and what the stream held.
struct AttemptReport {
  /// How the transfer ended; `nil` when the engine stopped it itself (`abort`).
  var end: TransferEnd?
  /// Why the engine stopped it (a timeout).
  var abort: SheafError?
  /// The HTTP status (0 when none arrived).
  var status = 0
  /// A response header, by name.
  var header: (String) -> String? = { _ in nil }
  /// The body of a non-2xx response (its first 64 KB).
  var errorBody = ""
  /// An error the stream reported (an error event, a line over the limit, a web page).
  var streamError: SheafError?
  /// The provider's reason for stopping, if it gave one.
  var finishReason: String?
  /// Whether the answer stopped inside a `<think>` block, and how much thinking there was.
  var insideThink = false
  var thinkingCharacters = 0
  /// The answer, thinking removed.
  var content = ""
  /// Body bytes, events and answer pieces received.
  var bodyBytes = 0
  var eventCount = 0
  var pieceCount = 0
}

/// What an attempt comes to.
enum Verdict: Equatable {
  /// The answer is complete.
  case answer
  /// It failed; `retry` says whether another attempt may follow.
  case failed(SheafError, retry: Bool)
}

/// The engine's rules, as pure functions of what happened: which timeout fired, and what an
/// attempt's end means (every error-type decision is here).
enum Rules {
  /// The clocks of one attempt, and what is known about its stream and its server.
  struct Timing {
    var now: Double
    var attemptStart: Double
    var firstByte: Double?
    var lastByte: Double
    var total: Double
    var firstByteLimit: Double
    var idleLimit: Double
    /// The answer is still coming at the section's floor (`llm.min_tokens_per_s`): the total
    /// timeout does not cut it (up to `streamCap` times the total).
    var healthy = false
    /// The server is answering this run's other requests: the first byte may wait for a slot
    /// (up to the total timeout).
    var serverBusy = false
    /// A staged run's record: hints name make's variables.
    var staged = false

    static let streamCap = 10.0
  }

  /// The timeout that has fired for an attempt, if any: the whole attempt, the first byte, or a
  /// stall once bytes flow.
  ///
  /// A limit fires when it is reached, so the moment `nextTimeout` gives is the moment it fires.
  /// A stream still producing at the section's floor outlives the total timeout; a first byte
  /// waits while the server is busy with the run's other requests.
  static func timeout(_ t: Timing) -> SheafError? {
    let elapsed = t.now - t.attemptStart
    if elapsed >= t.total && !(t.healthy && elapsed < t.total * Timing.streamCap) {
      return SheafError(
        .timeout, "total timeout: the attempt took more than \(seconds(t.total)) s",
        retryable: true,
        hint: t.staged
          ? "raise TIMEOUT= (make doc … TIMEOUT=\(seconds(t.total * 4))) or llm.timeout_s in the plan"
          : "raise llm.timeout_s in the plan or pass --timeout")
    }
    if t.firstByte == nil && elapsed >= t.firstByteLimit
      && !(t.serverBusy && elapsed < max(t.total, t.firstByteLimit))
    {
      return SheafError(
        .timeout, "first-byte timeout: no response within \(seconds(t.firstByteLimit)) s",
        retryable: true,
        hint: t.staged
          ? "the server is slow to start: raise it with CALL_FLAGS=--first-byte-timeout=\(seconds(t.firstByteLimit * 2)), and keep J at or below the server's slots"
          : "the server is slow to start; raise --first-byte-timeout")
    }
    if t.firstByte != nil && t.now - t.lastByte >= t.idleLimit {
      return SheafError(
        .timeout, "idle timeout: the stream stalled (no bytes for \(seconds(t.idleLimit)) s)",
        retryable: true,
        hint: t.staged
          ? "the server stopped sending; raise CALL_FLAGS=--idle-timeout=… if it is just slow"
          : "the server stopped sending; raise --idle-timeout if it is just slow"
      )
    }
    return nil
  }

  /// The moment the next timeout of an attempt would fire (or it must be looked at again: a
  /// healthy stream past its total, a first byte waiting on a busy server, every second).
  static func nextTimeout(_ t: Timing) -> Double {
    let idle = t.firstByte == nil ? t.attemptStart + t.firstByteLimit : t.lastByte + t.idleLimit
    var next = min(t.attemptStart + t.total, idle)
    if next <= t.now && (t.healthy || t.serverBusy) { next = t.now + 1 }
    return max(next, t.now)
  }

  /// What an attempt's end means.
  ///
  /// `attempt` of `maxAttempts`; the hint of an error that may no
  /// longer be retried says what to do, not "it is retried".
  static func verdict(
    _ report: AttemptReport, provider: any Provider, baseURL: String, model: String, attempt: Int,
    maxAttempts: Int
  ) -> Verdict {
    guard let error = error(report, provider: provider, baseURL: baseURL, model: model) else {
      return .answer
    }
    let retry = error.retryable && attempt < maxAttempts
    return .failed(retry ? error : lastAttempt(error, attempts: attempt), retry: retry)
  }

  /// The error an attempt ended with, or `nil` for a complete answer.
  static func error(_ report: AttemptReport, provider: any Provider, baseURL: String, model: String)
    -> SheafError?
  {
    if let abort = report.abort { return abort }
    if let end = report.end {
      switch end {
      case .complete, .stopped:
        if let streamError = report.streamError { return streamError }
      case .unreachable(let detail):
        return provider.unreachable(detail, baseURL: baseURL)
      case .connectTimeout(let detail):
        return SheafError(
          .timeout, "connect timeout: \(detail)", retryable: true,
          hint: "is the server at \(baseURL) reachable? (--connect-timeout)")
      case .broken(let detail):
        return SheafError(
          .network, "the connection broke: \(detail)", retryable: true,
          hint: "a network or server fault; it is retried")
      case .badHeaders(let detail):
        return SheafError(
          .provider, "the server's response headers could not be read (too large?): \(detail)",
          hint: "is the base URL right? a proxy or a login page may be answering instead of the API"
        )
      case .other(let detail, let code):
        return SheafError(.network, "\(detail) (transport error \(code))", retryable: true)
      }
    }
    if report.status >= 300 {
      let retryAfter = RetryPolicy.retryAfter(
        milliseconds: report.header("retry-after-ms"), header: report.header("retry-after"))
      return provider.error(
        status: report.status, body: report.errorBody, retryAfter: retryAfter, baseURL: baseURL,
        model: model)
    }
    if let streamError = report.streamError { return streamError }
    if report.insideThink {
      return SheafError(
        .provider,
        "the answer stopped inside a <think> block (\(report.thinkingCharacters) characters of thinking, no answer after it)",
        retryable: true, hint: "raise max_tokens: the model ran out while thinking")
    }
    if report.finishReason == nil {
      let type = report.header("content-type")?.lowercased() ?? "a body without a type"
      if report.bodyBytes == 0 {
        return SheafError(
          .provider, "the server answered with an empty body",
          hint:
            "is the base URL right? it should be the API's root (for example http://localhost:8000/v1)"
        )
      }
      if report.eventCount == 0 {
        if type.contains("event-stream") || type.contains("ndjson") {
          return SheafError(
            .provider, "the event stream held no events (\(report.bodyBytes) bytes, no data lines)",
            hint:
              "is the base URL an LLM server of this provider's kind? check --provider and --base-url"
          )
        }
        return notAStream(type, baseURL: baseURL)
      }
      if report.pieceCount == 0 {
        return SheafError(
          .provider, "the event stream held no answer (no text, no finish reason)",
          hint: "is the base URL an LLM server of this provider's kind? check --provider")
      }
      return SheafError(
        .network, "the stream ended before the answer was finished", retryable: true,
        hint: "the connection dropped mid-answer; it is retried")
    }
    if report.content.trimmed.isEmpty {
      // Cut at the token limit before any answer (thinking used it all): an answer to judge, so
      // that a re-ask asks for more room; it is never taken as complete.
      if let reason = report.finishReason, FormatValidator.truncatedReasons.contains(reason) {
        return nil
      }
      return SheafError(
        .provider, "the model returned an empty answer", retryable: true,
        hint: "check the prompt and max_tokens")
    }
    return nil
  }

  /// The error for a body that is not the stream that was asked for (a web page).
  static func notAStream(_ type: String, baseURL: String) -> SheafError {
    SheafError(
      .provider,
      "not an event stream: got \(type.split(separator: ";").first.map(String.init) ?? type) from \(baseURL)",
      hint:
        "is the base URL right? it should be the API's root (for example http://localhost:8000/v1), not a web page"
    )
  }

  /// A retryable error after the last attempt: a hint that promised a retry says what to do now.
  static func lastAttempt(_ error: SheafError, attempts: Int) -> SheafError {
    guard error.retryable, attempts > 0, let hint = error.hint, hint.contains("it is retried")
    else { return error }
    var final = error
    let tried = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
    final.hint = hint.replacingOccurrences(
      of: "it is retried",
      with: "gave up after \(tried); run the same command again later (completed answers are kept)")
    return final
  }

  private static func seconds(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(value)
  }
}
