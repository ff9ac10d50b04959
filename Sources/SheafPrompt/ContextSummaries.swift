import Foundation
import SheafCore

#if canImport(Glibc)
import Glibc
#endif

/// Summaries of earlier sections, for prompts whose context does not fit their budget.
///
/// A summary is asked of the model once per section content (and summary prompt, and model
/// settings) and kept in the folder as `<id>-<key>.json` (`id`, `title`, `key`, `summary`,
/// `provider`, `model`, `usage`): every later section that needs it reads it from there. A lock
/// file per summary makes sections built at the same time wait for one request instead of each
/// making its own.
final class ContextSummaries {
  /// The folder (a run's `summaries/`).
  let directory: String
  /// Sends a pending record (with `messages`) and gives it back answered (`completed`, with
  /// `content`) or `failed` (with `error`).
  let ask: (JSON) -> JSON
  /// The environment (`SHEAF_PROVIDER`, `SHEAF_MODEL`, `SHEAF_BASE_URL` choose who answers).
  let environment: [String: String]
  private var known: [String: String] = [:]

  init(directory: String, environment: [String: String], ask: @escaping (JSON) -> JSON) {
    self.directory = directory
    self.environment = environment
    self.ask = ask
  }

  /// The words a summary may take (`llm.summary_words`; default 120).
  static func words(_ json: JSON) -> Int {
    max(20, min(2000, json["llm"]?["summary_words"]?.int ?? 120))
  }

  /// The summary for a request: from the folder, or asked for (once, under a lock) and kept.
  func summary(id: String, title: String, request: JSON) -> Result<String, SheafError> {
    let messages = request["messages"]?.compactText ?? ""
    // Who answers is part of the key: the settings in effect, not only the plan's.
    let llm = Fingerprint.effectiveLLM(request["llm"], environment: environment).compactText
    let key = String(Fingerprint.hash(messages + "\u{0}" + llm).prefix(16))
    let path = "\(directory)/\(id)-\(key).json"
    if let text = known[path] { return .success(text) }
    if let text = Self.read(path) {
      known[path] = text
      return .success(text)
    }
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
    } catch {
      return .failure(SheafError(.internal, "\(directory): cannot create the summaries folder"))
    }
    // One request per summary, whoever needs it first: the others wait on the lock, then read.
    let lock = open("\(directory)/.\(id)-\(key).lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
    defer { if lock >= 0 { close(lock) } }
    if lock >= 0 { _ = flock(lock, LOCK_EX) }
    if let text = Self.read(path) {
      known[path] = text
      return .success(text)
    }
    let answer = ask(request)
    guard answer["status"]?.string == SectionStatus.completed.rawValue,
      let text = answer["content"]?.string, !text.trimmed.isEmpty
    else {
      let message =
        answer["error"]?["message"]?.string ?? "the model gave no summary"
      return .failure(SheafError(.provider, "the summary of '\(id)': \(message)"))
    }
    let stored = JSON.object()
    stored["id"] = JSON(id)
    stored["title"] = JSON(title)
    stored["key"] = JSON(key)
    stored["summary"] = JSON(text.trimmed)
    for field in ["provider", "model", "usage", "cost", "request_key"] {
      if let value = answer[field] { stored[field] = value.copy() }
    }
    do {
      try AtomicFile.write(stored.compactText + "\n", to: path)
    } catch {
      return .failure(SheafError(.internal, "\(path): cannot write the summary"))
    }
    known[path] = text.trimmed
    return .success(text.trimmed)
  }

  private static func read(_ path: String) -> String? {
    guard let data = FileManager.default.contents(atPath: path),
      let json = try? data.withUnsafeBytes({ try JSON.parse($0) }),
      let text = json["summary"]?.string, !text.isEmpty
    else { return nil }
    return text
  }
}
