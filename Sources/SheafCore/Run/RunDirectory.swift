import Foundation

/// One document's state (DESIGN.md section 7): `plan.ndjson`, `sections/<id>.json` (the latest
/// record of each section), `sections/<id>.md` (its content, for people, who may edit it),
/// `events.ndjson`, `<doc>.md`, `summary.json`.
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

  func recordPath(_ id: String) -> String { "\(sectionsPath)/\(id).json" }
  func markdownPath(_ id: String) -> String { "\(sectionsPath)/\(id).md" }

  /// The latest record of a section, if there is one that parses.
  public func record(_ id: String) -> JSON? {
    guard let data = FileManager.default.contents(atPath: recordPath(id)) else { return nil }
    return try? data.withUnsafeBytes { try JSON.parse($0) }
  }

  /// The section's Markdown file, if there is one.
  public func markdown(_ id: String) -> String? {
    FileManager.default.contents(atPath: markdownPath(id)).flatMap { String(data: $0, encoding: .utf8) }
  }

  /// Whether a person has edited `<id>.md` since it was written: it differs from the record's
  /// content, or there is no completed record beside it.
  public func hasFreshEdit(_ id: String) -> Bool {
    guard let markdown = markdown(id), !markdown.trimmed.isEmpty else { return false }
    guard let record = record(id), record["status"]?.string == SectionStatus.completed.rawValue else { return true }
    return markdown.trimmed != (record["content"]?.string ?? "").trimmed
  }

  /// Whether the section's record is a person's (`source: human`).
  public func isHuman(_ id: String) -> Bool {
    record(id)?["source"]?.string == "human"
  }

  /// The planned records, in execution order.
  public func plannedRecords() -> [JSON] {
    guard let text = FileManager.default.contents(atPath: planPath).flatMap({ String(data: $0, encoding: .utf8) }) else { return [] }
    return text.split(separator: "\n").compactMap { try? JSON.parse(String($0)) }
  }

  /// Writes a record as `<id>.json`, and its content as `<id>.md` when it completed (both
  /// atomically); a record that did not complete leaves no `.md`.
  /// - Throws: `ToolFailure` when a file cannot be written.
  public func save(_ record: JSON) throws {
    guard let id = record["id"]?.string, Slug.isValid(id) else {
      throw ToolFailure(.malformedInput, "a record to save needs an id that is a slug")
    }
    try FileManager.default.createDirectory(atPath: sectionsPath, withIntermediateDirectories: true)
    try AtomicFile.write(record.compactText + "\n", to: recordPath(id))
    if record["status"]?.string == SectionStatus.completed.rawValue, let content = record["content"]?.string {
      try AtomicFile.write(content.trimmed + "\n", to: markdownPath(id))
    } else {
      unlink(markdownPath(id))
    }
  }

  /// Removes a section's files, so that make builds it again.
  public func clear(_ id: String) {
    unlink(recordPath(id))
    unlink(markdownPath(id))
  }

  /// Removes temporary files a killed writer left behind.
  public func removeLeftovers() {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: sectionsPath)) ?? [] where name.hasPrefix(".") && name.hasSuffix(".tmp") {
      unlink("\(sectionsPath)/\(name)")
    }
  }
}
