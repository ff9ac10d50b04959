/// build-prompt's work, given its options.
public enum BuildPromptCommand {
  /// Reads records, writes each with its messages; events pass through.
  /// - Throws: `ToolFailure` for malformed input, a template that does not parse, or a closed
  ///   output.
  public static func run(inputs: [String], options: PromptOptions) throws -> ExitStatus {
    let builder = PromptBuilder(options: options)
    let writer = RecordWriter()
    var failed = false
    try FilterLoop.forEach(inputs: inputs) { item, _ in
      switch item {
      case .event(_, let line):
        try writer.writeLine(line)
      case .record(let record):
        let built = try builder.build(record)
        if let status = built["status"]?.string, status != SectionStatus.pending.rawValue, status != SectionStatus.completed.rawValue {
          failed = true
        }
        try writer.write(built)
      }
    }
    return failed ? .someFailed : .completed
  }
}
