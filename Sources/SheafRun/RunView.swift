import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// What a person sees of a run: one line per section with a status mark, and the document's
/// progress, from the run directory and `events.ndjson`.
public final class RunView {
  let run: RunDirectory
  var sections: [(id: String, title: String, order: Int, stage: Int)] = []
  /// The document's id, from the planned records.
  let doc: String?
  var live: [String: (status: String, text: String)] = [:]
  var runStart: Date?
  var lastEvent: Date?
  var completeStatus: String?
  private var eventsOffset: UInt64 = 0
  private var partialLine: [UInt8] = []
  /// Keep the text of `chunk` events (only a live view shows it).
  private let keepsText: Bool
  /// How much of a section's text being written is kept (its end).
  private let textLimit: Int
  /// The requests of each section in this run (its `attempt` events).
  var attempts: [String: Int] = [:]
  /// Lines of events.ndjson that were not JSON (a writer killed mid-line), skipped.
  public private(set) var tornLines = 0

  /// A view of the run at `path`; `streaming` keeps the text being written (the last
  /// `textLimit` characters of it).
  public init(run: RunDirectory, streaming: Bool = false, textLimit: Int = 400) {
    self.run = run
    keepsText = streaming
    self.textLimit = textLimit
    // Only this run's events: they start where run.json says.
    if let offset = run.state?["events_offset"]?.int, offset > 0 {
      let size =
        (try? FileManager.default.attributesOfItem(atPath: run.layout.events)[.size] as? NSNumber)?
        .uint64Value ?? 0
      if UInt64(offset) <= size { eventsOffset = UInt64(offset) }
    }
    var doc: String?
    var sections: [(id: String, title: String, order: Int, stage: Int)] = []
    run.forEachPlannedLine { record in
      guard !Event.isEvent(record), let id = record["id"]?.string else { return }
      doc = doc ?? record["doc"]?.string
      sections.append(
        (id, record["title"]?.string ?? id, record["order"]?.int ?? 0, record["stage"]?.int ?? 1))
    }
    self.doc = doc
    self.sections = sections.sorted { $0.order < $1.order }
  }

  private let formatter: ISO8601DateFormatter = {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
  }()

  /// Reads the events appended since the last call; returns them.
  @discardableResult
  public func readEvents(collect: Bool = true) -> [JSON] {
    guard let handle = FileHandle(forReadingAtPath: run.layout.events) else { return [] }
    defer { try? handle.close() }
    try? handle.seek(toOffset: eventsOffset)
    var events: [JSON] = []
    // A block at a time, so memory stays flat however long the run's log is.
    while let data = try? handle.read(upToCount: 4 << 20), !data.isEmpty {
      eventsOffset += UInt64(data.count)
      partialLine.append(contentsOf: data)
      parseLines(into: &events, collect: collect)
    }
    return events
  }

  /// Parses the complete lines of `partialLine` (one pass: each line is parsed where it lies) and
  /// keeps what follows the last newline for the next read.
  private func parseLines(into events: inout [JSON], collect: Bool) {
    let chunk = Array("\"event\":\"chunk\"".utf8)
    var start = 0
    partialLine.withUnsafeBytes { bytes in
      var index = 0
      while index < bytes.count {
        guard bytes[index] == 0x0A else {
          index += 1
          continue
        }
        let line = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
        start = index + 1
        index += 1
        if line.isEmpty { continue }
        // A status does not need the text being written: skip chunk events unparsed.
        if !keepsText && Self.contains(line, chunk) { continue }
        guard let event = try? JSON.parse(line), event.kind == .object else {
          tornLines += 1
          continue
        }
        apply(event)
        if collect { events.append(event) }
      }
    }
    partialLine.removeFirst(start)
  }

  private static func contains(_ line: UnsafeRawBufferPointer, _ needle: [UInt8]) -> Bool {
    guard line.count >= needle.count else { return false }
    // The event name comes first in every event sheaf writes: look near the start only.
    let window = min(line.count, 64)
    for offset in 0...(window - needle.count) where line[offset] == needle[0] {
      var matched = true
      for (k, byte) in needle.enumerated() where line[offset + k] != byte {
        matched = false
        break
      }
      if matched { return true }
    }
    return false
  }

  private func apply(_ event: JSON) {
    let ts = event["ts"]?.string.flatMap { Event.date($0) ?? formatter.date(from: $0) }
    if let ts { lastEvent = ts }
    let id = event["id"]?.string ?? ""
    switch event["event"]?.string {
    case "progress" where event["phase"]?.string == "INIT":
      runStart = ts
      live = [:]
      attempts = [:]
      completeStatus = nil
    case "section_start":
      live[id] = ("processing", "")
    case "chunk":
      var entry = live[id] ?? ("processing", "")
      entry.text = String((entry.text + (event["text"]?.string ?? "")).suffix(textLimit))
      live[id] = entry
    case "section_complete":
      live[id] = ("completed", live[id]?.text ?? "")
    case "section_failed":
      live[id] = (event["error"]?["type"]?.string == "dependency_failed" ? "skipped" : "failed", "")
    case "complete":
      completeStatus = event["status"]?.string
    case "attempt":
      attempts[id, default: 0] += 1
    default:
      break
    }
  }

  /// Where in `events.ndjson` the events read so far end (the start of the first line not read
  /// whole): what a live page follows on from.
  public var offset: UInt64 { eventsOffset - UInt64(partialLine.count) }

  /// Whether the run ended (a `complete` event after its start).
  public var isComplete: Bool { completeStatus != nil }

  /// The status of a section: its saved record's (read once by the caller), else what the events
  /// of this run say.
  func status(_ id: String, stored: RunDirectory.Stored) -> String {
    switch stored {
    case .damaged: return "damaged"
    case .record(let record):
      if let status = record["status"]?.string {
        if status == SectionStatus.completed.rawValue && record["source"]?.string == "human" {
          return "human"
        }
        return status
      }
    case .missing: break
    }
    return live[id]?.status ?? "pending"
  }

  /// The tokens of the sections' records, with what the provider's prompt cache read and wrote:
  /// `tokens: 17970 in (1200 of them cached, 300 written to the cache), 4000 out`.
  static func tokens(_ records: [JSON]) -> String? {
    func sum(_ key: String) -> Int { records.compactMap { $0["usage"]?[key]?.int }.reduce(0, +) }
    let input = sum("input_tokens")
    let output = sum("output_tokens")
    guard input + output > 0 else { return nil }
    let cached = sum("cached_input_tokens")
    let written = sum("cache_write_tokens")
    var cache: [String] = []
    if cached > 0 { cache.append("\(cached) of them cached") }
    if written > 0 { cache.append("\(written) written to the cache") }
    let note = cache.isEmpty ? "" : " (" + cache.joined(separator: ", ") + ")"
    return "tokens: \(input) in\(note), \(output) out"
  }

  /// What the sections are, in words that mean what they say: "2/12 completed, 1 failed,
  /// 9 skipped" (a person's section counts as completed; only the kinds there are are named).
  static func counts(_ states: [String], total: Int) -> String {
    var count: [String: Int] = [:]
    for state in states { count[state == "human" ? "completed" : state, default: 0] += 1 }
    var words = ["\(count["completed"] ?? 0)/\(total) completed"]
    for state in ["processing", "failed", "skipped", "paused", "cancelled", "damaged", "pending"] {
      guard let number = count[state], number > 0 else { continue }
      words.append("\(number) \(state == "processing" ? "in progress" : state)")
    }
    return words.joined(separator: ", ")
  }

  public static func mark(_ status: String) -> String {
    switch status {
    case "completed": return "✓"
    case "human": return "✎"
    case "failed": return "✗"
    case "skipped": return "⊘"
    case "cancelled": return "■"
    case "paused": return "‖"
    case "damaged": return "!"
    case "processing": return "…"
    default: return "·"
    }
  }

  /// Seconds as m:ss.
  public static func clock(_ seconds: Double) -> String {
    let whole = max(0, Int(seconds.rounded()))
    return String(format: "%d:%02d", whole / 60, whole % 60)
  }

  /// Why sections would be built again (`make status` judges them; the live view does not).
  public var verdicts: [String: Freshness.Verdict] = [:]
  /// What the next `make doc` would ask for (status only).
  public var forecast: Forecast?

  /// Each section with its stored record (read once per drawing) and status, how many are done,
  /// and the stages that still have a section not done.
  func tally() -> (
    states: [(
      section: (id: String, title: String, order: Int, stage: Int), stored: RunDirectory.Stored,
      state: String
    )],
    done: Int, open: Set<Int>
  ) {
    var states:
      [(
        section: (id: String, title: String, order: Int, stage: Int), stored: RunDirectory.Stored,
        state: String
      )] = []
    var done = 0
    var open = Set<Int>()
    for section in sections {
      let stored = run.stored(section.id)
      let state = status(section.id, stored: stored)
      if ["completed", "human", "failed", "skipped"].contains(state) {
        done += 1
      } else {
        open.insert(section.stage)
      }
      states.append((section, stored, state))
    }
    return (states, done, open)
  }

  /// The state as JSON lines: each section whose status changed since `last` (`{"type":
  /// "section", "ts", "id", "title", "stage", "status", "seconds", "output_tokens"}`), then, if
  /// any did, the progress (`{"type": "progress", "ts", "doc", "done", "total", "stage", "status",
  /// "eta_s"}`; `status` is the document's once it is complete).
  func stateLines(changedFrom last: inout [String: String]) -> [JSON] {
    var lines: [JSON] = []
    let (states, done, open) = tally()
    for (section, stored, state) in states {
      guard last[section.id] != state else { continue }
      last[section.id] = state
      let line = JSON.object()
      line["type"] = JSON("section")
      line["ts"] = JSON(Event.timestamp())
      line["id"] = JSON(section.id)
      line["title"] = JSON(section.title)
      line["stage"] = JSON(section.stage)
      line["status"] = JSON(state)
      if case .record(let record) = stored {
        line["seconds"] = record["timing"]?["seconds"]?.copy() ?? .null
        line["output_tokens"] = record["usage"]?["output_tokens"]?.copy() ?? .null
      }
      lines.append(line)
    }
    guard !lines.isEmpty || (isComplete && last["\u{0}complete"] == nil) else { return [] }
    let progress = JSON.object()
    progress["type"] = JSON("progress")
    progress["ts"] = JSON(Event.timestamp())
    progress["doc"] = doc.map { JSON($0) } ?? .null
    progress["done"] = JSON(done)
    progress["total"] = JSON(sections.count)
    progress["stage"] = open.min().map { JSON($0) } ?? .null
    progress["eta_s"] =
      isComplete ? .null : RunProgress.eta(run: run.layout).map { JSON($0) } ?? .null
    if isComplete {
      progress["status"] = completeStatus.map { JSON($0) } ?? .null
      last["\u{0}complete"] = "1"
    }
    lines.append(progress)
    return lines
  }

  /// The table: a line per section, then the progress line, as it is at `now`.
  public func render(streaming: Bool, now: Date = Date()) -> String {
    let gate = RunDirectory.ReviewGate(run: run)
    let width = max(12, sections.map(\.id.count).max() ?? 12)
    var lines: [String] = []
    let (states, done, openStages) = tally()
    for (section, stored, state) in states {
      var line =
        "\(Self.mark(state)) \(section.id.padding(toLength: width, withPad: " ", startingAt: 0))  \(state.padding(toLength: 10, withPad: " ", startingAt: 0))"
      if state == "damaged" {
        line += "  sections/\(section.id).json is damaged; the next make doc rebuilds it"
      } else if case .record(let record) = stored {
        if let seconds = record["timing"]?["seconds"]?.double {
          line += String(format: " %6.1fs", seconds)
        }
        if let tokens = record["usage"]?["output_tokens"]?.int {
          line += String(format: " %6d tok", tokens)
        }
        if let attempts = record["attempts"]?.int, attempts > 1 { line += "  \(attempts) tries" }
        if let cost = record["cost"]?.double { line += String(format: "  $%.4f", cost) }
        if state == "completed", gate.awaits(section.id, record: record) {
          line += "  awaits review"
        }
        if case .stale(let reasons)? = verdicts[section.id] {
          line += "  stale: " + reasons.joined(separator: "; ")
        }
        if let error = record["error"], state != "completed" {
          line += "  \(error["type"]?.string ?? "?"): \(SheafError(json: error).shown)"
        }
      } else if streaming, state == "processing", let text = live[section.id]?.text, !text.isEmpty {
        let flat = text.replacingOccurrences(of: "\n", with: " ").trimmed
        line += "  " + String(flat.suffix(60))
      }
      lines.append(line)
    }
    let total = sections.count
    var progress = Self.counts(states.map(\.state), total: total)
    // The stage under way: the first that has a section not done.
    let stages = Set(sections.map(\.stage))
    if stages.count > 1, let current = openStages.min() {
      let position = (stages.sorted().firstIndex(of: current) ?? 0) + 1
      progress += " · stage \(position) of \(stages.count)"
    }
    if let runStart {
      let end = isComplete ? (lastEvent ?? now) : now
      let elapsed = end.timeIntervalSince(runStart)
      // Once it is over, the time is the last run's (a regeneration's, say), not the document's.
      progress +=
        isComplete ? " · last run \(Self.clock(elapsed))" : " · elapsed \(Self.clock(elapsed))"
      if !isComplete && done < total, let left = RunProgress.eta(run: run.layout, now: now) {
        progress += " · ETA \(Self.clock(left))"
      }
    }
    if let completeStatus { progress += " · document \(completeStatus)" }
    lines.append(progress)
    let records = sections.compactMap { run.record($0.id) }
    if let tokens = Self.tokens(records) { lines.append(tokens) }
    let costs = records.compactMap { $0["cost"]?.double }
    if !costs.isEmpty {
      lines.append(
        String(format: "cost: $%.4f", Price.rounded(costs.reduce(0, +)))
          + (costs.count < sections.count ? " (sections with a known price)" : ""))
    }
    if let forecast {
      lines.append(
        RunCommands.describe(forecast).split(separator: "\n").last.map(String.init) ?? "")
    }
    return lines.joined(separator: "\n") + "\n"
  }
}

extension RunCommands {
  /// Prints the state of a run.
  public static func status(
    run: RunDirectory, prompts: PromptSettings = PromptSettings(), request: JSON? = nil,
    prices: PriceList = PriceList()
  ) throws -> ExitStatus {
    try requireRun(run)
    guard FileManager.default.fileExists(atPath: run.layout.plan) else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    let view = RunView(run: run)
    // The truth about each section: judged against what it would be built from now, with the
    // provider settings of the last run unless this environment gives its own.
    let options = run.promptOptions(given: prompts, request: request)
    let freshness = Freshness(run: run, prompts: options)
    let verdicts = freshness.verdicts(of: run)
    for (id, verdict, _, _) in verdicts { view.verdicts[id] = verdict }
    view.forecast = Forecast(
      verdicts: verdicts, run: run, prices: prices, options: options,
      summaries: freshness.pendingSummaries)
    view.readEvents(collect: false)
    if view.tornLines > 0 {
      Diagnostics.say(
        "sheaf-run",
        "warning: \(run.layout.events): skipped \(view.tornLines) line\(view.tornLines == 1 ? "" : "s") that \(view.tornLines == 1 ? "is" : "are") not JSON (a writer stopped mid-line)"
      )
    }
    try RecordWriter().writeText(view.render(streaming: false))
    if let line = run.reviewLine() { try RecordWriter().writeText(line + "\n") }
    return .completed
  }

  /// The runs in the folder that holds `path` (those with a run.json), sorted: what a mistyped
  /// `DOC=` is told of.
  public static func runNames(besides path: String) -> [String] {
    let runs = (path as NSString).deletingLastPathComponent
    let folder = runs.isEmpty ? "." : runs
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
      FileManager.default.fileExists(atPath: "\(folder)/\($0)/run.json")
    }.sorted()
  }

  /// Fails, naming the runs there are, when no run directory is at `run`'s path (a mistyped
  /// `DOC=`): nothing would ever appear there.
  static func requireRun(_ run: RunDirectory) throws {
    var isFolder: ObjCBool = false
    guard
      !FileManager.default.fileExists(atPath: run.path, isDirectory: &isFolder)
        || !isFolder.boolValue
    else { return }
    let runs = (run.path as NSString).deletingLastPathComponent
    let name = (run.path as NSString).lastPathComponent
    let names = runNames(besides: run.path)
    let there = names.isEmpty ? "there are none yet" : "there are: " + names.joined(separator: ", ")
    throw ToolFailure.usage("no run named '\(name)' in \(runs.isEmpty ? "." : runs) (\(there))")
  }

  /// Shows the state of a run, then follows it: on a terminal the table is redrawn with the text
  /// of the sections being written; otherwise a line per change.
  ///
  /// Ends at the run's `complete`
  /// event with `--until-complete`, or after `timeout` seconds.
  public static func watch(
    run: RunDirectory, untilComplete: Bool, timeout: Double?, json: Bool = false
  ) throws -> ExitStatus {
    let writer = RecordWriter()
    let start = Date()
    try requireRun(run)
    // Wait for the run to be prepared (watch may start before make has prepared it).
    while !FileManager.default.fileExists(atPath: run.layout.plan) {
      if let timeout, Date().timeIntervalSince(start) > timeout {
        throw ToolFailure.usage("\(run.path): no run appeared")
      }
      usleep(100_000)
    }
    // Started by make doc for its live view: gone when make is (a Ctrl-C, a kill).
    let parent = getppid()
    let terminal = isatty(1) != 0 && !json
    let view = RunView(run: run, streaming: terminal)
    view.readEvents()
    if json {
      // The state as NDJSON: every section once, then each change, and the progress with it.
      var last: [String: String] = [:]
      while true {
        for line in view.stateLines(changedFrom: &last) { try writer.write(line) }
        if untilComplete && view.isComplete { break }
        if let timeout, Date().timeIntervalSince(start) > timeout { break }
        usleep(200_000)
        view.readEvents()
      }
      return .completed
    }
    try writer.writeText((terminal ? "\u{1B}[H\u{1B}[2J" : "") + view.render(streaming: terminal))
    while true {
      if untilComplete && view.isComplete { break }
      if let timeout, Date().timeIntervalSince(start) > timeout { break }
      usleep(terminal ? 100_000 : 200_000)
      if getppid() != parent { break }
      let events = view.readEvents()
      if terminal {
        if !events.isEmpty {
          try writer.writeText("\u{1B}[H\u{1B}[2J" + view.render(streaming: true))
        }
        continue
      }
      for event in events {
        let id = event["id"]?.string ?? ""
        switch event["event"]?.string {
        case "section_start":
          try writer.writeText("… \(id) started (attempt \(event["attempt"]?.int ?? 1))\n")
        case "section_complete":
          try writer.writeText(
            "✓ \(id) (\(String(format: "%.1f", event["seconds"]?.double ?? 0)) s)\n")
        case "section_failed":
          try writer.writeText(
            "✗ \(id): \(event["error"]?["type"]?.string ?? "?"): \(event["error"]?["message"]?.string ?? "")\n"
          )
        case "complete": try writer.writeText(view.render(streaming: false))
        default: break
        }
      }
    }
    return .completed
  }
}
