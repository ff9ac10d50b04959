import SheafCore

/// build-prompt's work, given its options.
public enum BuildPromptCommand {
  /// Reads records, writes each with its messages (or, with `summaryRequests`, the summary
  /// requests they need); events pass through.
  /// - Throws: `ToolFailure` for malformed input or a closed output.
  public static func run(inputs: [String], options: PromptOptions) throws -> ExitStatus {
    let builder = PromptBuilder(options: options)
    guard options.summaryRequests else {
      return try FilterLoop.mapRecords(
        inputs: inputs, observe: builder.observe(event:), builder.build)
    }
    let writer = RecordWriter()
    try FilterLoop.forEach(inputs: inputs) { item, _ in
      switch item {
      case .event(let event, _): builder.observe(event: event)
      case .record(let record):
        let before = builder.pendingSummaries.count
        _ = try builder.build(record)
        for request in builder.pendingSummaries[before...] { try writer.write(request) }
      }
    }
    return .completed
  }
}
