import Foundation

/// The API keys of this process's environment, masked wherever sheaf writes: records, events,
/// cache files, logs, documents, summaries and stderr.
///
/// A provider that echoes a key in an error
/// message (several do for a bad key) cannot carry it into any of them.
///
/// A key is the value of `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, any variable whose name ends in
/// `_API_KEY`, `_TOKEN` or `_SECRET`, or a variable named with `--api-key-env`, when it is at least
/// 8 characters long. It is written as `[redacted NAME]`.
public enum Secrets {
  /// The keys, longest first (so a key inside another is masked as the longer one).
  ///
  /// Set once at
  /// start (and by `register` before any work), read by every writer.
  nonisolated(unsafe) private static var keys: [(name: String, value: [UInt8])] = load(
    ProcessInfo.processInfo.environment)

  static func load(_ environment: [String: String]) -> [(name: String, value: [UInt8])] {
    var found: [(name: String, value: [UInt8])] = []
    for (name, value) in environment where isKeyName(name) && value.utf8.count >= 8 {
      found.append((name, Array(value.utf8)))
    }
    return found.sorted { $0.value.count > $1.value.count }
  }

  static func isKeyName(_ name: String) -> Bool {
    ["_API_KEY", "_TOKEN", "_SECRET"].contains { name.hasSuffix($0) } || name == "OPENAI_API_KEY"
      || name == "ANTHROPIC_API_KEY"
  }

  /// Treats the value of `variable` as a key too (`--api-key-env`).
  public static func register(
    variable: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) {
    guard let value = environment[variable], value.utf8.count >= 8,
      !keys.contains(where: { $0.value == Array(value.utf8) })
    else { return }
    keys.append((variable, Array(value.utf8)))
    keys.sort { $0.value.count > $1.value.count }
  }

  /// How many bytes at the end of `text` could be the start of a key (the longest end of it that
  /// is a key's beginning): a stream holds them back until the next piece says whether a key
  /// follows, so a key split across two pieces is masked as one.
  public static func pendingKeyPrefix(_ text: String) -> Int {
    pendingKeyPrefix(Array(text.utf8), keys: keys)
  }

  static func pendingKeyPrefix(_ bytes: [UInt8], keys: [(name: String, value: [UInt8])]) -> Int {
    var longest = 0
    for key in keys {
      let most = min(key.value.count - 1, bytes.count)
      guard most > longest else { continue }
      for length in stride(from: most, to: longest, by: -1)
      where bytes[(bytes.count - length)...].elementsEqual(key.value[..<length]) {
        longest = length
        break
      }
    }
    return longest
  }

  /// `text` with every key masked.
  public static func redact(_ text: String) -> String {
    redact(text, keys: keys)
  }

  /// `text` with the keys of `environment` masked (for tests).
  static func redact(_ text: String, environment: [String: String]) -> String {
    redact(text, keys: load(environment))
  }

  private static func redact(_ text: String, keys: [(name: String, value: [UInt8])]) -> String {
    guard !keys.isEmpty else { return text }
    let bytes = Array(text.utf8)
    guard let masked = bytes.withUnsafeBytes({ redact($0, keys: keys) }) else { return text }
    return String(decoding: masked, as: UTF8.self)
  }

  /// Where `needle` first occurs in `haystack` at or after `from`: memchr for its first byte, then
  /// memcmp for the rest.
  static func find(_ needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer, from: Int)
    -> Int?
  {
    guard needle.count > 0, let base = haystack.baseAddress, let start = needle.baseAddress,
      let first = needle.first
    else {
      return nil
    }
    var position = from
    while position + needle.count <= haystack.count {
      guard
        let hit = memchr(
          base + position, Int32(first), haystack.count - needle.count + 1 - position)
      else { return nil }
      let offset = UnsafeRawPointer(hit) - base
      if memcmp(base + offset, start, needle.count) == 0 { return offset }
      position = offset + 1
    }
    return nil
  }

  /// The bytes with every key masked, or `nil` when they hold none (the usual case: one scan).
  public static func redact(_ bytes: UnsafeRawBufferPointer) -> [UInt8]? {
    redact(bytes, keys: keys)
  }

  private static func redact(
    _ bytes: UnsafeRawBufferPointer, keys: [(name: String, value: [UInt8])]
  ) -> [UInt8]? {
    guard !keys.isEmpty, bytes.count > 0 else { return nil }
    var hits: [(start: Int, length: Int, name: String)] = []
    for key in keys {
      var from = 0
      while from + key.value.count <= bytes.count {
        guard let found = key.value.withUnsafeBytes({ find($0, in: bytes, from: from) }) else {
          break
        }
        hits.append((found, key.value.count, key.name))
        from = found + key.value.count
      }
    }
    guard !hits.isEmpty else { return nil }
    // Overlapping matches (one key inside or across another) are masked as one span, named by
    // the longest key in it: no byte of any key is left in clear.
    hits.sort { $0.start < $1.start || ($0.start == $1.start && $0.length > $1.length) }
    var spans: [(start: Int, end: Int, name: String, length: Int)] = []
    for hit in hits {
      if let last = spans.last, hit.start < last.end {
        let longer = hit.length > last.length
        spans[spans.count - 1] = (
          last.start, max(last.end, hit.start + hit.length), longer ? hit.name : last.name,
          max(last.length, hit.length)
        )
      } else {
        spans.append((hit.start, hit.start + hit.length, hit.name, hit.length))
      }
    }
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var position = 0
    for span in spans {
      out.append(contentsOf: bytes[position..<span.start])
      out.append(contentsOf: Array("[redacted \(span.name)]".utf8))
      position = span.end
    }
    out.append(contentsOf: bytes[position...])
    return out
  }
}
