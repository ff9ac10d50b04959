/// The providers call-llm knows, by the names plans and flags use.
public enum ProviderNames {
  /// Every name, in the order messages list them.
  public static let all = ["openai", "anthropic", "ollama", "offline"]
}
