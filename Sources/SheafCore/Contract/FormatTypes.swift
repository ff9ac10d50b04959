/// The format types a section's `format` may name.
public enum FormatTypes {
  /// Every type validate-format knows.
  public static let all = ["markdown", "json", "text", "none"]
}
