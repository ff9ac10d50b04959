import Foundation
import SheafCore

/// What produced a section's answer, as content hashes: the request (the rendered prompt, the
/// model settings) and the format rules that judged it, with the parts the prompt was made of so
/// that a change can be named.
///
/// build-prompt puts it on each record (`fingerprint`); the run keeps it with the section's
/// result, and a section is stale when the fingerprint it would get now differs from the one it
/// was built with. The hash is SHA-256 (its first 32 hex digits), the one hash of sheaf: the
/// request key is made with it too.
///
/// ```
/// "fingerprint": {"value": "…", "prompt": "…", "llm": "…", "format": "…", "inputs": "…",
///   "section": "…", "outline": "…", "options": "…",
///   "templates": {"prompts/prd/appendix.mustache": "…"},
///   "context": {"proposed_solution": "…", "open_questions": null}}
/// ```
public enum Fingerprint {
  /// The SHA-256 of `text`, as its first 32 hex digits.
  public static func hash(_ text: String) -> String {
    String(SHA256.hex(text).prefix(32))
  }

  /// The last text hashed for each part every record of a document shares (its inputs, the
  /// outline, the settings), with its hash: a stream of records hashes each once, not once a
  /// record (comparing the text again costs far less than hashing it).
  nonisolated(unsafe) private static var lastHashes: [String: (text: String, hash: String)] = [:]

  /// `hash(text)`, reusing the last hash of the part `slot` when its text is the same.
  static func hash(_ text: String, slot: String) -> String {
    if let last = lastHashes[slot], last.text.utf8.elementsEqual(text.utf8) { return last.hash }
    let value = hash(text)
    lastHashes[slot] = (text, value)
    return value
  }

  /// What shapes the request and judges the answer, besides the prompt: the request settings as
  /// call-llm resolves them (`RequestSettings.effective`) and the rules that only warn.
  public struct Settings {
    /// The effective request settings.
    public var request: JSON
    /// The rules that only warn.
    public var warn: [String]
  }

  /// The record keys that are the section's own (what `section.*` shows a template, apart from
  /// custom fields).
  static let sectionKeys = [
    "id", "title", "description", "instructions", "template", "order", "stage", "mode",
  ]

  /// The fingerprint of a record: every part its prompt is made of, each hashed.
  ///
  /// `value` is the hash of them all. `prompt` (the rendered messages, when they were rendered)
  /// is kept for reading, not compared: the parts decide the prompt, so a run is checked without
  /// rendering.
  static func make(
    _ json: JSON, templateFiles: [String], reads: TemplateReads = .everything,
    context: [String: String?], outline: [String],
    options: String, settings: Settings, prompt: String?
  ) -> JSON {
    let fingerprint = JSON.object()
    fingerprint["value"] = .null
    if let prompt { fingerprint["prompt"] = JSON(hash(prompt)) }
    fingerprint["llm"] = JSON(hash(settings.request.compactText, slot: "llm"))
    // The format, and the rules that only warn (WARN=), are the rules that judge the answer.
    fingerprint["format"] = JSON(
      hash(
        (json["format"]?.compactText ?? "null") + "\u{0}"
          + settings.warn.sorted().joined(separator: ",")))
    // The document as far as the templates show it: its title and the inputs they read (all of
    // it, hashed as it always was, when they read it all).
    let document = JSON.object()
    document["doc"] = json["doc"]?.copy()
    if reads.title { document["doc_title"] = json["doc_title"]?.copy() }
    if let read = reads.inputs, let inputs = json["inputs"] {
      let shown = JSON.object()
      for (key, value) in inputs.members where read.contains(key) { shown[key] = value.copy() }
      document["inputs"] = shown
    } else {
      document["inputs"] = json["inputs"]?.copy()
    }
    fingerprint["inputs"] = JSON(hash(document.compactText, slot: "inputs"))
    let own = JSON.object()
    for key in sectionKeys { own[key] = json[key]?.copy() }
    for (key, value) in json.members where !RecordFields.names.contains(key) {
      own[key] = value.copy()
    }
    fingerprint["section"] = JSON(hash(own.compactText))
    fingerprint["outline"] = JSON(hash(outline.joined(separator: "\u{0}"), slot: "outline"))
    fingerprint["options"] = JSON(hash(options, slot: "options"))
    // By file name (each name is one template of the set, wherever it was found), so that the
    // same files reached by another path (an absolute plan path) are the same templates.
    let templates = JSON.object()
    for path in templateFiles {
      templates[(path as NSString).lastPathComponent] = fileHash(path).map { JSON($0) } ?? .null
    }
    fingerprint["templates"] = templates
    let used = JSON.object()
    for (id, content) in context.sorted(by: { $0.key < $1.key }) {
      used[id] = content.map { JSON(hash($0)) } ?? .null
    }
    fingerprint["context"] = used
    var parts: [String] = []
    for (key, value) in fingerprint.members where key != "value" && key != "prompt" {
      parts.append(key + "=" + value.compactText)
    }
    fingerprint["value"] = JSON(hash(parts.joined(separator: "\u{0}")))
    return fingerprint
  }

  /// Each template file's hash, read once per process.
  nonisolated(unsafe) private static var fileHashes: [String: String?] = [:]

  private static func fileHash(_ path: String) -> String? {
    if let known = fileHashes[path] { return known }
    let value = FileManager.default.contents(atPath: path).map {
      hash(String(decoding: $0, as: UTF8.self))
    }
    fileHashes[path] = value
    return value
  }

  /// Why a section built with `stored` is stale now (`current`), in words; empty when it is not.
  public static func reasons(stored: JSON?, current: JSON) -> [String] {
    guard let stored, stored.kind == .object else {
      return ["it was built before sheaf kept fingerprints"]
    }
    guard stored["value"]?.string != current["value"]?.string else { return [] }
    var reasons: [String] = []
    let oldTemplates = stored["templates"]
    let newTemplates = current["templates"]
    for (path, value) in newTemplates?.members ?? [] {
      let old = oldTemplates?[path]
      if old == nil {
        reasons.append("template \(path) is used now")
      } else if old?.string != value.string {
        reasons.append("template \(path) changed")
      }
    }
    for (path, _) in oldTemplates?.members ?? [] where newTemplates?[path] == nil {
      reasons.append("template \(path) is no longer used")
    }
    let oldContext = stored["context"]
    for (id, value) in current["context"]?.members ?? [] {
      let old = oldContext?[id]
      switch (old?.string, value.string) {
      case (nil, .some):
        reasons.append("context '\(id)' completed after this section was written")
      case (.some, nil): reasons.append("context '\(id)' is no longer there")
      case (.some(let a), .some(let b)) where a != b: reasons.append("context '\(id)' changed")
      default: break
      }
    }
    let parts = [
      ("inputs", "the document inputs changed"), ("section", "the section's plan fields changed"),
      ("outline", "the other sections' titles changed"), ("llm", "the llm settings changed"),
      ("format", "the format rules changed"),
      ("options", "build-prompt's options changed"),
    ]
    for (key, words) in parts where stored[key]?.string != current[key]?.string {
      reasons.append(words)
    }
    if reasons.isEmpty { reasons.append("what it is built from changed") }
    return reasons
  }
}
