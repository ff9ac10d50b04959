import Foundation

/// Every file and folder of a run directory (DESIGN.md section 7), named once.
///
/// A run is one noun: every tool that reads or writes run state takes it as `--run DIR` and asks
/// this type for its paths; nothing else spells a run file's name. The README's run-directory
/// table is checked against `entries` by a test, so a new run file is added here and there only.
public struct RunLayout: Sendable, Equatable {
  /// The folder, `runs/<doc>`.
  public let root: String

  /// The run directory at `root`.
  public init(_ root: String) {
    self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
  }

  /// One entry of the layout: its name as the README shows it, and what it holds.
  public struct Entry: Sendable {
    /// The name, relative to the run directory (`<id>`, `<doc>`, `<n>` stand for values).
    public let name: String
    /// Who writes it and what it holds.
    public let holds: String
  }

  /// Every file and folder of a run directory, in the order the README's table lists them.
  public static let entries: [Entry] = [
    Entry(name: "plan.ndjson", holds: "the outline event, then the planned records (prepare)"),
    Entry(
      name: "planned/<id>.ndjson",
      holds: "a section's outline window and planned record: its pipeline's first step (prepare)"),
    Entry(name: "sections.mk", holds: "the generated make rules, one target per section (prepare)"),
    Entry(
      name: "run.json",
      holds:
        "the last run's plan path, mode, settings (prompt options, request settings, warn, budget, jobs), event offset; in a set, the set's rate limit and ledger"
    ),
    Entry(
      name: "row.json",
      holds: "a document of a set (make docs ROWS=): its row, whose fields are its inputs"),
    Entry(
      name: ".stamp",
      holds:
        "what the document was last built ready from (make docs): unchanged, the next make docs skips it"
    ),
    Entry(
      name: "sections/<id>.json", holds: "the latest record of each section (written atomically)"),
    Entry(name: "sections/<id>.md", holds: "its content, for people: a person may edit it"),
    Entry(name: "events.ndjson", holds: "append-only log of every event of every run"),
    Entry(
      name: "progress.json",
      holds:
        "the counts, the sections under way, J, the times and the ETA (read by every progress event)"
    ),
    Entry(
      name: "schedule.json",
      holds:
        "each section's stage, order and what it uses, and the sections done: what the ETA is worked out from"
    ),
    Entry(name: "<doc>.md", holds: "the merged document (merge-doc)"),
    Entry(
      name: "<doc>.docx, .pdf, .epub, .html, .odt",
      holds: "the document in the formats FORMAT= asks for (pandoc)"),
    Entry(name: "summary.json", holds: "the document's status, sections and totals (merge-doc)"),
    Entry(
      name: "notes/<id>.txt", holds: "regeneration notes (make regen NOTE=), kept until cleared"),
    Entry(
      name: "versions/<id>/<n>.json", holds: "results a rebuild replaced, restorable (and .md)"),
    Entry(name: "refresh", holds: "the sections this run asks again over the cache (regen)"),
    Entry(name: "keep", holds: "the sections a regeneration chose not to redo (CASCADE=)"),
    Entry(name: "summaries/", holds: "context summaries, made once per content"),
    Entry(name: "revised/<id>.json", holds: "the continuity pass's revisions (and .md)"),
    Entry(name: "followups.md", holds: "the continuity pass's questions for the author"),
    Entry(name: "review", holds: "the sections the plan holds for review"),
    Entry(name: "approved/<id>.json", holds: "a person's approval, bound to the text's hash"),
    Entry(
      name: "rate/",
      holds:
        "the run's shared rate limit: 429 cool-down, slots, and the provider's window from its rate-limit headers"
    ),
    Entry(name: "budget.json", holds: "the run's spending ledger"),
    Entry(name: ".lock", holds: "one run at a time (flock; dies with its holder)"),
    Entry(name: ".summaries.lock", holds: "one summary request at a time"),
    Entry(name: ".paused", holds: "present while a pause holds new sections back"),
    Entry(name: ".interrupted", holds: "present after an interrupted run until the next starts"),
  ]

  /// `plan.ndjson`: the outline event, then the planned records.
  public var plan: String { "\(root)/plan.ndjson" }
  /// `planned/`.
  public var planned: String { "\(root)/planned" }
  /// `planned/<id>.ndjson`: what `plan-sections --only <id>` writes for the run's plan and mode.
  public func planned(_ id: String) -> String { "\(planned)/\(id).ndjson" }
  /// `sections.mk`: the generated rules.
  public var sectionsMakefile: String { "\(root)/sections.mk" }
  /// `run.json`: the last run's plan, mode, settings and event offset.
  public var state: String { "\(root)/run.json" }
  /// `sections/`.
  public var sections: String { "\(root)/sections" }
  /// `sections/<id>.json`.
  public func record(_ id: String) -> String { "\(sections)/\(id).json" }
  /// `sections/<id>.md`.
  public func markdown(_ id: String) -> String { "\(sections)/\(id).md" }
  /// The new `.md` of a pair being saved: renamed into place after the `.json`.
  public func pendingMarkdown(_ id: String) -> String { "\(sections)/.\(id).md.new" }
  /// `events.ndjson`.
  public var events: String { "\(root)/events.ndjson" }
  /// `progress.json`.
  public var progress: String { "\(root)/progress.json" }
  /// `schedule.json`.
  public var schedule: String { "\(root)/schedule.json" }
  /// `<doc>.md`: the merged document.
  public func document(_ doc: String) -> String { "\(root)/\(doc).md" }
  /// `summary.json`.
  public var summary: String { "\(root)/summary.json" }
  /// `notes/`.
  public var notes: String { "\(root)/notes" }
  /// `notes/<id>.txt`.
  public func note(_ id: String) -> String { "\(notes)/\(id).txt" }
  /// `versions/`.
  public var versions: String { "\(root)/versions" }
  /// `versions/<id>/`.
  public func versions(_ id: String) -> String { "\(versions)/\(id)" }
  /// `versions/<id>/<n>.json`.
  public func version(_ id: String, _ number: Int) -> String { "\(versions(id))/\(number).json" }
  /// `versions/<id>/<n>.md`.
  public func versionMarkdown(_ id: String, _ number: Int) -> String {
    "\(versions(id))/\(number).md"
  }
  /// `refresh`.
  public var refresh: String { "\(root)/refresh" }
  /// `keep`.
  public var keep: String { "\(root)/keep" }
  /// `summaries/`.
  public var summaries: String { "\(root)/summaries" }
  /// `revised/`.
  public var revised: String { "\(root)/revised" }
  /// `revised/<id>.json`.
  public func revisedRecord(_ id: String) -> String { "\(revised)/\(id).json" }
  /// `revised/<id>.md`.
  public func revisedMarkdown(_ id: String) -> String { "\(revised)/\(id).md" }
  /// `followups.md`.
  public var followups: String { "\(root)/followups.md" }
  /// `review`.
  public var review: String { "\(root)/review" }
  /// `approved/`.
  public var approved: String { "\(root)/approved" }
  /// `approved/<id>.json`.
  public func approval(_ id: String) -> String { "\(approved)/\(id).json" }
  /// `rate/`.
  public var rate: String { "\(root)/rate" }
  /// `budget.json`.
  public var budget: String { "\(root)/budget.json" }
  /// `row.json`: the row of a document of a set.
  public var row: String { "\(root)/row.json" }
  /// `.stamp`: what the document was last built ready from (make docs).
  public var stamp: String { "\(root)/.stamp" }
  /// `.stamp-next`: what the make docs under way builds it from; `.stamp` once it is ready.
  public var nextStamp: String { "\(root)/.stamp-next" }
  /// `.lock`.
  public var lock: String { "\(root)/.lock" }
  /// `.summaries.lock`.
  public var summariesLock: String { "\(root)/.summaries.lock" }
  /// `.paused`.
  public var paused: String { "\(root)/.paused" }
  /// `.interrupted`.
  public var interrupted: String { "\(root)/.interrupted" }

  /// `run.json` as the last `prepare` wrote it, if there is one.
  public var settings: RunSettings { RunSettings(state: JSON.readObject(state)) }

  /// The folder must exist: `--run DIR` names a run that `sheaf-run prepare` made.
  /// - Throws: `ToolFailure.usage` when it does not.
  public func check(flag: String = "--run") throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw ToolFailure.usage("\(flag) \(root): no such run directory (make doc creates it)")
    }
  }
}

/// What `run.json` says about how the run is made: the settings `prepare` stored once, for every
/// tool of the run to read (the prompt options, the settings that shape requests, the rules that
/// only warn, the budget, the sections at once).
public struct RunSettings {
  /// `run.json`, parsed (nil when there is none).
  public let state: JSON?

  /// Settings from a parsed `run.json`.
  public init(state: JSON?) {
    self.state = state
  }

  /// build-prompt's options as stored (`prompt_options`).
  public var promptOptions: JSON? { state?["prompt_options"] }
  /// The settings from call-llm's flags that shape a request (`request`: provider, model,
  /// base_url, seed …).
  public var request: JSON? { state?["request"] }
  /// The rules that only warn (`warn`).
  public var warn: [String] {
    (state?["warn"]?.string ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(
      String.init)
  }
  /// The run's budget in USD (`budget`).
  public var budget: Double? { state?["budget"]?.double }
  /// Sections at once (`jobs`).
  public var jobs: Int? { state?["jobs"]?.int }
  /// A document of a set (`make docs`): the set's shared rate-limit folder (`rate`).
  public var setRate: String? { state?["rate"]?.string }
  /// A document of a set: the set's spending ledger (`ledger`), which BUDGET= bounds.
  public var setLedger: String? { state?["ledger"]?.string }
}

extension JSON {
  /// The JSON object in the file at `path`, if it reads and parses.
  public static func readObject(_ path: String) -> JSON? {
    guard let data = FileManager.default.contents(atPath: path),
      let json = try? data.withUnsafeBytes({ try JSON.parse($0) }), json.kind == .object
    else { return nil }
    return json
  }
}
