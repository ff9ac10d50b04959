import Foundation
import SheafCore

/// One request waiting for the provider's batch API: what the wave step sends, never the key.
public struct BatchItem {
  /// The request's batch key (its `custom_id`): a SHA-256 of provider, base URL and body.
  public var key: String
  /// `openai` or `anthropic`.
  public var provider: String
  /// The provider's base URL, as the request would have been sent to.
  public var baseURL: String
  /// The environment variable the key comes from (its name only).
  public var keyVariable: String?
  /// The request body, without streaming.
  public var body: JSON
  /// The section and document it is for (for messages).
  public var section: String
  public var doc: String?

  var json: JSON {
    let out = JSON.object()
    out["key"] = JSON(key)
    out["provider"] = JSON(provider)
    out["base_url"] = JSON(baseURL)
    if let keyVariable { out["key_env"] = JSON(keyVariable) }
    out["id"] = JSON(section)
    if let doc { out["doc"] = JSON(doc) }
    out["body"] = body
    out["queued_at"] = JSON(Event.timestamp())
    return out
  }

  init(
    key: String, provider: String, baseURL: String, keyVariable: String?, body: JSON,
    section: String, doc: String?
  ) {
    self.key = key
    self.provider = provider
    self.baseURL = baseURL
    self.keyVariable = keyVariable
    self.body = body
    self.section = section
    self.doc = doc
  }

  init?(_ json: JSON) {
    guard let key = json["key"]?.string, let provider = json["provider"]?.string,
      let base = json["base_url"]?.string, let body = json["body"], body.kind == .object
    else { return nil }
    self.init(
      key: key, provider: provider, baseURL: base, keyVariable: json["key_env"]?.string,
      body: body, section: json["id"]?.string ?? "?", doc: json["doc"]?.string)
  }
}

/// What the provider's batch answered for one request: its HTTP status and body.
public struct BatchResult: Sendable {
  /// The HTTP status the request got inside the batch (200, or the error's).
  public var status: Int
  /// The response body (a whole, non-streamed answer, or the error body).
  public var body: String
  /// The provider's batch id.
  public var batch: String
  /// How many of this request's batch answers were errors in this make docs, this one included.
  public var errors: Int
  /// Whether a pass already counted what it cost under the budget (a pass that plays a chain
  /// of re-asks again plays this answer again: it was paid for once).
  public var paid: Bool
}

/// The provider batch folder of a set (`RUNS/<plan>.set/<shard>/batch/`), one file per request:
/// the requests waiting for the next wave (`queue/`), those in a batch at the provider (`sent/`,
/// naming its batch file), the batches (`batches/`, with the provider's ids, kept until every
/// answer is read: a killed run polls them again), and what each request got (`results/`).
///
/// Section pipelines add to the queue (each its own file, written whole) while no wave is under
/// way; only the wave step (`call-llm --batch-run`) sends, polls and writes results.
public struct BatchStore: Sendable {
  /// The folder.
  public let directory: String

  /// The batch folder at `directory`.
  public init(directory: String) {
    self.directory = directory
  }

  var queueFolder: String { directory + "/queue" }
  var sentFolder: String { directory + "/sent" }
  var batchesFolder: String { directory + "/batches" }
  var resultsFolder: String { directory + "/results" }
  var wavesFile: String { directory + "/waves.json" }

  /// The providers whose batch API sheaf speaks.
  public static let providers = ProviderNames.withBatchAPI

  /// The body of a request as a batch sends it (no streaming), and its key.
  public static func item(
    _ request: HTTPRequest, provider: String, baseURL: String, keyVariable: String?,
    section: String, doc: String?
  ) -> BatchItem? {
    guard let body = try? JSON.parse(request.body), body.kind == .object else { return nil }
    body["stream"] = nil
    body["stream_options"] = nil
    var hash = SHA256()
    hash.update("\(provider)\n\(baseURL)\n\(body.compactText)")
    return BatchItem(
      key: hash.hexDigest(), provider: provider, baseURL: baseURL, keyVariable: keyVariable,
      body: body, section: section, doc: doc)
  }

  // MARK: - Results

  /// What the batch answered for `key`, if it did.
  public func result(_ key: String) -> BatchResult? {
    guard let json = JSON.readObject("\(resultsFolder)/\(key).json"),
      let status = json["status"]?.int, let body = json["body"]?.string
    else { return nil }
    return BatchResult(
      status: status, body: body, batch: json["batch"]?.string ?? "",
      errors: json["errors"]?.int ?? 0, paid: json["paid"]?.bool ?? false)
  }

  /// Notes that what the answer for `key` cost was counted under the budget.
  public func markPaid(_ key: String) {
    let path = "\(resultsFolder)/\(key).json"
    guard let json = JSON.readObject(path), json["paid"]?.bool != true else { return }
    json["paid"] = JSON(true)
    try? AtomicFile.write(json.compactText + "\n", to: path, durable: false)
  }

  /// Forgets the errors the batches answered (a new make docs asks those requests again, with
  /// all its retries); the answers stay.
  public func clearErrors() {
    for name in names(resultsFolder) where name.hasSuffix(".json") {
      let path = "\(resultsFolder)/\(name)"
      if let status = JSON.readObject(path)?["status"]?.int, status < 300 { continue }
      unlink(path)
    }
  }

  /// Stores what the batch answered for `key` (an error counts one more against the request).
  func storeResult(_ key: String, status: Int, body: String, batch: String) throws {
    try FileManager.default.createDirectory(
      atPath: resultsFolder, withIntermediateDirectories: true)
    let before = result(key)?.errors ?? 0
    let out = JSON.object()
    out["key"] = JSON(key)
    out["status"] = JSON(status)
    out["body"] = JSON(body)
    out["batch"] = JSON(batch)
    out["errors"] = JSON(before + (status >= 300 ? 1 : 0))
    try AtomicFile.write(out.compactText + "\n", to: "\(resultsFolder)/\(key).json")
    unlink("\(sentFolder)/\(key)")
  }

  // MARK: - The queue

  /// Queues a request for the next wave; `false` when it is already at the provider (in a batch
  /// not yet read), so it is not sent twice.
  /// - Throws: `ToolFailure` when the folder cannot be written.
  @discardableResult
  public func enqueue(_ item: BatchItem) throws -> Bool {
    // `sent/` says what is at the provider (the wave step makes it agree with the open batches
    // before any pass: `syncSent`).
    if FileManager.default.fileExists(atPath: "\(sentFolder)/\(item.key)") { return false }
    do {
      try FileManager.default.createDirectory(
        atPath: queueFolder, withIntermediateDirectories: true)
      try AtomicFile.write(item.json.compactText + "\n", to: "\(queueFolder)/\(item.key).json")
    } catch let failure as ToolFailure {
      throw failure
    } catch {
      throw ToolFailure.usage("\(queueFolder): cannot queue a batch request: \(error)")
    }
    return true
  }

  /// The requests waiting for the next wave, oldest name first.
  public func queued() -> [BatchItem] {
    names(queueFolder).filter { $0.hasSuffix(".json") }.compactMap {
      JSON.readObject("\(queueFolder)/\($0)").flatMap(BatchItem.init)
    }
  }

  /// Empties the queue (what an earlier pass queued: the next pass queues what is still needed,
  /// with the settings it has now).
  public func dropQueue() {
    for name in names(queueFolder) { unlink("\(queueFolder)/\(name)") }
  }

  /// Whether any request waits for the next wave.
  public var hasQueued: Bool { names(queueFolder).contains { $0.hasSuffix(".json") } }

  // MARK: - Batches

  /// The batches sent and not yet read, by file name.
  public func openBatches() -> [(name: String, batch: JSON)] {
    names(batchesFolder).filter { $0.hasSuffix(".json") }.compactMap { name in
      guard let json = JSON.readObject("\(batchesFolder)/\(name)"),
        json["read"]?.bool != true
      else { return nil }
      return (name, json)
    }
  }

  /// Keeps a batch the provider accepted, then moves its requests from the queue to `sent/`:
  /// killed at any point after, the batch is polled again and nothing is sent twice.
  func keep(_ batch: JSON, name: String, keys: [String]) throws {
    try FileManager.default.createDirectory(
      atPath: batchesFolder, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(atPath: sentFolder, withIntermediateDirectories: true)
    try AtomicFile.write(batch.compactText + "\n", to: "\(batchesFolder)/\(name)")
    unlink("\(batchesFolder)/\(name).pending")
    for key in keys {
      try AtomicFile.write(name + "\n", to: "\(sentFolder)/\(key)", durable: false)
      unlink("\(queueFolder)/\(key).json")
    }
  }

  /// Writes what will find a batch again, just before the provider is asked to create it.
  func journal(_ batch: JSON, name: String) throws {
    try FileManager.default.createDirectory(
      atPath: batchesFolder, withIntermediateDirectories: true)
    try AtomicFile.write(batch.compactText + "\n", to: "\(batchesFolder)/\(name).pending")
  }

  /// The batches a killed run was creating: (name, what its journal says).
  func pending() -> [(name: String, batch: JSON)] {
    names(batchesFolder).filter { $0.hasSuffix(".json.pending") }.compactMap { file in
      JSON.readObject("\(batchesFolder)/\(file)").map { (String(file.dropLast(8)), $0) }
    }
  }

  /// Forgets a journal whose batch the provider did not create.
  func dropJournal(_ name: String) {
    unlink("\(batchesFolder)/\(name).pending")
  }

  /// Makes `sent/` name exactly the requests of the open batches.
  ///
  /// A run killed between keeping a batch and marking its requests, or between reading a batch
  /// and unmarking them, left it behind. Done once a wave, so that queueing a request is one
  /// look at `sent/`.
  func syncSent() throws {
    var open: [String: String] = [:]
    for (name, batch) in openBatches() {
      for key in batch["keys"]?.array?.compactMap(\.string) ?? [] { open[key] = name }
    }
    for key in names(sentFolder) where open[key] == nil { unlink("\(sentFolder)/\(key)") }
    guard !open.isEmpty else { return }
    try FileManager.default.createDirectory(atPath: sentFolder, withIntermediateDirectories: true)
    for (key, name) in open where !FileManager.default.fileExists(atPath: "\(sentFolder)/\(key)") {
      try AtomicFile.write(name + "\n", to: "\(sentFolder)/\(key)", durable: false)
    }
  }

  /// Takes requests out of `sent/`: the batch they were in is read or cancelled, and a request
  /// it did not answer is queued again by the next pass.
  func release(_ keys: [String]) {
    for key in keys { unlink("\(sentFolder)/\(key)") }
  }

  /// Rewrites a kept batch (its state, counts, or that it was read).
  func update(_ batch: JSON, name: String) throws {
    try AtomicFile.write(batch.compactText + "\n", to: "\(batchesFolder)/\(name)")
  }

  /// The waves sent so far, and the batches and requests in them.
  public func totals() -> (waves: Int, batches: Int, requests: Int) {
    let json = JSON.readObject(wavesFile)
    return (json?["waves"]?.int ?? 0, json?["batches"]?.int ?? 0, json?["requests"]?.int ?? 0)
  }

  func addWave(batches: Int, requests: Int) throws {
    let now = totals()
    let out = JSON.object([
      "waves": JSON(now.waves + 1), "batches": JSON(now.batches + batches),
      "requests": JSON(now.requests + requests),
    ])
    try AtomicFile.write(out.compactText + "\n", to: wavesFile)
  }

  private func names(_ folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
  }
}
