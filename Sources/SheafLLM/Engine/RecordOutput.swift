import Foundation
import SheafCore

/// What call-llm writes: records (as they complete, or in input order), events (to stdout and the
/// events file), the attempt log, and the progress line.
///
/// A side log that cannot be written is a
/// warning, said once, and never costs an answer.
final class RecordOutput {
  private let options: CallOptions
  private let tool: String
  private let clock: EngineClock
  private let sink: (JSON) throws -> Void
  private var eventsFile: AppendFile?
  private var logFile: AppendFile?
  private var held: [Int: JSON] = [:]
  private var nextToWrite = 0
  private var warnedSideLog = false
  private var lastProgress = -Double.infinity
  private let started: Double
  /// Records read, written, failed, and output tokens.
  private(set) var counts = (read: 0, done: 0, failed: 0, tokens: 0)

  /// Output for these options; `sink` receives every line (standard output by default).
  /// - Throws: `ToolFailure` when the events file or the log cannot be opened.
  init(options: CallOptions, tool: String, clock: EngineClock, sink: ((JSON) throws -> Void)? = nil)
    throws
  {
    self.options = options
    self.tool = tool
    self.clock = clock
    started = clock.now
    if let sink {
      self.sink = sink
    } else {
      let writer = RecordWriter()
      self.sink = { try writer.write($0) }
    }
    eventsFile = try options.eventsFile.map { try AppendFile(path: $0) }
    logFile = try options.log.map { try AppendFile(path: $0) }
  }

  /// A record was read.
  func read() { counts.read += 1 }

  /// A finished record, number `index` of the input: written now, or in input order with
  /// `--keep-order`.
  func record(_ index: Int, _ record: JSON) throws {
    counts.done += 1
    switch record["status"]?.string.flatMap(SectionStatus.init(rawValue:)) {
    case .completed: counts.tokens += record["usage"]?["output_tokens"]?.int ?? 0
    case .failed, .cancelled, .paused: counts.failed += 1
    default: break
    }
    guard options.keepOrder else {
      try sink(record)
      return
    }
    held[index] = record
    while let next = held.removeValue(forKey: nextToWrite) {
      try sink(next)
      nextToWrite += 1
    }
  }

  /// An input line that is an event: passed on as it came.
  func passThrough(_ event: JSON) throws {
    try sink(event)
  }

  /// An event of call-llm's own, to stdout with `--events` and to the events file.
  func event(_ name: Event.Name, doc: String?, _ fields: KeyValuePairs<String, JSON>) throws {
    guard options.events || eventsFile != nil else { return }
    let event = Event.make(name, doc: doc, fields: fields)
    if options.events { try sink(event) }
    if let eventsFile { sideLog { try eventsFile.append(event.compactText) } }
  }

  /// An event made elsewhere (a run's `progress`), to stdout with `--events` and to the events
  /// file.
  func event(_ event: JSON) throws {
    if options.events { try sink(event) }
    if let eventsFile { sideLog { try eventsFile.append(event.compactText) } }
  }

  /// One line of the attempt log (`--log`).
  func log(_ line: @autoclosure () -> JSON) {
    guard let logFile else { return }
    let text = line().compactText
    sideLog { try logFile.append(text) }
  }

  /// Whether the attempt log is kept.
  var logs: Bool { logFile != nil }

  private func sideLog(_ write: () throws -> Void) {
    do {
      try write()
    } catch let failure as ToolFailure {
      if !warnedSideLog {
        Diagnostics.say(tool, "warning: \(failure.message); the answers are kept")
      }
      warnedSideLog = true
    } catch {
      if !warnedSideLog { Diagnostics.say(tool, "warning: \(error)") }
      warnedSideLog = true
    }
  }

  /// Whether a progress line is drawn.
  ///
  /// Not under `make doc`'s live view (`SHEAF_NO_PROGRESS=1`): that one block shows the whole
  /// document instead of a line per process.
  var showsProgress: Bool {
    (Diagnostics.stderrIsTerminal && options.environment["SHEAF_NO_PROGRESS"] != "1")
      || options.progress
  }

  /// Redraws the progress line (at most four times a second unless `force`).
  func progress(force: Bool, inFlight: Int, inputDone: Bool) {
    guard showsProgress else { return }
    let now = clock.now
    guard force || now - lastProgress >= 0.25 else { return }
    lastProgress = now
    let elapsed = now - started
    var eta = ""
    if counts.done > 0 && counts.read > counts.done {
      eta = " · ETA \(Int((elapsed / Double(counts.done)) * Double(counts.read - counts.done)))s"
    }
    let more = inputDone ? "" : "+"
    Diagnostics.raw(
      "\r\u{1B}[K\(tool): \(counts.done)/\(counts.read)\(more) done · \(inFlight) in flight · \(counts.failed) failed · \(counts.tokens) tokens\(eta)"
    )
  }
}
