/// sheaf's version, printed by every tool's `--version`.
public enum SheafVersion {
  /// The version string.
  public static let current = "0.1.0"
}
