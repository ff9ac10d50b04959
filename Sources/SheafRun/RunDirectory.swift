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

  /// The run directory at `path`.
  public init(path: String) {
    self.path = path
  }

  /// `sections/`.
  public var sectionsPath: String { "\(path)/sections" }
  /// `events.ndjson`.
  public var eventsPath: String { "\(path)/events.ndjson" }
  /// `plan.ndjson`.
  public var planPath: String { "\(path)/plan.ndjson" }
  /// `run.json`: the plan's path and the mode of the last run, and the offset of its first event.
  public var statePath: String { "\(path)/run.json" }
  /// Present while a run that was interrupted has not been started again.
  var interruptedPath: String { "\(path)/.interrupted" }

  func recordPath(_ id: String) -> String { "\(sectionsPath)/\(id).json" }
  func markdownPath(_ id: String) -> String { "\(sectionsPath)/\(id).md" }
  /// The new `.md` of a pair being saved: renamed into place after the `.json`.
  func pendingMarkdownPath(_ id: String) -> String { "\(sectionsPath)/.\(id).md.new" }

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
    guard let data = FileManager.default.contents(atPath: recordPath(id)) else { return .missing }
    guard let json = try? data.withUnsafeBytes({ try JSON.parse($0) }), json.kind == .object else {
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
    guard let data = FileManager.default.contents(atPath: markdownPath(id)) else { return nil }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ToolFailure.usage(
        "\(markdownPath(id)): not UTF-8 text; save it as UTF-8 (your edit is left as it is)")
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

  /// Whether the section's record is a person's (`source: human`).
  public func isHuman(_ id: String) -> Bool {
    record(id)?["source"]?.string == "human"
  }

  /// The planned records, in execution order.
  public func plannedRecords() -> [JSON] {
    guard let data = FileManager.default.contents(atPath: planPath) else { return [] }
    var records: [JSON] = []
    data.withUnsafeBytes { bytes in
      var start = 0
      for index in 0...bytes.count where index == bytes.count || bytes[index] == 0x0A {
        if index > start,
          let record = try? JSON.parse(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        {
          if !Event.isEvent(record) { records.append(record) }
        }
        start = index + 1
      }
    }
    return records
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
    try FileManager.default.createDirectory(atPath: sectionsPath, withIntermediateDirectories: true)
    let completed = record["status"]?.string == SectionStatus.completed.rawValue
    let content = completed ? record["content"]?.string : nil
    if let content {
      try AtomicFile.write(content.trimmed + "\n", to: pendingMarkdownPath(id), rename: false)
    }
    try AtomicFile.write(record.compactText + "\n", to: recordPath(id))
    if content != nil {
      guard rename(pendingMarkdownPath(id), markdownPath(id)) == 0 else {
        throw ToolFailure.usage(
          "\(markdownPath(id)): cannot write: \(String(cString: strerror(errno)))")
      }
      AtomicFile.syncDirectory(of: markdownPath(id))
    } else {
      unlink(markdownPath(id))
    }
  }

  /// Removes a section's files, so that make builds it again.
  public func clear(_ id: String) {
    // The .md first: a kill in between leaves a record with no .md, which `recover` writes back,
    // never a lone .md, which would read as a person's edit.
    unlink(markdownPath(id))
    unlink(pendingMarkdownPath(id))
    unlink(recordPath(id))
  }

  /// Finishes or undoes what a killed writer left: a pending `.md` whose `.json` made it is
  /// renamed into place, any other pending `.md` and temporary file is removed.
  ///
  /// Returns the ids
  /// whose pair was finished.
  @discardableResult
  public func recover() -> [String] {
    var finished: [String] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: sectionsPath)) ?? []
    where name.hasPrefix(".") {
      let path = "\(sectionsPath)/\(name)"
      if name.hasSuffix(".md.new") {
        let id = String(name.dropFirst().dropLast(".md.new".count))
        let pending = FileManager.default.contents(atPath: path).map {
          String(decoding: $0, as: UTF8.self)
        }
        if Slug.isValid(id), let record = record(id),
          record["status"]?.string == SectionStatus.completed.rawValue,
          let pending, pending.trimmed == (record["content"]?.string ?? "").trimmed,
          rename(path, markdownPath(id)) == 0
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
    for name in (try? FileManager.default.contentsOfDirectory(atPath: sectionsPath)) ?? []
    where name.hasSuffix(".json") && !name.hasPrefix(".") {
      let id = String(name.dropLast(".json".count))
      guard Slug.isValid(id), !FileManager.default.fileExists(atPath: markdownPath(id)),
        let record = record(id), record["status"]?.string == SectionStatus.completed.rawValue,
        record["source"]?.string != "human", let content = record["content"]?.string,
        (try? AtomicFile.write(content.trimmed + "\n", to: markdownPath(id))) != nil
      else { continue }
      finished.append(id)
    }
    return finished
  }

  /// Marks the run interrupted: sections not started yet are not started (`sheaf-run deps`
  /// cancels them) until the next `make doc` clears it.
  func markInterrupted() {
    let fd = open(interruptedPath, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    if fd >= 0 { close(fd) }
  }

  /// Whether the run was interrupted since it started.
  var wasInterrupted: Bool { FileManager.default.fileExists(atPath: interruptedPath) }

  /// Clears the interrupted mark (a new run starts).
  func clearInterrupted() { unlink(interruptedPath) }
}
