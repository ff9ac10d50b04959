import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// One document's state (DESIGN.md section 7): `plan.ndjson`, `sections/<id>.json` (the latest
/// record of each section), `sections/<id>.md` (its content, for people, who may edit it),
/// `events.ndjson`, `<doc>.md`, `summary.json`; and sheaf's own `run.json` (the plan and mode of
/// the last run, and where its events start).
public struct RunDirectory {
  /// The folder, `runs/<doc>`.
  public let path: String
  /// Every file of the run, named once.
  public let layout: RunLayout

  /// The run directory at `path`.
  public init(path: String) {
    self.path = path
    layout = RunLayout(path)
  }

  /// The note kept for a section, if any.
  public func note(_ id: String) -> String? {
    FileManager.default.contents(atPath: layout.note(id)).map {
      String(decoding: $0, as: UTF8.self)
    }
    .flatMap { $0.trimmed.isEmpty ? nil : $0.trimmed }
  }

  /// Keeps `text` as the section's note (`nil` clears it).
  public func setNote(_ id: String, _ text: String?) throws {
    guard let text, !text.trimmed.isEmpty else {
      unlink(layout.note(id))
      return
    }
    try FileManager.default.createDirectory(atPath: layout.notes, withIntermediateDirectories: true)
    try AtomicFile.write(text.trimmed + "\n", to: layout.note(id))
  }

  /// The planned record with the section's kept note as (part of) its instructions, and as
  /// `note` (so each version says the note it was written with).
  public func withNote(_ record: JSON) -> JSON {
    guard let id = record["id"]?.string, Slug.isValid(id), let note = note(id) else {
      return record
    }
    let planned = record["instructions"]?.string.flatMap { $0.trimmed.isEmpty ? nil : $0 }
    record["instructions"] = JSON(planned.map { "\($0)\n\(note)" } ?? note)
    record["note"] = JSON(note)
    return record
  }

  /// The JSON object in the file at `path`, if it reads and parses.
  static func readJSON(_ path: String) -> JSON? { JSON.readObject(path) }

  /// `run.json` as the last `prepare` wrote it, if there is one.
  public var state: JSON? { Self.readJSON(layout.state) }

  /// The request settings in effect: what a run `remembered`, under the environment's `SHEAF_*`
  /// (PROVIDER=, MODEL=, BASE_URL=, MAX_TOKENS=), under call-llm's flags as `given` (CALL_FLAGS).
  public static func request(
    remembered: JSON?, given: JSON?,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> JSON {
    let stored = remembered?.copy() ?? JSON.object()
    for (key, variable) in RequestSettings.chosen {
      if let value = environment[variable], !value.isEmpty { stored[key] = JSON(value) }
    }
    if let text = environment["SHEAF_MAX_TOKENS"], let tokens = Int(text), tokens > 0 {
      stored["max_tokens"] = JSON(tokens)
    }
    for (key, value) in given?.members ?? [] { stored[key] = value.copy() }
    return stored
  }

  /// build-prompt's options for this run: `given` flags (a PROMPT_FLAGS given now), else the ones
  /// the last run stored; with the request settings (`request`: a CALL_FLAGS given now, else the
  /// stored ones) and the rules that only warn.
  public func promptOptions(given: PromptSettings, request: JSON? = nil) -> PromptOptions {
    var options = PromptOptions.forRun(layout, given: given)
    options.request = Self.request(remembered: options.request, given: request)
    return options
  }

  /// Forgets the last run's shared rate limits and its spending.
  ///
  /// A new run starts at full speed (no lowered concurrency, no cool-down) and with nothing
  /// spent. Called under the run's lock, when no other run is under way.
  func resetRateLimits() {
    unlink(layout.budget)  // the budget is the run's: a new make doc starts at zero
    for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.rate)) ?? []
    where name.hasSuffix(".json") {
      unlink(layout.rate + "/" + name)
    }
  }

  /// The sections this run keeps as they are: a regeneration chose not to redo them (CASCADE=no,
  /// or not named in CASCADE=a,b); they keep their text even though what they use changed.
  public func kept() -> Set<String> {
    guard let data = FileManager.default.contents(atPath: layout.keep) else { return [] }
    return Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
  }

  /// Sets the sections this run keeps as they are (none: the file goes).
  func setKept(_ ids: [String]) throws {
    guard !ids.isEmpty else {
      unlink(layout.keep)
      return
    }
    try AtomicFile.write(ids.map { $0 + "\n" }.joined(), to: layout.keep)
  }

  /// Sets the sections this run asks for again over the cache (`refresh`, read by section.mk).
  func setRefresh(_ ids: [String]) throws {
    guard !ids.isEmpty else {
      unlink(layout.refresh)
      return
    }
    try AtomicFile.write(ids.joined(separator: " ") + "\n", to: layout.refresh)
  }

  /// The versions kept of a section, oldest first: their numbers.
  public func versions(_ id: String) -> [Int] {
    let names =
      (try? FileManager.default.contentsOfDirectory(atPath: layout.versions(id))) ?? []
    return names.compactMap { name in
      name.hasSuffix(".json") ? Int(name.dropLast(".json".count)) : nil
    }.sorted()
  }

  /// The record of version `number` of a section.
  ///
  /// A version file whose record is another section's (its `id`) is not a version of this one.
  public func version(_ id: String, _ number: Int) -> JSON? {
    guard Slug.isValid(id), let record = Self.readJSON(layout.version(id, number)),
      record["id"]?.string == id
    else { return nil }
    return record
  }

  /// Keeps the section's current completed result (record and text) as its next version.
  ///
  /// Called before it is replaced. A section with no completed result has nothing to keep.
  public func archive(_ id: String) throws {
    guard let record = record(id), record["status"]?.string == SectionStatus.completed.rawValue
    else { return }
    let folder = layout.versions(id)
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let number = (versions(id).last ?? 0) + 1
    // The record's own text (the .md may hold a person's newer edit, which is not this version).
    let text = (record["content"]?.string ?? "").trimmed
    try AtomicFile.write(text + "\n", to: "\(folder)/\(number).md")
    record["archived_at"] = JSON(Event.timestamp())
    try AtomicFile.write(record.compactText + "\n", to: "\(folder)/\(number).json")
  }

  /// What is stored for a section.
  public enum Stored {
    /// No record.
    case missing
    /// A record file that is not one JSON object (cut short, overwritten): it is rebuilt.
    case damaged
    /// The record.
    case record(JSON)
  }

  /// The stored record of a section.
  public func stored(_ id: String) -> Stored {
    guard let data = FileManager.default.contents(atPath: layout.record(id)) else {
      return .missing
    }
    // A record is the section its file is named after: one that says otherwise (copied or
    // written there by hand) is damaged, never taken for that other section.
    guard let json = try? data.withUnsafeBytes({ try JSON.parse($0) }), json.kind == .object,
      json["id"]?.string == id
    else {
      return .damaged
    }
    return .record(json)
  }

  /// The latest record of a section, if there is one that parses.
  public func record(_ id: String) -> JSON? {
    if case .record(let json) = stored(id) { return json }
    return nil
  }

  /// The section's Markdown file, if there is one.
  /// - Throws: `ToolFailure` naming the file when it is not UTF-8 text.
  public func markdown(_ id: String) throws -> String? {
    guard let data = FileManager.default.contents(atPath: layout.markdown(id)) else { return nil }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ToolFailure.usage(
        "\(layout.markdown(id)): not UTF-8 text; save it as UTF-8 (your edit is left as it is)")
    }
    return text
  }

  /// Whether a person has edited `<id>.md` since it was written: it differs from the record's
  /// content, or there is no completed record beside it.
  ///
  /// A damaged record is never taken as an
  /// edit.
  /// - Throws: `ToolFailure` when the `.md` is not UTF-8.
  public func hasFreshEdit(_ id: String) throws -> Bool {
    guard let markdown = try markdown(id), !markdown.trimmed.isEmpty else { return false }
    switch stored(id) {
    case .damaged: return false
    case .missing: return true
    case .record(let record):
      guard record["status"]?.string == SectionStatus.completed.rawValue else { return true }
      return markdown.trimmed != (record["content"]?.string ?? "").trimmed
    }
  }

  // MARK: - Review

  /// The hash an approval is bound to: the section's text, trimmed.
  static func approvalKey(_ text: String) -> String { Fingerprint.hash(text.trimmed) }

  /// Sets the sections the plan holds for review (written by `prepare`, one id a line).
  func setReviewed(_ ids: [String]) throws {
    try AtomicFile.write(ids.map { $0 + "\n" }.joined(), to: layout.review)
  }

  /// The sections the plan holds for review: from the run's `review` file, or, in a run no
  /// `prepare` wrote, `nil` (each record's own `review` then says).
  var reviewed: Set<String>? {
    FileManager.default.contents(atPath: layout.review).map {
      Set(String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init))
    }
  }

  /// Which sections hold the sections that use them for a person, with the plan's list read
  /// once (a view or a loop over many sections makes one and asks it for each).
  public struct ReviewGate {
    let run: RunDirectory
    /// The plan's list (`review`), or `nil` in a run no `prepare` wrote.
    let reviewed: Set<String>?

    /// The gate of a run as it is now.
    public init(run: RunDirectory) {
      self.run = run
      reviewed = run.reviewed
    }

    /// Whether the plan holds this section for review (`record`: its planned or stored record,
    /// which says so when no `prepare` wrote the list).
    func holds(_ id: String, record: JSON?) -> Bool {
      reviewed.map { $0.contains(id) } ?? (record?["review"]?.bool == true)
    }

    /// Whether a section that asks for review holds the sections that use it: it completed and
    /// no person has approved its current text (`sheaf-run approve`) or written it (an edit of
    /// its `.md` is an approval).
    public func awaits(_ id: String, record stored: JSON? = nil) -> Bool {
      guard Slug.isValid(id), let record = stored ?? run.record(id), holds(id, record: record),
        record["status"]?.string == SectionStatus.completed.rawValue,
        record["source"]?.string != "human", (try? run.hasFreshEdit(id)) != true
      else { return false }
      let text = record["content"]?.string ?? ""
      let approval = RunDirectory.readJSON(run.layout.approval(id))
      return approval?["content"]?.string != RunDirectory.approvalKey(text)
    }
  }

  /// Approves a section's current text for the sections that use it.
  ///
  /// The approval is a file of its own, `approved/<id>.json` (`content`, the hash of the text;
  /// `at`), so a run saving the section at the same time loses nothing. Built again to another
  /// text, the section waits again; to the same text, it stays approved.
  /// - Throws: `ToolFailure` when the section has no completed record.
  public func approve(_ id: String) throws {
    guard Slug.isValid(id), let record = record(id),
      record["status"]?.string == SectionStatus.completed.rawValue
    else {
      throw ToolFailure.usage(
        "\(id): no completed section in \(path) to approve (make doc writes it first)")
    }
    let approval = JSON.object()
    approval["content"] = JSON(Self.approvalKey(record["content"]?.string ?? ""))
    approval["at"] = JSON(ISO8601DateFormatter().string(from: Date()))
    try FileManager.default.createDirectory(
      atPath: layout.approved, withIntermediateDirectories: true)
    try AtomicFile.write(approval.compactText + "\n", to: layout.approval(id))
  }

  /// The sections waiting for a person, each with the planned sections it holds (those that use
  /// it, directly or through others), in plan order.
  public func waitingForReview() -> [(id: String, holds: [String])] {
    let gate = ReviewGate(run: self)
    // The plan holds nothing for review (the usual case): nothing to read.
    if gate.reviewed?.isEmpty == true { return [] }
    var users: [String: [String]] = [:]
    var order: [String] = []
    var marked: [String] = []
    forEachPlannedLine { record in
      guard !Event.isEvent(record), let id = record["id"]?.string else { return }
      order.append(id)
      for key in ["depends_on", "context"] {
        for used in record[key]?.array?.compactMap(\.string) ?? [] {
          users[used, default: []].append(id)
        }
      }
      // Only sections the plan marks for review are read.
      if gate.holds(id, record: record) { marked.append(id) }
    }
    var result: [(id: String, holds: [String])] = []
    for id in marked {
      guard gate.awaits(id) else { continue }
      // Every section that uses it, directly or through others: each visited once.
      var held = Set<String>()
      var queue = users[id] ?? []
      var next = 0
      while next < queue.count {
        let user = queue[next]
        next += 1
        if held.insert(user).inserted { queue += users[user] ?? [] }
      }
      result.append((id, order.filter(held.contains)))
    }
    return result
  }

  /// Ids for a line of text: all of four or fewer, else the first three and how many more.
  public static func shortList(_ ids: [String]) -> String {
    ids.count <= 4
      ? ids.joined(separator: ", ")
      : "\(ids.prefix(3).joined(separator: ", ")) and \(ids.count - 3) more"
  }

  /// One line a person reads at the end of a run: what waits for whom, and how to go on; `nil`
  /// when nothing waits.
  public func reviewLine() -> String? {
    let waiting = waitingForReview()
    guard !waiting.isEmpty else { return nil }
    let parts = waiting.map { entry -> String in
      entry.holds.isEmpty ? entry.id : "\(entry.id) (holds \(Self.shortList(entry.holds)))"
    }
    let ids = waiting.map(\.id).joined(separator: " ")
    let file = waiting.count == 1 ? layout.markdown(waiting[0].id) : layout.markdown("<id>")
    return
      "waiting for review: \(parts.joined(separator: "; ")) · read \(file), then sheaf-run approve --run \(path) \(ids) (or edit it) and make doc again"
  }

  /// Whether the section's record is a person's (`source: human`).
  public func isHuman(_ id: String) -> Bool {
    record(id)?["source"]?.string == "human"
  }

  /// The planned records, in execution order.
  public func plannedRecords() -> [JSON] {
    plannedLines().filter { !Event.isEvent($0) }
  }

  /// Every line of `plan.ndjson`: the `outline` event, then the planned records.
  public func plannedLines() -> [JSON] {
    var lines: [JSON] = []
    forEachPlannedLine { lines.append($0) }
    return lines
  }

  /// Each line of `plan.ndjson`, parsed one at a time (a plan of 50,000 sections is never held
  /// whole).
  public func forEachPlannedLine(_ body: (JSON) -> Void) {
    guard let data = FileManager.default.contents(atPath: layout.plan) else { return }
    data.withUnsafeBytes { bytes in
      var start = 0
      for index in 0...bytes.count where index == bytes.count || bytes[index] == 0x0A {
        if index > start,
          let line = try? JSON.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        {
          body(line)
        }
        start = index + 1
      }
    }
  }

  /// Writes a record as `<id>.json`, and its content as `<id>.md` when it completed.
  ///
  /// A crash at
  /// any point leaves the old pair or the new one: the new `.md` is written first under a
  /// temporary name, then the `.json` is renamed into place, then the `.md`; `recover()` finishes
  /// a pair whose last rename did not happen.
  /// - Throws: `ToolFailure` when a file cannot be written.
  public func save(_ record: JSON) throws {
    guard let id = record["id"]?.string, Slug.isValid(id) else {
      throw ToolFailure(.malformedInput, "a record to save needs an id that is a slug")
    }
    try FileManager.default.createDirectory(
      atPath: layout.sections, withIntermediateDirectories: true)
    let completed = record["status"]?.string == SectionStatus.completed.rawValue
    let content = completed ? record["content"]?.string : nil
    // A result replaces a different one (another text, or no text: a section skipped after its
    // upstream failed): the completed one it replaces is kept as a version, never lost.
    if let old = self.record(id), old["status"]?.string == SectionStatus.completed.rawValue,
      (old["content"]?.string ?? "").trimmed != (content ?? "").trimmed || content == nil
    {
      try archive(id)
    } else if let content, self.record(id) == nil, let last = versions(id).last,
      (version(id, last)?["content"]?.string ?? "").trimmed == content.trimmed
    {
      // Put aside as stale and built again to the same text: not a version of its own.
      unlink(layout.version(id, last))
      unlink(layout.versionMarkdown(id, last))
    }
    if let content {
      try AtomicFile.write(content.trimmed + "\n", to: layout.pendingMarkdown(id), rename: false)
    }
    try AtomicFile.write(record.compactText + "\n", to: layout.record(id))
    if content != nil {
      guard rename(layout.pendingMarkdown(id), layout.markdown(id)) == 0 else {
        throw ToolFailure.usage(
          "\(layout.markdown(id)): cannot write: \(String(cString: strerror(errno)))")
      }
      AtomicFile.syncDirectory(of: layout.markdown(id))
    } else {
      unlink(layout.markdown(id))
    }
  }

  /// Removes a section's files, so that make builds it again.
  public func clear(_ id: String) {
    // The .md first: a kill in between leaves a record with no .md, which `recover` writes back,
    // never a lone .md, which would read as a person's edit.
    unlink(layout.markdown(id))
    unlink(layout.pendingMarkdown(id))
    unlink(layout.record(id))
  }

  /// Finishes or undoes what a killed writer left: a pending `.md` whose `.json` made it is
  /// renamed into place, any other pending `.md` and temporary file is removed.
  ///
  /// Returns the ids
  /// whose pair was finished.
  @discardableResult
  public func recover() -> [String] {
    var finished: [String] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.sections)) ?? []
    where name.hasPrefix(".") {
      let path = "\(layout.sections)/\(name)"
      if name.hasSuffix(".md.new") {
        let id = String(name.dropFirst().dropLast(".md.new".count))
        let pending = FileManager.default.contents(atPath: path).map {
          String(decoding: $0, as: UTF8.self)
        }
        if Slug.isValid(id), let record = record(id),
          record["status"]?.string == SectionStatus.completed.rawValue,
          let pending, pending.trimmed == (record["content"]?.string ?? "").trimmed,
          rename(path, layout.markdown(id)) == 0
        {
          finished.append(id)
          continue
        }
        unlink(path)
      } else if name.hasSuffix(".tmp") {
        unlink(path)
      }
    }
    // A completed model's record whose .md is missing (a kill before its rename, or between the
    // unlinks of `clear`): the .md is written again from the record.
    for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.sections)) ?? []
    where name.hasSuffix(".json") && !name.hasPrefix(".") {
      let id = String(name.dropLast(".json".count))
      guard Slug.isValid(id), !FileManager.default.fileExists(atPath: layout.markdown(id)),
        let record = record(id), record["status"]?.string == SectionStatus.completed.rawValue,
        record["source"]?.string != "human", let content = record["content"]?.string,
        (try? AtomicFile.write(content.trimmed + "\n", to: layout.markdown(id))) != nil
      else { continue }
      finished.append(id)
    }
    return finished
  }

  /// Marks the run interrupted: sections not started yet are not started (`sheaf-run deps`
  /// cancels them) until the next `make doc` clears it.
  func markInterrupted() {
    let fd = open(layout.interrupted, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    if fd >= 0 { close(fd) }
  }

  /// Whether the run was interrupted since it started.
  var wasInterrupted: Bool { FileManager.default.fileExists(atPath: layout.interrupted) }

  /// Clears the interrupted mark (a new run starts).
  func clearInterrupted() { unlink(layout.interrupted) }

  /// Pauses the run until the next `make doc`.
  public func markPaused() throws {
    try AtomicFile.write(Event.timestamp() + "\n", to: layout.paused)
  }

  /// Whether the run is paused.
  var wasPaused: Bool { FileManager.default.fileExists(atPath: layout.paused) }

  /// Resumes: the next run starts sections again.
  func clearPaused() { unlink(layout.paused) }
}
