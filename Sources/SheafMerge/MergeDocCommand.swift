import SheafCore

/// merge-doc's work, given its options.
public enum MergeDocCommand {
  /// Reads every record of `inputs`, writes the document (to `output`, atomically, or standard
  /// output) and, when asked, the summary; says the document status on standard error.
  /// - Throws: `ToolFailure` for malformed input or an output that cannot be written.
  public static func run(
    inputs: [String], format: DocumentFormat, output: String?, summaryPath: String?,
    omitMissing: Bool, quiet: Bool, tool: String, eventsFile: String? = nil
  ) throws -> ExitStatus {
    let merger = DocumentMerger()
    try FilterLoop.forEach(inputs: inputs) { item, location in
      if case .record(let record) = item { try merger.add(record, at: location) }
    }
    let document = merger.render(format, omitMissing: omitMissing)
    if let output {
      try AtomicFile.write(document, to: output)
    } else {
      try RecordWriter().writeText(document)
    }
    if let summaryPath {
      try AtomicFile.write(merger.summary().compactText + "\n", to: summaryPath)
    }
    if let eventsFile {
      let totals = merger.summary()["totals"] ?? JSON.object()
      let event = Event.make(
        .complete, doc: merger.doc,
        fields: ["status": JSON(merger.status.rawValue), "counts": totals])
      try EventLog.append(event, to: eventsFile)
    }
    if !quiet { Diagnostics.say(tool, merger.statusLine) }
    return merger.status == .ready ? .completed : .someFailed
  }
}
