import SheafCore

/// build-prompt's work, given its options.
public enum BuildPromptCommand {
  /// Reads records, writes each with its messages; events pass through.
  /// - Throws: `ToolFailure` for malformed input or a closed output.
  public static func run(inputs: [String], options: PromptOptions) throws -> ExitStatus {
    let builder = PromptBuilder(options: options)
    return try FilterLoop.mapRecords(
      inputs: inputs, observe: builder.observe(event:), builder.build)
  }
}
