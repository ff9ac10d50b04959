import Foundation
import SheafCore
import SheafValidate

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
  /// The last answer as it arrived (untrimmed): what a continuation joins to.
  var raw: String?
  /// Whether the continuation is the model continuing its own message (Anthropic's prefill).
  var prefilled = false
  /// The messages of the current ask, before any continuation turns.
  var askMessages: [Message]
  /// The last answer, while it is being re-asked: cached if the re-ask never completes.
  var lastAnswer: CachedAnswer?
  /// A JSON section's answer so far, and when its partial value was last sent.
  var streamed = ""
  /// The end of the streamed text held back from the chunk events (it may begin a key).
  var heldChunk = ""
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
  /// When its last request was sent: wall-clock seconds with a run's shared limit, else the
  /// engine's clock (what the provider's rate-limit headers are read against).
  var sentAt = 0.0
  /// The provider's batch its last answer came from (`--batch`), if any.
  var batchID: String?
  /// The batch key of its last request (`--batch`), and the errors a batch gave that it played.
  var batchKey: String?
  /// Whether the answer being played was already counted under the budget by an earlier pass.
  var batchPaid = false
  var playedErrors = Set<String>()

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

  /// About how many tokens the current ask's messages take.
  var promptTokens: Int {
    call.messages.map { OfflineProvider.estimateTokens($0.content) }.reduce(0, +)
  }
}
