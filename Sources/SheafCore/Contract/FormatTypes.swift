/// The format types a section's `format` may name.
public enum FormatTypes {
  /// Every type validate-format knows.
  public static let all = ["markdown", "json", "text", "none"]

  /// Whether a record's `format` (a name or an object) is JSON.
  public static func isJSON(_ format: JSON?) -> Bool {
    guard let format else { return false }
    return (format.kind == .object ? format["type"]?.string : format.string) == "json"
  }
}
