/// The providers call-llm knows, by the names plans and flags use.
public enum ProviderNames {
  /// Every name, in the order messages list them.
  public static let all = ["openai", "anthropic", "ollama", "offline"]

  /// Those whose batch API sheaf speaks (`make docs BATCH=1`): OpenAI's Batch API and
  /// Anthropic's Message Batches.
  public static let withBatchAPI = ["openai", "anthropic"]

  /// Whether the environment asks for the providers' batch APIs (`BATCH=1`: `SHEAF_BATCH`).
  public static func batchAsked(_ environment: [String: String]) -> Bool {
    !["", "0"].contains(environment["SHEAF_BATCH"] ?? "")
  }

  /// The `llm` keys that shape a request, in the order they are read.
  ///
  /// Sampling and length,
  /// reasoning (`max_completion_tokens`, `reasoning_effort`, Anthropic's `thinking_budget`),
  /// Ollama's `context_window` (`num_ctx`), `extra` (merged into the body as given) and
  /// `prompt_cache`. With `provider`, `model` and `base_url` they are what an answer depends on
  /// (the rest of `llm`, such as prices, timeouts and retries, is not).
  public static let requestKeys = [
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "reasoning_effort",
    "thinking_budget", "seed", "stop", "presence_penalty", "frequency_penalty", "response_format",
    "num_ctx", "context_window", "extra", "prompt_cache",
  ]
}
