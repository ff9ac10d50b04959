import Foundation
import SheafCore
import SheafValidate

extension CallEngine {
  // MARK: - Re-asks

  /// A staged run's `progress` event for a section (`--run`); summaries and revisions are not
  /// sections of the document and have none.
  func progress(_ job: Job, phase: String) {
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
  func judge(_ job: Job, answer: CachedAnswer, attempt: Attempt?) throws {
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
    var answer = answer
    // A JSON answer cut by time is never continued: kept, a later run would only replay it.
    let replayable = !(answer.finishReason == "timeout" && job.call.brief.wantsJSON)
    if attempt != nil || job.attempts > 0 {
      answer.asked = asked(job, attempt: attempt)
      if let cache, replayable {
        // The final answer goes under the record's own request: a later run replays it (and a
        // rejected one is the start of that run's re-asks).
        do { try cache.put(job.resolved.requestKey, answer) } catch let failure as ToolFailure {
          Diagnostics.say(tool, failure.message)
        }
      }
    }
    try complete(job, answer: answer, attempt: attempt)
  }

  /// The `max_tokens` the call asks for, as an `llm` object, so a truncation message names it.
  func maxTokensSetting(_ call: LLMCall) -> JSON? {
    guard let value = call.settings.parameter("max_tokens") else { return nil }
    return .object(["max_tokens": value])
  }

  /// Queues a re-ask when one is left; `false` when the answer must stand.
  func reask(
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
      let wantsJSON = job.call.brief.wantsJSON
      // A JSON section may grow to four times its room unless the plan says how far.
      let limit = job.resolved.maxTokensLimit ?? (wantsJSON ? current * 4 : nil)
      let byTime = answer.finishReason == "timeout"
      if !byTime, let limit, current < limit {
        // Asked again with more room, the prompt as it was (a JSON section under its schema).
        next.settings = settings.setting(key, JSON(min(limit, max(current * 2, 1))))
        next.messages = job.askMessages
        job.prefix = ""
        job.prefilled = false
        job.raw = nil
        kind = "more_tokens"
      } else if wantsJSON {
        return false  // a JSON answer is never continued without its schema
      } else if !answer.content.isEmpty {
        // Continued from where it stopped: the partial answer as the assistant's turn (a model
        // that thinks first cannot continue its own message: it is asked to continue).
        let prefill =
          job.resolved.provider.continuesAssistant && settings.parameter("thinking_budget") == nil
        // A prefill may not end in whitespace (Anthropic refuses it): the model adds its own.
        let raw = job.raw ?? answer.content
        let sofar =
          prefill ? String(raw.reversed().drop(while: \.isWhitespace).reversed()) : raw
        next.messages = job.askMessages + [Message(role: "assistant", content: sofar)]
        if !prefill {
          next.messages.append(
            Message(
              role: "user",
              content:
                "Your answer was cut off. Continue exactly where it stopped, mid-sentence if it stopped mid-sentence: do not repeat anything, do not start again, and add no remark."
            ))
        }
        job.prefix = sofar
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
      job.raw = nil
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

  func timingJSON(_ job: Job, attempt: Attempt?) -> JSON {
    let timing = JSON.object()
    timing["started_at"] = JSON(
      Event.timestamp(attempt == nil && job.attempts == 0 ? Date() : job.startedAt))
    timing["first_token_s"] =
      attempt.flatMap { a in a.firstToken.map { JSON(rounded($0 - a.start)) } } ?? .null
    timing["seconds"] = JSON(job.attempts == 0 ? 0 : rounded(clock.now - job.firstStart))
    return timing
  }

  /// A server that counts far fewer input tokens than the prompt holds has lost most of it (a
  /// broken chat template): the warning, said once per process too.
  func promptLost(_ job: Job, usage: JSON?) -> Violation? {
    guard job.resolved.provider.usesNetwork, usage?["estimated"]?.bool != true,
      let counted = usage?["input_tokens"]?.int
    else { return nil }
    let estimate = job.resolved.call.messages.map {
      OfflineProvider.estimateTokens($0.content)
    }.reduce(0, +)
    // Every request of the section is in the count; the first alone holds the prompt.
    guard estimate >= 100, counted * 5 < estimate else { return nil }
    let message =
      "the server counted \(counted) input tokens for a prompt of about \(estimate): it may be dropping the messages (a chat template that does not fit the model; llama.cpp: --jinja, or --no-jinja --chat-template NAME)"
    if !warnedPromptLost {
      warnedPromptLost = true
      Diagnostics.say(tool, "warning: \(job.id): \(message)")
    }
    return Violation(rule: "input_tokens", message: message)
  }

  /// How an answer was asked for, kept with it in the cache.
  func asked(_ job: Job, attempt: Attempt?) -> JSON {
    let timing = timingJSON(job, attempt: attempt)
    let asked = JSON.object()
    asked["seconds"] = timing["seconds"]?.copy()
    asked["first_token_s"] = timing["first_token_s"]?.copy()
    asked["attempts"] = JSON(job.attempts)
    if !job.repairs.isEmpty { asked["repairs"] = .array(job.repairs.map { $0.copy() }) }
    return asked
  }

  func complete(_ job: Job, answer: CachedAnswer, attempt: Attempt?) throws {
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
    if fromCache, let asked = answer.asked {
      // Replayed: how it was asked for when it was, not the nothing of the replay.
      record["timing"]?["seconds"] = asked["seconds"]?.copy()
      record["timing"]?["first_token_s"] = asked["first_token_s"]?.copy()
      record["attempts"] = asked["attempts"]?.copy()
      record["repairs"] = asked["repairs"]?.copy()
    }
    record["cache"] = JSON(fromCache ? "hit" : "miss")
    if let warning = promptLost(job, usage: record["usage"]) {
      let warnings = record["warnings"]?.array ?? []
      record["warnings"] = .array(warnings + [warning.json])
    }
    record["request_key"] = JSON(job.resolved.requestKey)
    record["finish_reason"] = answer.finishReason.map { JSON($0) }
    record["source"] = JSON("llm")
    if let batch = job.batchID { record["batch"] = JSON(batch) }
    record["error"] = nil
    try output.event(
      .sectionComplete, doc: job.record.doc,
      [
        "id": JSON(job.id), "title": JSON(job.record.title ?? job.id),
        "content": JSON(answer.content), "seconds": record["timing"]?["seconds"] ?? JSON(0),
      ])
    try output.record(job.index, record)
  }

  func fail(
    _ job: Job, _ error: SheafError, attempt: Attempt? = nil, status: SectionStatus? = nil
  ) throws {
    job.releaseSlot()
    if var last = job.lastAnswer, let cache, error.type != .batchPending {
      // An answer that was being re-asked was paid for: the next run starts from it (a re-ask
      // queued for a batch wave is not: the next pass plays the whole chain back, and counts it).
      last.asked = asked(job, attempt: attempt)
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

  func failRecord(
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

  func logAttempt(_ attempt: Attempt, seconds: Double, error: SheafError?) {
    let job = attempt.job
    let status = attempt.transfer?.status ?? 0
    let httpStatus = status > 0 && job.resolved.provider.usesNetwork ? JSON(status) : .null
    // Every request is in the events, failed ones too: the run's own record of what was asked.
    try? output.event(
      .attempt, doc: job.record.doc,
      [
        "id": JSON(job.id), "attempt": JSON(job.attempts),
        "provider": JSON(job.resolved.call.settings.provider),
        "model": JSON(job.resolved.call.settings.model), "http_status": httpStatus,
        "seconds": JSON(rounded(seconds)),
        "first_token_s": attempt.firstToken.map { JSON(rounded($0 - attempt.start)) } ?? .null,
        "error_type": error.map { JSON($0.type.rawValue) } ?? .null,
        "error": error.map { JSON($0.message) } ?? .null,
      ])
    guard output.logs else { return }
    let line = JSON.object()
    line["ts"] = JSON(Event.timestamp())
    line["id"] = JSON(job.id)
    line["provider"] = JSON(job.resolved.call.settings.provider)
    line["model"] = JSON(job.resolved.call.settings.model)
    line["attempt"] = JSON(job.attempts)
    line["http_status"] = httpStatus
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

}

private func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
