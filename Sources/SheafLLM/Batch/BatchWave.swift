import Foundation
import SheafCore

/// One wave of the provider batch APIs (`call-llm --batch-run DIR`): what the set's documents
/// queued is sent, one batch per provider, base URL and key (and model, for OpenAI, whose batch
/// files take one); then every batch the folder keeps (a killed run's too) is polled until it
/// ended and its answers are stored, for the next pass of the documents to read as ordinary
/// answers.
///
/// A stop while batches are at the provider leaves them running (they are kept: the next
/// `make docs BATCH=1` reads them) or, when a person at the terminal says so, cancels them.
public struct BatchWave {
  /// The set's batch folder.
  public let store: BatchStore
  /// Where the keys come from.
  public let environment: [String: String]
  /// Seconds between two polls of a batch.
  public let pollInterval: Double
  /// The tool's name, for messages.
  public let tool: String
  /// The most requests in one batch (the providers' limits are 50,000 and 100,000).
  public var maxItems = 50_000

  /// A wave over `store`.
  public init(store: BatchStore, environment: [String: String], pollInterval: Double, tool: String)
  {
    self.store = store
    self.environment = environment
    self.pollInterval = pollInterval
    self.tool = tool
  }

  private func api(_ batch: JSON) -> (any BatchAPI)? {
    api(
      provider: batch["provider"]?.string ?? "", baseURL: batch["base_url"]?.string ?? "",
      keyVariable: batch["key_env"]?.string)
  }

  /// The batch API of a provider, with the key from `keyVariable` (whatever the variable is
  /// called, its value is masked in every message).
  private func api(provider: String, baseURL: String, keyVariable: String?) -> (any BatchAPI)? {
    let key = keyVariable.flatMap { variable in
      Secrets.register(variable: variable, environment: environment)
      return environment[variable]
    }
    return BatchAPIs.api(provider: provider, baseURL: baseURL, key: key)
  }

  /// Sends what is queued (with `send`; else drops it: the next pass queues what is still
  /// needed), then polls every open batch until all have ended and been read.
  /// - Throws: `ToolFailure` when a batch cannot be sent or its folder written.
  public func run(send: Bool = true) throws -> ExitStatus {
    let signals = StopSignals.install()
    try recoverJournals()
    try store.syncSent()
    if send {
      try submitQueued()
    } else {
      // A new make docs: what an earlier one queued is queued again by its first pass, and the
      // errors a batch answered are asked again, with all their retries.
      store.dropQueue()
      store.clearErrors()
    }
    var failures: [String: Int] = [:]
    var said: [String: String] = [:]
    while true {
      let open = store.openBatches()
      if open.isEmpty { return .completed }
      for (name, batch) in open {
        guard let api = api(batch), let id = batch["id"]?.string else {
          Diagnostics.say(tool, "\(store.directory)/batches/\(name): not a batch sheaf can read")
          return .someFailed
        }
        let label = "\(batch["provider"]?.string ?? "?") batch \(id)"
        do {
          let state = try api.state(id)
          failures[name] = 0
          let line = "\(label): \(state.status), \(state.done) of \(state.total) answered"
          if said[name] != line {
            Diagnostics.say(tool, line)
            said[name] = line
          }
          if state.ended { try readAnswers(name, batch, state, api: api, label: label) }
        } catch let failure as BatchFailure {
          failures[name, default: 0] += 1
          Diagnostics.say(tool, "\(failure.message) (polled again)")
          if failures[name, default: 0] >= 5 {
            Diagnostics.say(
              tool,
              "\(label): could not be read 5 times; it is kept in \(store.directory)/batches: run make docs BATCH=1 again to read it"
            )
            return .someFailed
          }
        }
      }
      if store.openBatches().isEmpty { return .completed }
      let signal = waitOrStop(signals, seconds: pollInterval)
      if signal != 0 { return stopped(asking: signal == SIGINT) }
    }
  }

  /// The batches a killed run was creating: kept when the provider created them (so they are
  /// read, and nothing is sent twice), forgotten when it did not (the next pass asks again).
  func recoverJournals() throws {
    for (name, batch) in store.pending() {
      guard let api = api(batch) else {
        store.dropJournal(name)
        continue
      }
      do {
        if let id = try api.find(batch) {
          batch["id"] = JSON(id)
          try store.keep(batch, name: name, keys: batch["keys"]?.array?.compactMap(\.string) ?? [])
          Diagnostics.say(
            tool,
            "\(batch["provider"]?.string ?? "?") batch \(id) was being sent when a run stopped: it is read, not sent again"
          )
        } else {
          store.dropJournal(name)
        }
      } catch let failure as BatchFailure {
        throw ToolFailure.usage(
          "\(failure.message): a batch a stopped run was sending cannot be looked for; run make docs BATCH=1 again"
        )
      }
    }
  }

  /// Sends each group of queued requests as one batch and keeps it.
  func submitQueued() throws {
    let queued = store.queued()
    guard !queued.isEmpty else { return }
    var groups: [String: [BatchItem]] = [:]
    var order: [String] = []
    for item in queued {
      // OpenAI takes one model a batch file; Anthropic's batches may mix them.
      let model = item.provider == "openai" ? item.body["model"]?.string ?? "" : ""
      let group = "\(item.provider) \(item.baseURL) \(item.keyVariable ?? "") \(model)"
      if groups[group] == nil { order.append(group) }
      groups[group, default: []].append(item)
    }
    let wave = store.totals().waves + 1
    var sent = 0
    var requests = 0
    for group in order {
      let items = groups[group] ?? []
      for start in stride(from: 0, to: items.count, by: maxItems) {
        let part = Array(items[start..<min(items.count, start + maxItems)])
        let first = part[0]
        guard
          let api = api(
            provider: first.provider, baseURL: first.baseURL, keyVariable: first.keyVariable)
        else {
          throw ToolFailure.usage(
            "\(first.provider) has no batch API sheaf speaks (BATCH=1 works with openai and anthropic)"
          )
        }
        let name = "\(wave)-\(sent + 1)-\(first.provider).json"
        let batch = JSON.object([
          "provider": JSON(first.provider), "base_url": JSON(first.baseURL),
          "wave": JSON(wave), "requests": JSON(part.count),
          "keys": .array(part.map { JSON($0.key) }), "submitted_at": JSON(Event.timestamp()),
        ])
        if let variable = first.keyVariable { batch["key_env"] = JSON(variable) }
        let created: (id: String, extra: [String: JSON])
        do {
          // A journal first: killed while the provider creates the batch, the next run finds it.
          created = try api.submit(part) { found in
            for (key, value) in found { batch[key] = value }
            try store.journal(batch, name: name)
          }
        } catch let failure as BatchFailure {
          store.dropJournal(name)
          throw ToolFailure.usage(
            "\(failure.message); its \(part.count) requests were not sent: the next make docs BATCH=1 asks them again"
          )
        }
        batch["id"] = JSON(created.id)
        for (key, value) in created.extra { batch[key] = value }
        try store.keep(batch, name: name, keys: part.map(\.key))
        sent += 1
        requests += part.count
        Diagnostics.say(
          tool,
          "wave \(wave): \(part.count) request\(part.count == 1 ? "" : "s") sent as \(first.provider) batch \(created.id) (at the batch price); polled every \(Self.seconds(pollInterval))"
        )
      }
    }
    try store.addWave(batches: sent, requests: requests)
  }

  /// Stores the answers of an ended batch and marks it read; a request it did not run goes back
  /// to the queue.
  private func readAnswers(
    _ name: String, _ batch: JSON, _ state: BatchState, api: any BatchAPI, label: String
  ) throws {
    let keys = batch["keys"]?.array?.compactMap(\.string) ?? []
    let answers = try api.answers(state)
    var answered = Set<String>()
    var errors = 0
    var again = 0
    let id = batch["id"]?.string ?? ""
    for answer in answers where keys.contains(answer.key) {
      answered.insert(answer.key)
      guard let status = answer.status else {
        again += 1
        continue
      }
      if status >= 300 { errors += 1 }
      try store.storeResult(answer.key, status: status, body: answer.body, batch: id)
    }
    for key in keys where !answered.contains(key) {
      if let failure = state.failure {
        // The whole batch failed (OpenAI: a validation error, or the model's queued-token
        // limit): an error of each request, asked again while its retries last.
        let body = JSON.object(["error": .object(["message": JSON(failure)])]).compactText
        try store.storeResult(key, status: 500, body: body, batch: id)
        errors += 1
      } else {
        again += 1
      }
    }
    // What was not run goes into the next wave (the next pass queues it again).
    store.release(keys)
    batch["read"] = JSON(true)
    batch["status"] = JSON(state.status)
    batch["read_at"] = JSON(Event.timestamp())
    try store.update(batch, name: name)
    var parts = ["\(answered.count - again) answers read"]
    if errors > 0 { parts.append("\(errors) errors, asked again in the next wave or failed") }
    if again > 0 { parts.append("\(again) not run, sent again in the next wave") }
    Diagnostics.say(tool, "\(label): \(state.status): " + parts.joined(separator: ", "))
  }

  // MARK: - Stopping

  /// Waits `seconds`; the stop signal that came (SIGINT first), or 0.
  private func waitOrStop(_ fd: Int32, seconds: Double) -> Int32 {
    guard fd >= 0 else {
      usleep(UInt32(min(seconds, 3600) * 1_000_000))
      return 0
    }
    var polled = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
    _ = poll(&polled, 1, Int32(max(0, min(seconds, 3600)) * 1000))
    var byte: UInt8 = 0
    var got: Int32 = 0
    while read(fd, &byte, 1) == 1 {
      if got != SIGINT { got = Int32(byte) }
    }
    return got
  }

  /// Stopped while batches are at the provider: left running, unless after Ctrl-C (`asking`) a
  /// person at the terminal chooses to cancel them.
  private func stopped(asking: Bool) -> ExitStatus {
    let open = store.openBatches()
    let names = open.map {
      "\($0.batch["provider"]?.string ?? "?") \($0.batch["id"]?.string ?? "?")"
    }
    var cancel = false
    if asking,
      let answer = Self.ask(
        "\(open.count) batch\(open.count == 1 ? " is" : "es are") still at the provider (\(names.joined(separator: ", "))). Leave \(open.count == 1 ? "it" : "them") running, or cancel? [L/c] "
      )
    {
      cancel = answer.lowercased().hasPrefix("c")
    }
    if cancel {
      _ = cancelAll()
    } else {
      Diagnostics.say(
        tool,
        "left running at the provider: \(names.joined(separator: ", ")). make docs BATCH=1 reads \(open.count == 1 ? "it" : "them") when run again (nothing is sent twice); call-llm --batch-cancel \(store.directory) cancels \(open.count == 1 ? "it" : "them")"
      )
    }
    return .interrupted
  }

  /// Asks the provider to cancel every open batch.
  ///
  /// A batch stays kept until it has ended: what it answered before the cancel (and is paid
  /// for) is read, now if it already ended, else by the next `make docs BATCH=1`; what it did
  /// not run is asked again in the next wave.
  ///
  /// Returns how many the provider accepted to cancel.
  public func cancelAll() -> Int {
    var cancelled = 0
    for (name, batch) in store.openBatches() {
      guard let api = api(batch), let id = batch["id"]?.string else { continue }
      let label = "\(batch["provider"]?.string ?? "?") batch \(id)"
      do {
        try api.cancel(id)
        batch["cancel_asked_at"] = JSON(Event.timestamp())
        try? store.update(batch, name: name)
        cancelled += 1
        let state = try api.state(id)
        if state.ended {
          try readAnswers(name, batch, state, api: api, label: label)
        } else {
          Diagnostics.say(
            tool,
            "\(label): cancelling; what it answered before is read by the next make docs BATCH=1"
          )
        }
      } catch let failure as BatchFailure {
        Diagnostics.say(tool, "\(failure.message): it is kept")
      } catch {
        Diagnostics.say(tool, "\(id): \(error)")
      }
    }
    return cancelled
  }

  /// A question on the terminal (`/dev/tty`), answered within a minute; `nil` without one.
  static func ask(_ question: String) -> String? {
    guard isatty(STDIN_FILENO) != 0 || isatty(STDERR_FILENO) != 0 else { return nil }
    let tty = open("/dev/tty", O_RDWR | O_NOCTTY)
    guard tty >= 0 else { return nil }
    defer { close(tty) }
    _ = question.withCString { write(tty, $0, strlen($0)) }
    var polled = [pollfd(fd: tty, events: Int16(POLLIN), revents: 0)]
    guard poll(&polled, 1, 60_000) > 0 else { return nil }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = read(tty, &buffer, 64)
    guard count > 0 else { return nil }
    return String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(
      in: .whitespacesAndNewlines)
  }

  static func seconds(_ value: Double) -> String {
    value >= 1 && value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
  }
}
