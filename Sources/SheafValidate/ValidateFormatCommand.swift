import SheafCore

/// validate-format's work.
public enum ValidateFormatCommand {
  /// Reads records, writes each with its verdict; events pass through.
  /// - Throws: `ToolFailure` for malformed input or a closed output.
  public static func run(inputs: [String], warn: Set<String>, sections: String? = nil) throws
    -> ExitStatus
  {
    let validator = FormatValidator(warn: warn, sectionsDirectory: sections)
    return try FilterLoop.mapRecords(inputs: inputs, { validator.validate($0) })
  }
}
