/// One line of input, read: a record or an event.
public enum StreamItem {
  /// A section record.
  case record(Record)
  /// An event line: the parsed object and its exact bytes, for passing through unchanged.
  case event(JSON, UnsafeRawBufferPointer)
}

/// Where a line came from, for messages: `stdin:12`.
public struct LineLocation: Sendable, CustomStringConvertible {
  /// `stdin` or the file's path.
  public var source: String
  /// 1-based line number.
  public var line: Int

  /// A place in an input.
  public init(source: String, line: Int) {
    self.source = source
    self.line = line
  }

  /// `source:line`.
  public var description: String { "\(source):\(line)" }
}

/// Reads NDJSON from standard input or named files, one item at a time, in order.
public enum FilterLoop {
  /// Calls `body` for every record and event of `inputs` (standard input when empty; `-` is
  /// standard input), skipping blank lines.
  /// - Throws: `ToolFailure` with `malformedInput` at the first bad line (after `body` has seen
  ///   every good one before it), or whatever `body` throws.
  public static func forEach(
    inputs: [String], _ body: (StreamItem, LineLocation) throws -> Void
  ) throws {
    let paths = inputs.isEmpty ? ["-"] : inputs
    for path in paths {
      let reader = try LineReader(path: path)
      while let line = try reader.next() {
        if isBlank(line) { continue }
        let location = LineLocation(source: reader.name, line: reader.lineNumber)
        let object = try parseObject(line, at: location)
        if Event.isEvent(object) {
          try body(.event(object, line), location)
        } else {
          try body(.record(Record(object)), location)
        }
      }
    }
  }

  /// The shape of most filters: every record of `inputs` through `transform`, every event through
  /// unchanged, in order.
  ///
  /// Exits 1 when a record comes out neither pending nor completed.
  /// - Throws: `ToolFailure` for malformed input or a closed output, or what `transform` throws.
  public static func mapRecords(
    inputs: [String], observe: (JSON) -> Void = { _ in }, _ transform: (Record) throws -> JSON
  ) throws -> ExitStatus {
    let writer = RecordWriter()
    var failed = false
    try forEach(inputs: inputs) { item, _ in
      switch item {
      case .event(let event, let line):
        observe(event)
        try writer.writeLine(line)
      case .record(let record):
        let output = try transform(record)
        if let status = output["status"]?.string, status != SectionStatus.pending.rawValue,
          status != SectionStatus.completed.rawValue
        {
          failed = true
        }
        try writer.write(output)
      }
    }
    return failed ? .someFailed : .completed
  }

  /// Parses one line that must hold a JSON object.
  /// - Throws: `ToolFailure` (malformed input) naming the place and what is wrong.
  public static func parseObject(_ line: UnsafeRawBufferPointer, at location: LineLocation) throws
    -> JSON
  {
    let value: JSON
    do {
      value = try JSON.parse(line)
    } catch {
      throw ToolFailure(.malformedInput, "\(location): invalid JSON: \(error.description)")
    }
    guard value.kind == .object else {
      throw ToolFailure(
        .malformedInput,
        "\(location): expected a JSON object (one record or event per line), got \(value.kind.article)"
      )
    }
    return value
  }

  /// Whether a line is only spaces, tabs and carriage returns (blank lines are skipped).
  public static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
    line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
  }
}

extension JSON.Kind {
  /// The kind with its article, for messages: `an array`, `a number`.
  public var article: String {
    switch self {
    case .object, .array: return "an \(rawValue)"
    case .bool: return "a boolean"
    default: return "a \(rawValue)"
    }
  }
}
