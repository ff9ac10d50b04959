import Foundation
import SheafCore

/// Summaries of earlier sections, for prompts whose context does not fit their budget.
///
/// A summary is a record of its own: build-prompt `--summary-requests` writes the requests a
/// section needs, the ordinary `call-llm | validate-format` pipeline answers them, and `sheaf-run
/// summaries --save` keeps each answer in the folder as `<id>-<key>.json` (`id`, `title`, `key`,
/// `summary`, `provider`, `model`, `usage`), where every later section finds it. The key is the
/// request's (its messages and the settings in effect), so a summary is made once per section
/// content.
public final class ContextSummaries {
  /// The folder (a run's `summaries/`).
  public let directory: String
  /// The environment (`SHEAF_PROVIDER`, `SHEAF_MODEL`, `SHEAF_BASE_URL` choose who answers).
  let environment: [String: String]
  /// The request settings given on the command line (the run's copy of call-llm's flags).
  let given: JSON?
  private var known: [String: String] = [:]

  init(directory: String, environment: [String: String], given: JSON?) {
    self.directory = directory
    self.environment = environment
    self.given = given
  }

  /// The words a summary may take (`llm.summary_words`; default 120).
  static func words(_ json: JSON) -> Int {
    max(20, min(2000, json["llm"]?["summary_words"]?.int ?? 120))
  }

  /// A summary looked up.
  enum Lookup {
    /// Made earlier: its text.
    case found(String)
    /// Not made yet: the request (with its `summary_key`) and the key.
    case missing(JSON, String)
  }

  /// The stored summary for a request, or the request to make it, keyed.
  func lookup(_ request: JSON) -> Lookup {
    let id = request["summary_of"]?.string ?? "?"
    let messages = request["messages"]?.compactText ?? ""
    // Who answers is part of the key: the settings in effect, not only the plan's.
    let llm = RequestSettings.effective(
      llm: request["llm"], given: given, environment: environment
    ).compactText
    let key = String(Fingerprint.hash(messages + "\u{0}" + llm).prefix(16))
    let path = Self.path(directory: directory, id: id, key: key)
    if let text = known[path] { return .found(text) }
    if let text = Self.read(path, id: id, key: key) {
      known[path] = text
      return .found(text)
    }
    request["summary_key"] = JSON(key)
    return .missing(request, key)
  }

  static func path(directory: String, id: String, key: String) -> String {
    "\(directory)/\(id)-\(key).json"
  }

  /// Keeps an answered summary request (`summary_of`, `summary_key`, `content`) in `directory`.
  ///
  /// Returns `false` when the record is not a completed summary (it is left out; the sections
  /// that needed it keep that context in full, or cut).
  /// - Throws: `ToolFailure` when the file cannot be written.
  public static func save(_ answer: JSON, directory: String) throws -> Bool {
    guard let id = answer["summary_of"]?.string, Slug.isValid(id),
      let key = answer["summary_key"]?.string, key.allSatisfy({ $0.isHexDigit }), key.count == 16,
      answer["status"]?.string == SectionStatus.completed.rawValue,
      let text = answer["content"]?.string, !text.trimmed.isEmpty
    else { return false }
    let stored = JSON.object()
    stored["id"] = JSON(id)
    stored["title"] = answer["title"]?.copy()
    stored["key"] = JSON(key)
    stored["summary"] = JSON(text.trimmed)
    for field in ["provider", "model", "usage", "cost", "request_key"] {
      if let value = answer[field] { stored[field] = value.copy() }
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try AtomicFile.write(
      stored.compactText + "\n", to: path(directory: directory, id: id, key: key))
    return true
  }

  /// The summary kept at `path`, when the file is the one its name says (`id`, `key`).
  private static func read(_ path: String, id: String, key: String) -> String? {
    guard let json = JSON.readObject(path), json["id"]?.string == id, json["key"]?.string == key,
      let text = json["summary"]?.string, !text.isEmpty
    else { return nil }
    return text
  }
}
