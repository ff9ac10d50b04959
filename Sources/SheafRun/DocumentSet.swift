import Foundation
import SheafCore
import SheafPlan
import SheafPrompt

/// The folder of one `make docs` of a set: `<runs>/<plan>.set/<shard>/` (`all`, or `2of4` with
/// `SHARD=2/4`), beside the set's shared `rate/`.
public struct SetLayout {
  /// `<runs>/<plan>.set/<shard>`.
  public let root: String

  /// The folder at `root`.
  public init(_ root: String) { self.root = root }

  /// The folder of `shard` of the plan `plan`'s set under `runs` (made absolute: the documents'
  /// make runs elsewhere).
  public init(runs: String, plan: String, shard: Shard) {
    let name = shard.count > 1 ? "\(shard.index)of\(shard.count)" : "all"
    root = "\(RunCommands.absolutePath(runs))/\(plan).set/\(name)"
  }

  /// `../rate/`: the rate limit every document of the set shares (every shard, on this machine).
  public var rate: String { "\((root as NSString).deletingLastPathComponent)/rate" }
  /// `budget.json`: the ledger `BUDGET=` bounds, for every document this make docs builds.
  public var ledger: String { "\(root)/budget.json" }
  /// `docs`: the ids of the documents to build, for `pipelines/docs.mk`.
  public var list: String { "\(root)/docs" }
  /// `failed`: the documents whose make doc did not come out ready, a line each (docs.mk).
  public var failed: String { "\(root)/failed" }
  /// `.lock`: held by the make docs under way.
  public var lock: String { "\(root)/.lock" }
  /// `logs/<id>.log`: what a document's make doc said.
  public func log(_ id: String) -> String { "\(root)/logs/\(id).log" }
}

/// `make docs PLAN= ROWS=`: one plan over a table of inputs, one document (and one run
/// directory, `<runs>/<id>/`) per row, each with everything a single document has.
///
/// A document whose row, plan, prompts, tools and settings are what it was last built ready
/// from (its `.stamp`), and whose sections nobody edited since, is not started again: a second
/// `make docs` of 200 documents asks nothing and takes a moment. Any other document runs its
/// `make doc`, which rebuilds exactly the sections whose fingerprint changed.
public enum DocumentSet {
  /// What a `make docs`, its `DRY=1` or `make status ROWS=` is given.
  public struct Options {
    /// The plan, the table of inputs and the root of the run directories.
    public var planPath: String
    public var rowsPath: String
    public var runs: String
    /// `DOC_ID=`: a template or a field's name (see `DocumentRows.documentIDs`).
    public var docID: String?
    /// `SHARD=i/N`.
    public var shard = Shard.all
    /// The plan's mode.
    public var mode: String?
    /// Start every document's make doc, unchanged or not (FORCE=1, ONLY=).
    public var everyDocument = false
    /// The next pass of the same make docs (BATCH=1): the ledger goes on, nothing is said.
    public var nextPass = false
    /// Let the plan read files outside its folder.
    public var allowOutside = false
    /// build-prompt's flags (PROMPT_FLAGS), the request settings (CALL_FLAGS) and prices, for
    /// the forecasts.
    public var prompts = PromptSettings()
    public var request: JSON?
    public var prices = PriceList()
    /// The environment the documents' make doc will see (what the stamp reads of it).
    public var environment = ProcessInfo.processInfo.environment

    /// Options for a plan, a table of inputs and a root of run directories.
    public init(planPath: String, rowsPath: String, runs: String) {
      self.planPath = planPath
      self.rowsPath = rowsPath
      self.runs = runs
    }
  }

  /// One document of the set.
  struct Member {
    var id: String
    var row: DocumentRows.Row
    var layout: RunLayout
    var stamp: String
  }

  /// The plan's title and this shard's documents, each with its run directory (for the set's
  /// page).
  /// - Throws: `ToolFailure.usage` for a bad plan or table.
  public static func documents(_ options: Options) throws -> (
    title: String, documents: [(id: String, run: String)]
  ) {
    let (plan, documents, _) = try rows(options)
    return (plan.title, documents.map { ($0.id, "\(options.runs)/\($0.id)") })
  }

  /// The plan, this shard's documents (their ids and rows), and how many rows there are, read
  /// and checked.
  static func rows(_ options: Options) throws -> (
    plan: Plan, documents: [(id: String, row: DocumentRows.Row)], rows: Int
  ) {
    let plan = try PlanReader.read(
      path: options.planPath, allowOutside: options.allowOutside || PlanPaths.allowOutside())
    let table = try DocumentRows.read(path: options.rowsPath)
    let ids = try table.documentIDs(template: options.docID, plan: plan.id)
    let documents = zip(ids, table.rows).filter { options.shard.owns($0.0) }.map {
      (id: $0.0, row: $0.1)
    }
    return (plan, documents, table.rows.count)
  }

  /// The plan, this shard's documents with their stamps, and how many rows there are.
  static func members(_ options: Options) throws -> (plan: Plan, members: [Member], rows: Int) {
    let (plan, documents, rows) = try rows(options)
    let common = commonStamp(plan: plan, options: options)
    var members: [Member] = []
    for (id, row) in documents {
      var hash = SHA256()
      hash.update(common)
      hash.update("\u{0}doc\u{0}\(id)")
      for (key, value) in row.fields { hash.update("\u{0}\(key)\u{0}\(value)") }
      let layout = RunLayout("\(options.runs)/\(id)")
      if options.prompts.isEmpty, let stored = layout.settings.promptOptions,
        !PromptSettings(stored: stored).isEmpty
      {
        // PROMPT_FLAGS the run remembers (none given now): they choose its templates.
        let remembered = PromptSettings(stored: stored)
        hash.update("\u{0}remembered \(stored.compactText)")
        let library = TemplateLibrary(promptDirs: remembered.promptDirs)
        let set = remembered.set ?? plan.promptSet ?? plan.id
        templates(
          in: library.candidates(set: set, planDir: nil)
            + library.candidates(set: "default", planDir: nil), into: &hash)
      }
      members.append(Member(id: id, row: row, layout: layout, stamp: hash.hexDigest()))
    }
    return (plan, members, rows)
  }

  // MARK: make docs

  /// Gets a `make docs` ready: writes each document's `row.json` (when it changed) and the list
  /// of documents to build, starts the set's ledger at zero, and says how many are unchanged.
  ///
  /// Returns the set's folder for this shard (`SetLayout`).
  /// - Throws: `ToolFailure.usage` for a bad plan or table (nothing is written).
  public static func start(_ options: Options, tool: String) throws -> String {
    let (plan, members, rows) = try members(options)
    // Nothing is written over another plan's document (a row would become its inputs).
    for member in members {
      try RunCommands.checkOwner(RunDirectory(path: member.layout.root), plan: plan.id)
    }
    let set = try folder(plan: plan, options: options)
    var build: [String] = []
    for member in members {
      try writeRow(member)
      if !options.everyDocument && unchanged(member) { continue }
      build.append(member.id)
      try AtomicFile.write(member.stamp + "\n", to: member.layout.nextStamp)
    }
    // BUDGET= bounds what this make docs spends, over all its passes.
    if !options.nextPass { unlink(set.ledger) }
    unlink(set.failed)
    try AtomicFile.write(build.joined(separator: " ") + "\n", to: set.list)
    if options.nextPass { return set.root }
    let share =
      options.shard.count > 1
      ? " (shard \(options.shard.index)/\(options.shard.count): \(members.count))" : ""
    Diagnostics.say(
      "sheaf",
      "\(plan.id): \(rows) document\(rows == 1 ? "" : "s")\(share); \(members.count - build.count) unchanged and ready, \(build.count) to build"
    )
    return set.root
  }

  /// The set's folder for this shard, created (with its `logs/` and the set's `rate/`); the plan
  /// and the table are read and checked first.
  /// - Throws: `ToolFailure.usage` for a bad plan or table, or a folder that cannot be made.
  public static func folder(_ options: Options) throws -> String {
    let (plan, _, _) = try rows(options)
    return try folder(plan: plan, options: options).root
  }

  static func folder(plan: Plan, options: Options) throws -> SetLayout {
    let set = SetLayout(runs: options.runs, plan: plan.id, shard: options.shard)
    do {
      try FileManager.default.createDirectory(
        atPath: set.root + "/logs", withIntermediateDirectories: true)
      try FileManager.default.createDirectory(atPath: set.rate, withIntermediateDirectories: true)
    } catch {
      throw ToolFailure.usage(
        "\(set.root): cannot create the set's folder: \(SystemReason.of(error))")
    }
    return set
  }

  /// Writes a document's `row.json` unless it already holds this row.
  static func writeRow(_ member: Member) throws {
    let fields = JSON.object()
    for (key, value) in member.row.fields { fields[key] = JSON(value) }
    let row = JSON.object()
    row["row"] = JSON(member.row.number)
    row["fields"] = fields
    let text = row.compactText + "\n"
    if (try? String(contentsOfFile: member.layout.row, encoding: .utf8)) == text { return }
    do {
      try FileManager.default.createDirectory(
        atPath: member.layout.root, withIntermediateDirectories: true)
    } catch {
      throw ToolFailure.usage(
        "\(member.layout.root): cannot create the run directory: \(SystemReason.of(error))")
    }
    try AtomicFile.write(text, to: member.layout.row)
  }

  /// The fields of a document's `row.json` (none when it has none).
  /// - Throws: `ToolFailure.usage` when the file is there but is not a row.
  static func storedRow(_ layout: RunLayout) throws -> [(key: String, value: String)] {
    guard FileManager.default.fileExists(atPath: layout.row) else { return [] }
    guard let fields = JSON.readObject(layout.row)?["fields"], fields.kind == .object else {
      throw ToolFailure.usage(
        "\(layout.row): not a row (make docs writes it: run make docs PLAN=… ROWS=… again)")
    }
    return fields.members.map { ($0.key, $0.value.string ?? $0.value.compactText) }
  }

  /// Whether a document is ready and built from what it would be built from now: its `.stamp`
  /// is this one, nothing under `sections/` changed after it, and it is not paused.
  static func unchanged(_ member: Member) -> Bool {
    let layout = member.layout
    guard (try? String(contentsOfFile: layout.stamp, encoding: .utf8)) == member.stamp + "\n",
      JSON.readObject(layout.summary)?["status"]?.string == "ready",
      !FileManager.default.fileExists(atPath: layout.paused),
      let stamped = modified(layout.stamp)
    else { return false }
    // A file added, removed or renamed changes the folder's time; an edit, the file's.
    guard let folder = modified(layout.sections), folder <= stamped else { return false }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: layout.sections)) ?? [] {
      guard let time = modified("\(layout.sections)/\(name)"), time <= stamped else { return false }
    }
    return true
  }

  /// A document of a set that its make doc built ready (make exited 0) is stamped.
  ///
  /// The stamp that make docs started it with becomes its `.stamp`, written anew so that its time
  /// is the build's end. Without one (a make doc of its own ran since make docs started it), nothing is stamped: the
  /// next make docs starts the document again, which then asks nothing.
  public static func stamp(_ layout: RunLayout) throws {
    guard let stamp = try? String(contentsOfFile: layout.nextStamp, encoding: .utf8) else {
      return
    }
    try AtomicFile.write(stamp, to: layout.stamp)
    unlink(layout.nextStamp)
  }

  /// A make doc starts: whatever it builds, the document is stamped again only by the make docs
  /// that started it (`inSet`), once it ends ready; a make doc of its own forgets both stamps.
  static func clearStamps(_ layout: RunLayout, inSet: Bool) {
    unlink(layout.stamp)
    if !inSet { unlink(layout.nextStamp) }
  }

  // MARK: The stamp

  /// The environment a document's build does not depend on: how many at once, where the
  /// output goes, the live view, this set's own variables.
  static let volatile: Set<String> = [
    "SHEAF_JOBS", "SHEAF_SHARD", "SHEAF_NO_LIVE", "SHEAF_LIVE", "SHEAF_DOCS_LIVE",
    "SHEAF_NO_PROGRESS",
    "SHEAF_NOTIFY", "SHEAF_CWD", "SHEAF_MAKEFILE", "SHEAF_PORT", "SHEAF_HOST", "SHEAF_ROWS",
    "SHEAF_DOC_ID", "SHEAF_DOC_ARG", "SHEAF_SECTION_ARG", "SHEAF_NOTE", "SHEAF_BRIEF", "SHEAF_OUT",
    "SHEAF_KIND", "SHEAF_SECTIONS", "SHEAF_CANDIDATES", "SHEAF_BUDGET", "SHEAF_NO_WAIT",
    "SHEAF_SET", "SHEAF_BIN", "SHEAF_FORCE", "SHEAF_FORGET", "SHEAF_CLEAR_NOTE", "SHEAF_DRY",
  ]

  /// What every document of the set is built from besides its row: sheaf's version and
  /// executable, the plan's planned records (its inputs with their files' text, formats with
  /// their schemas, settings) and its file, every template the prompt set may take (with the
  /// prompt flags given), and the environment the tools read (SHEAF_*, OLLAMA_HOST).
  static func commonStamp(plan: Plan, options: Options) -> String {
    var hash = SHA256()
    hash.update("sheaf-docs-stamp 1\u{0}\(SheafVersion.current)")
    var info = stat()
    if stat("/proc/self/exe", &info) == 0 {
      hash.update("\u{0}exe \(info.st_size) \(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
    }
    hash.update("\u{0}plan \(RunCommands.absolutePath(options.planPath))\u{0}")
    hash.update(FileManager.default.contents(atPath: options.planPath) ?? Data())
    if let graph = try? SectionGraph(plan: plan, mode: options.mode) {
      for planned in graph.sections {
        hash.update("\u{0}record \(PlanEmitter.record(for: planned, in: graph).compactText)")
      }
    }
    hash.update("\u{0}mode \(options.mode ?? "")")
    hash.update("\u{0}prompts \(options.prompts.stored.compactText)")
    let planDir = (plan.source as NSString).deletingLastPathComponent
    let folder = planDir.isEmpty ? "." : planDir
    let library = TemplateLibrary(promptDirs: options.prompts.promptDirs)
    let set = options.prompts.set ?? plan.promptSet ?? plan.planID ?? plan.id
    templates(
      in: library.candidates(set: set, planDir: folder)
        + library.candidates(set: "default", planDir: folder), into: &hash)
    for key in options.environment.keys.sorted()
    where (key.hasPrefix("SHEAF_") && !volatile.contains(key)) || key == "OLLAMA_HOST" {
      hash.update("\u{0}env \(key)=\(options.environment[key] ?? "")")
    }
    return hash.hexDigest()
  }

  /// The templates (`*.mustache`) of `folders`, names and text.
  static func templates(in folders: [String], into hash: inout SHA256) {
    for folder in folders {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
      for name in names.sorted() where name.hasSuffix(".mustache") {
        hash.update("\u{0}template \(folder)/\(name)\u{0}")
        hash.update(FileManager.default.contents(atPath: "\(folder)/\(name)") ?? Data())
      }
    }
  }

  static func modified(_ path: String) -> Double? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
  }
}
