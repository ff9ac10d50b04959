import Foundation
import SheafCore

/// The answers a provider's batch gave, played back to the engine as if they had come over the
/// wire: one whole JSON body (or the error's), at once.
final class BatchReplayTransport: Transport {
  private final class Playing: Transfer {
    weak var sink: TransferSink?
    let status: Int
    let body: String
    init(sink: TransferSink, status: Int, body: String) {
      self.sink = sink
      self.status = status
      self.body = body
    }
    func header(_ name: String) -> String? {
      name.lowercased() == "content-type" ? "application/json" : nil
    }
  }

  private var playing: [Playing] = []
  /// What the next `start` plays.
  var next: BatchResult?

  func start(_ request: HTTPRequest, sink: TransferSink) throws -> Transfer {
    guard let result = next else { throw TransportFailure("no batch answer to play") }
    next = nil
    let transfer = Playing(sink: sink, status: result.status, body: result.body)
    playing.append(transfer)
    return transfer
  }

  func stop(_ transfer: Transfer) {
    playing.removeAll { $0 === transfer }
  }

  func perform() throws -> [(Transfer, TransferEnd)] {
    let ended = playing
    playing = []
    return ended.map { transfer in
      if let sink = transfer.sink {
        sink.activity()
        var body = transfer.body
        let kept = body.withUTF8 { sink.body(UnsafeRawBufferPointer($0)) }
        return (transfer, kept ? .complete : .stopped)
      }
      return (transfer, .stopped)
    }
  }

  var nextDue: Double? { playing.isEmpty ? nil : 0 }

  func wait(fds: [Int32], timeout: Double) throws {}
}

extension CallEngine {
  // MARK: - The provider's batch API

  /// Whether a job's requests go through the batch folder (`--batch`): network providers with a
  /// batch API.
  func batched(_ job: Job) -> Bool {
    batches != nil && BatchStore.providers.contains(job.resolved.call.settings.provider)
  }

  /// What a request in batch mode does.
  enum BatchStart {
    /// Plays the answer a wave brought.
    case play(Transport)
    /// Queued for the next wave.
    case queued
    /// Not queued: the budget would be passed.
    case refused(SheafError)
  }

  /// A request in batch mode: the batch's answer played back when it has one, else queued for
  /// the next wave (its estimate reserved under the budget until a pass reads its answer) and the
  /// record written `skipped` (`batch_pending`), so that the next pass asks it again.
  ///
  /// An error the batch answered is played once to each ask (a retryable one is retried: queued
  /// for the next wave; a final one fails the section); errors are counted across waves, as
  /// attempts.
  func batchStart(_ job: Job, _ request: HTTPRequest) throws -> BatchStart {
    guard let batches else { return .queued }
    let resolved = job.resolved
    guard
      let item = BatchStore.item(
        request, provider: resolved.call.settings.provider, baseURL: resolved.baseURL,
        keyVariable: options.apiKeyVariable ?? resolved.provider.keyVariable,
        section: job.id, doc: job.record.doc)
    else {
      throw ToolFailure.usage("section '\(job.id)': its request body is not a JSON object")
    }
    job.batchKey = item.key
    if let result = batches.result(item.key),
      result.status < 300 || job.playedErrors.insert(item.key).inserted
    {
      if result.status >= 300 {
        // Each error the batch gave counts as an attempt of the request.
        job.tries = max(job.tries, result.errors - 1)
      }
      job.batchID = result.batch
      job.batchPaid = result.paid
      replay.next = result
      return .play(replay)
    }
    if let budget, let refusal = reserve(job, in: budget, id: "batch:" + item.key, kept: true) {
      return .refused(refusal)
    }
    try batches.enqueue(item)
    return .queued
  }

  /// The record of a request queued for the next wave.
  func batchPending(_ job: Job) -> SheafError {
    SheafError(
      .batchPending,
      "section '\(job.id)' is asked through \(job.resolved.call.settings.provider)'s batch API: its answer comes in the next wave",
      retryable: true,
      hint: "make docs BATCH=1 sends the next wave and reads it; run it again after a stop")
  }
}
