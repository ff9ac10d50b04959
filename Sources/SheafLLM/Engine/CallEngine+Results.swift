import Foundation
import SheafCore
import SheafValidate

extension CallEngine {
  // MARK: - Results

  /// A chunk of answer text, for the events.
  ///
  /// For a JSON section the event also carries `data`, the best-effort value of the answer so
  /// far (its cut tail repaired), at most ten times a second, so a viewer can show items as they
  /// arrive.
  func chunk(_ job: Job, _ piece: String) {
    guard options.events || options.eventsFile != nil else { return }
    // The end of the text that could begin a key waits for the next piece: a key split across
    // two pieces is masked whole (the writer masks every line).
    var text = job.heldChunk + piece
    let held = Secrets.pendingKeyPrefix(text)
    job.heldChunk = ""
    if held > 0 {
      var bytes = Array(text.utf8)
      // Hold whole characters only.
      var cut = bytes.count - held
      while cut > 0, cut < bytes.count, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
      job.heldChunk = String(decoding: bytes[cut...], as: UTF8.self)
      bytes.removeSubrange(cut...)
      text = String(decoding: bytes, as: UTF8.self)
    }
    guard !text.isEmpty else { return }
    guard job.call.brief.wantsJSON else {
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

  /// What a stream held back at its end (a possible start of a key that was not one), as a last
  /// chunk.
  func flushChunk(_ job: Job) {
    guard !job.heldChunk.isEmpty else { return }
    let text = job.heldChunk
    job.heldChunk = ""
    try? output.event(.chunk, doc: job.record.doc, ["id": JSON(job.id), "text": JSON(text)])
  }

  /// Counts an answered attempt's tokens into its section's usage (every request is paid for,
  /// the rejected answers of re-asks too).
  func addUsage(_ job: Job, _ attempt: Attempt) {
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

  func totalUsage(_ job: Job) -> JSON {
    let usage = JSON.object([
      "input_tokens": JSON(job.usage.input), "output_tokens": JSON(job.usage.output),
    ])
    if job.usage.cached > 0 { usage["cached_input_tokens"] = JSON(job.usage.cached) }
    if job.usage.written > 0 { usage["cache_write_tokens"] = JSON(job.usage.written) }
    if job.usage.estimated { usage["estimated"] = JSON(true) }
    return usage
  }

  /// What `usage` cost at the record's price, if one is known.
  func cost(_ job: Job, usage: JSON?) -> Double? {
    // Estimated tokens (the offline provider, a server that reports none) make no cost.
    guard let price = job.resolved.price, let usage, usage["estimated"]?.bool != true else {
      return nil
    }
    return price.cost(
      input: usage["input_tokens"]?.int ?? 0, output: usage["output_tokens"]?.int ?? 0,
      cached: usage["cached_input_tokens"]?.int ?? 0)
  }

  /// What one attempt cost (for the budget).
  func attemptCost(_ job: Job, _ attempt: Attempt) -> Double {
    guard let price = job.resolved.price, attempt.inputTokens != nil || attempt.outputTokens != nil
    else { return 0 }
    return price.cost(
      input: attempt.inputTokens ?? 0, output: attempt.outputTokens ?? 0,
      cached: attempt.cachedRead)
  }

  /// A continued answer: what came before and what the model added, trimmed.
  static func joined(_ prefix: String, _ added: String, prefilled: Bool) -> String {
    guard !prefix.isEmpty else { return added.trimmed }
    return joinedRaw(prefix, added, prefilled: prefilled).trimmed
  }

  /// A continued answer as it arrived.
  ///
  /// A model that continues its own message (`prefilled`) adds exactly what follows. Otherwise
  /// the joint keeps its whitespace and line breaks (the prefix's own last space or newline, the
  /// new part's first), what the new part repeats of the end of the old is dropped, a new part
  /// that starts the whole answer again replaces it, and a space is put between two words only.
  static func joinedRaw(_ prefix: String, _ added: String, prefilled: Bool) -> String {
    if prefilled { return prefix + added }
    let start = prefix.trimmed.prefix(80)
    if start.count >= 20, added.trimmed.hasPrefix(start) { return added }
    let rest = Self.withoutOverlap(prefix, added)
    guard let first = rest.first, let last = prefix.last else { return prefix + rest }
    if first.isWhitespace || last.isWhitespace { return prefix + rest }
    let needsSpace = !".,;:!?)]}".contains(first)
    return prefix + (needsSpace ? " " : "") + rest
  }

  /// `added` without what it repeats of the end of `prefix` (at least 12 characters, compared
  /// with runs of whitespace as one space).
  static func withoutOverlap(_ prefix: String, _ added: String) -> String {
    let head = Array(added.drop(while: \.isWhitespace))
    let tail = Array(prefix.suffix(400))
    func squeezed(_ characters: ArraySlice<Character>) -> String {
      String(characters).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
    for length in stride(from: min(head.count, tail.count), through: 12, by: -1) {
      let end = squeezed(tail[(tail.count - length)...])
      guard !end.isEmpty, squeezed(head[..<length]) == end else { continue }
      // Only whole words: the repeat ends where a word ends.
      if length < head.count, !head[length].isWhitespace, !".,;:!?)]}".contains(head[length]) {
        continue
      }
      return String(head[length...])
    }
    return added
  }
}
