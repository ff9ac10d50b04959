/// The rule for a prompt set's or a template's name: it becomes part of a file name, and is never
/// a path (no `/`, no `..`).
public enum PromptName {
  /// Whether `text` matches `[A-Za-z0-9_][A-Za-z0-9_-]{0,63}` (a leading `_` names sheaf's own
  /// templates, such as `_summary`, which no section id can).
  public static func isValid(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard (1...64).contains(bytes.count) else { return false }
    func allowed(_ byte: UInt8, first: Bool) -> Bool {
      (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
        || (byte >= 0x30 && byte <= 0x39)
        || byte == 0x5F || (!first && byte == 0x2D)
    }
    return bytes.enumerated().allSatisfy { allowed($1, first: $0 == 0) }
  }
}
