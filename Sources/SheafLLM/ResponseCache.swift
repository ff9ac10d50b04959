import Foundation
import SheafCore

/// A completed answer as the cache keeps it (no key, no headers: only what the record gets).
public struct CachedAnswer {
  /// Answer text, thinking removed.
  public var content: String
  /// Removed thinking.
  public var reasoning: String?
  /// Who answered.
  public var provider: String
  /// Which model answered.
  public var model: String
  /// `usage` as recorded.
  public var usage: JSON?
  /// The provider's stop reason.
  public var finishReason: String?
  /// How it was asked for: `seconds`, `first_token_s`, `attempts`, `repairs` (shown again when
  /// the answer is replayed from the cache).
  public var asked: JSON? = nil
}

/// Completed answers, content-addressed by `request_key`, one file each
/// (`<dir>/<first two hex digits>/<key>.json`), written atomically before the record is emitted.
///
/// Two processes writing the same key each write a whole file and rename it into place, so the
/// file is always one of them, never a mix.
public struct ResponseCache {
  /// The cache folder.
  public let directory: String

  /// The default folder: `$XDG_CACHE_HOME/sheaf`, or `~/.cache/sheaf`.
  public static func defaultDirectory(environment: [String: String]) -> String {
    if let xdg = environment["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/sheaf" }
    let home = environment["HOME"] ?? NSHomeDirectory()
    return home + "/.cache/sheaf"
  }

  /// A cache in `directory`.
  public init(directory: String) {
    self.directory = directory
  }

  private func path(_ key: String) -> String {
    "\(directory)/\(key.prefix(2))/\(key).json"
  }

  /// The answer stored for `key`, if any (an unreadable entry counts as a miss).
  public func get(_ key: String) -> CachedAnswer? {
    guard let data = FileManager.default.contents(atPath: path(key)),
      let json = try? data.withUnsafeBytes({ try JSON.parse($0) }),
      json["request_key"]?.string == key, let content = json["content"]?.string
    else { return nil }
    return CachedAnswer(
      content: content, reasoning: json["reasoning"]?.string,
      provider: json["provider"]?.string ?? "", model: json["model"]?.string ?? "",
      usage: json["usage"], finishReason: json["finish_reason"]?.string, asked: json["asked"])
  }

  /// Stores an answer.
  /// - Throws: `ToolFailure` when the folder or file cannot be written.
  public func put(_ key: String, _ answer: CachedAnswer) throws {
    let folder = "\(directory)/\(key.prefix(2))"
    do {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
      throw ToolFailure.usage(
        "\(folder): cannot create the cache folder: \(error.localizedDescription)")
    }
    let entry = JSON.object()
    entry["request_key"] = JSON(key)
    entry["provider"] = JSON(answer.provider)
    entry["model"] = JSON(answer.model)
    entry["content"] = JSON(answer.content)
    if let reasoning = answer.reasoning { entry["reasoning"] = JSON(reasoning) }
    if let usage = answer.usage { entry["usage"] = usage.copy() }
    if let reason = answer.finishReason { entry["finish_reason"] = JSON(reason) }
    if let asked = answer.asked { entry["asked"] = asked.copy() }
    entry["created_at"] = JSON(Event.timestamp())
    try AtomicFile.write(entry.compactText + "\n", to: path(key))
  }
}
