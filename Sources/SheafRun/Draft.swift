import Foundation
import SheafCore
import SheafPlan

/// `make outline`'s last step: the drafted plans (validated answers of the shipped outline plan)
/// written as plan files a person reads, edits and runs.
public enum Draft {
  /// What `sheaf-run draft` is told.
  public struct Options {
    /// The plan file to write (with several candidates, `<stem>-1.json`, `<stem>-2.json` …).
    public var out: String
    /// The brief the plans were drafted from: the plans read it as an input.
    public var brief: String?
    /// The kind of document (`report`, `prd`, `book`, `blog`) and the file of kinds.
    public var kind: String?
    public var kinds: String?
    /// Overwrite plan files that exist, and let a drafted id name a run that exists.
    public var force = false
    /// The root of the run directories (make's RUNS): a drafted id never names one that exists.
    public var runs: String?

    /// Options for these paths.
    public init(out: String) { self.out = out }
  }

  /// The files a run writes: `out`, or one per candidate.
  public static func paths(out: String, count: Int) -> [String] {
    guard count > 1 else { return [out] }
    let ext = (out as NSString).pathExtension
    let stem = ext.isEmpty ? out : String(out.dropLast(ext.count + 1))
    return (1...count).map { "\(stem)-\($0).\(ext.isEmpty ? "json" : ext)" }
  }

  /// Reads the answered records, writes each drafted plan, and lists them on standard output.
  /// - Throws: `ToolFailure` for a usage problem (a plan file that exists, an unknown kind).
  public static func run(_ options: Options, tool: String) throws -> ExitStatus {
    var records: [Record] = []
    try FilterLoop.forEach(inputs: []) { item, _ in
      if case .record(let record) = item { records.append(record) }
    }
    guard !records.isEmpty else {
      throw ToolFailure(.someFailed, "no drafted plan arrived (an earlier tool failed; see above)")
    }
    let kind = try kindSettings(options)
    let targets = paths(out: options.out, count: records.count)
    try check(out: options.out, candidates: records.count, force: options.force)
    var written: [(path: String, plan: JSON)] = []
    var failed = false
    for (index, (record, path)) in zip(records, targets).enumerated() {
      guard record.status == .completed, let data = record.json["data"], data.kind == .object
      else {
        let why = record.error.map { "\($0.message)" } ?? "no plan in the answer"
        Diagnostics.say(tool, "✗ \(path): not written: \(why)")
        failed = true
        continue
      }
      let plan = shape(data, record: record, kind: kind, options: options, path: path, tool: tool)
      // Candidates run side by side without sharing a run folder.
      if records.count > 1, let id = plan["id"]?.string {
        plan["id"] = JSON("\(id.prefix(60))-\(index + 1)")
      }
      // The model chose the id: it never takes over a run that exists (FORCE=1 lets it).
      if let runs = options.runs, !options.force, let id = plan["id"]?.string,
        FileManager.default.fileExists(atPath: "\(runs)/\(id)")
      {
        var number = 2
        while FileManager.default.fileExists(atPath: "\(runs)/\(id.prefix(58))-\(number)") {
          number += 1
        }
        let free = "\(id.prefix(58))-\(number)"
        Diagnostics.say(
          tool,
          "note: \(path): the drafted id '\(id)' names the run \(runs)/\(id), which exists; the plan is '\(free)' (FORCE=1 keeps '\(id)')"
        )
        plan["id"] = JSON(free)
      }
      let folder = (path as NSString).deletingLastPathComponent
      if !folder.isEmpty {
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      }
      do {
        try AtomicFile.write(planText(plan), to: path)
      } catch let failure as ToolFailure {
        Diagnostics.say(tool, "✗ \(path): \(failure.message)")
        failed = true
        continue
      }
      // What plan-sections says of it, now that it has a folder (its brief, its files).
      do {
        _ = try PlanReader.read(path: path)
      } catch let failure as ToolFailure {
        Diagnostics.say(tool, "warning: \(path) needs a fix before make doc:\n\(failure.message)")
        failed = true
      }
      written.append((path, plan))
    }
    let writer = RecordWriter()
    for (path, plan) in written {
      let sections = plan["sections"]?.array ?? []
      let titles = sections.prefix(4).compactMap { $0["title"]?.string }.joined(separator: "; ")
      let more = sections.count > 4 ? "; …" : ""
      try writer.writeText(
        "\(path)\t\(plan["title"]?.string ?? "?") — \(sections.count) section\(sections.count == 1 ? "" : "s"): \(titles)\(more)\n"
      )
    }
    if written.count > 1 {
      Diagnostics.say(
        tool,
        "\(written.count) candidate plans: choose one, edit it as you like, then make doc PLAN=<it>"
      )
    } else if let only = written.first {
      Diagnostics.say(tool, "read and edit \(only.path), then make doc PLAN=\(only.path)")
    }
    return failed ? .someFailed : .completed
  }

  /// A plan as people read it: a line per setting, a line per section.
  static func planText(_ plan: JSON) -> String {
    var lines: [String] = []
    for (key, value) in plan.members {
      let name = JSON(key).compactText
      if key == "sections", let sections = value.array {
        let items = sections.map { "    " + $0.compactText }.joined(separator: ",\n")
        lines.append("  \(name): [\n\(items)\n  ]")
      } else {
        lines.append("  \(name): \(value.compactText)")
      }
    }
    return "{\n" + lines.joined(separator: ",\n") + "\n}\n"
  }

  /// The kind's settings from the kinds file (empty when no kind is named).
  static func kindSettings(_ options: Options) throws -> JSON {
    guard let kind = options.kind, !kind.isEmpty else { return JSON.object() }
    guard let file = options.kinds else { return JSON.object() }
    guard let data = FileManager.default.contents(atPath: file),
      let kinds = try? data.withUnsafeBytes({ try JSON.parse($0) })
    else { throw ToolFailure.usage("\(file): cannot read the kinds of document") }
    guard let settings = kinds[kind] else {
      let known = kinds.members.map(\.key).joined(separator: ", ")
      throw ToolFailure.usage("no kind '\(kind)' (known: \(known))")
    }
    return settings
  }

  /// The answer made a plan to run: the kind's prompt set, inputs, formats and section defaults;
  /// the brief as an input (a file beside the plan, else its text); the provider and model that
  /// drafted it (never an address: the person's settings choose that).
  static func shape(
    _ data: JSON, record: Record, kind: JSON, options: Options, path: String, tool: String
  ) -> JSON {
    let plan = JSON.object()
    var filter = DraftFilter()
    let title = data["title"]?.string ?? "Untitled"
    // No id: plan-sections takes the file's name (a run folder per plan file).
    if let given = data["id"]?.string, Slug.isValid(given) { plan["id"] = JSON(given) }
    plan["title"] = JSON(title)
    // The prompt set is the kind's: a draft names none (templates read files).
    if data["prompt_set"] != nil { filter.dropped.append("prompt_set") }
    if let set = kind["prompt_set"] { plan["prompt_set"] = set.copy() }
    let inputs = JSON.object()
    if let brief = options.brief {
      let name = kind["brief_input"]?.string ?? "brief"
      inputs[name] = briefInput(brief, planPath: path, tool: tool)
    }
    for (key, value) in kind["inputs"]?.members ?? [] where inputs[key] == nil {
      inputs[key] = value.copy()
    }
    for (key, value) in data["inputs"]?.members ?? []
    where inputs[key] == nil && value.string != nil {
      inputs[key] = value.copy()
    }
    plan["inputs"] = inputs
    let llm = JSON.object()
    for (key, value) in kind["llm"]?.members ?? [] { llm[key] = value.copy() }
    for (key, value) in filter.llm(data["llm"], at: "llm")?.members ?? [] {
      llm[key] = value.copy()
    }
    if let provider = record.json["provider"]?.string { llm["provider"] = JSON(provider) }
    if let model = record.json["model"]?.string { llm["model"] = JSON(model) }
    plan["llm"] = llm
    let formats = JSON.object()
    for (key, value) in kind["formats"]?.members ?? [] { formats[key] = value.copy() }
    for (key, value) in data["formats"]?.members ?? [] {
      if let format = filter.format(value, at: "formats.\(key)") { formats[key] = format }
    }
    for key in ["on_dependency_failure", "default_mode"] {
      if let value = data[key]?.string { plan[key] = JSON(value) }
    }
    if let stages = data["stages"].flatMap({ filter.stages($0) }) { plan["stages"] = stages }
    if let modes = data["modes"].flatMap({ filter.modes($0) }) { plan["modes"] = modes }
    var sections: [JSON] = []
    for (index, section) in (data["sections"]?.array ?? []).enumerated() {
      let copy = filter.section(section, at: "sections[\(index)]")
      for (key, value) in kind["section_defaults"]?.members ?? [] where copy[key] == nil {
        copy[key] = value.copy()
      }
      sections.append(copy)
    }
    // A book gets its continuity pass: edits applied to the chapters, notes kept out.
    if kind["continuity"]?.bool == true,
      !sections.contains(where: { $0["revises"]?.bool == true })
    {
      formats["edits"] = editsFormat(chapters: sections.compactMap { $0["id"]?.string })
      let pass = JSON.object()
      pass["id"] = JSON("harmonize")
      pass["title"] = JSON("Continuity Notes")
      pass["template"] = JSON("harmonize")
      pass["format"] = JSON("edits")
      pass["description"] = JSON(
        "Read every chapter and find inconsistencies of names, facts and timeline; answer each with an edit to the chapter that must change, and list questions for the author."
      )
      pass["context"] = .array(sections.compactMap { $0["id"]?.string }.map { JSON($0) })
      pass["revises"] = JSON(true)
      pass["in_document"] = JSON(false)
      pass["llm"] = .object(["temperature": JSON(0.2)])
      sections.append(pass)
    }
    if formats.count > 0 { plan["formats"] = formats }
    plan["sections"] = .array(sections)
    // What the model chose that a plan's author decides is left out, and said.
    let known: Set<String> = [
      "id", "title", "prompt_set", "inputs", "llm", "formats", "stages", "on_dependency_failure",
      "default_mode", "modes", "sections", "description",
    ]
    for (key, _) in data.members where !known.contains(key) { filter.dropped.append(key) }
    if let description = data["description"]?.string { plan["description"] = JSON(description) }
    if !filter.dropped.isEmpty {
      plan["drafted_without"] = .array(filter.dropped.map { JSON($0) })
      Diagnostics.say(
        tool,
        "note: left out of the drafted plan (a model does not choose where data goes or which files are read): \(RunDirectory.shortList(filter.dropped))"
      )
    }
    return plan
  }

  /// The brief as a plan input: `{"file": …}` relative to the plan when it is in the plan's
  /// folder (or below), else its text (a plan reads files in its own folder only).
  static func briefInput(_ brief: String, planPath: String, tool: String) -> JSON {
    let parent = (planPath as NSString).deletingLastPathComponent
    let folder = URL(fileURLWithPath: parent.isEmpty ? "." : parent).standardized.path
    let file = URL(fileURLWithPath: brief).standardized.path
    let prefix = folder.hasSuffix("/") ? folder : folder + "/"
    if file.hasPrefix(prefix) {
      return .object(["file": JSON(String(file.dropFirst(prefix.count)))])
    }
    let text = FileManager.default.contents(atPath: brief).flatMap {
      String(data: $0, encoding: .utf8)
    }
    if notedBrief.insert(brief).inserted {
      Diagnostics.say(
        tool,
        "note: \(brief) is outside the plan's folder, so its text is copied into the plan (put it beside the plan to edit it there)"
      )
    }
    return JSON(text ?? "")
  }

  nonisolated(unsafe) private static var notedBrief = Set<String>()

  /// What `make outline` was given, as typed (checked by `check`).
  public struct Request {
    /// The brief, the kind, the sections wanted (empty: the model chooses) and the candidates.
    public var brief: String
    public var kind: String
    public var sections: String
    public var candidates: String
    /// The kinds file: the kind's guide is `kinds/<kind>.md` beside it.
    public var kinds: String

    /// A request as typed.
    public init(brief: String, kind: String, sections: String, candidates: String, kinds: String) {
      self.brief = brief
      self.kind = kind
      self.sections = sections
      self.candidates = candidates
      self.kinds = kinds
    }

    /// The guide the model reads for the kind.
    public var guide: String {
      ((kinds as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
        "kinds/\(kind).md")
    }
  }

  /// Checks what `make outline` was given, before anything is asked: the brief is readable, the
  /// kind has a guide, SECTIONS and CANDIDATES are numbers; returns the candidates.
  /// - Throws: `ToolFailure` naming the variable and what to give.
  public static func check(_ request: Request) throws -> Int {
    guard FileManager.default.isReadableFile(atPath: request.brief) else {
      throw ToolFailure.usage("BRIEF=\(request.brief): no such file")
    }
    guard let count = Int(request.candidates), (1...9).contains(count),
      request.candidates.allSatisfy(\.isASCIIDigit)
    else {
      throw ToolFailure.usage("CANDIDATES=\(request.candidates): give a number from 1 to 9")
    }
    guard request.sections.allSatisfy(\.isASCIIDigit) else {
      throw ToolFailure.usage("SECTIONS=\(request.sections): give a number")
    }
    guard !request.kind.isEmpty, request.kind.allSatisfy({ $0.isASCII && $0.isLowercase }),
      FileManager.default.isReadableFile(atPath: request.guide)
    else {
      throw ToolFailure.usage("KIND=\(request.kind): use report, prd, book or blog")
    }
    return count
  }

  /// Fails, before anything is asked, when a plan file the run would write exists.
  /// - Throws: `ToolFailure` naming it.
  public static func check(out: String, candidates: Int, force: Bool) throws {
    guard !force else { return }
    if let existing = paths(out: out, count: candidates).first(
      where: FileManager.default.fileExists)
    {
      throw ToolFailure.usage(
        "\(existing) exists (a person may have edited it); choose another OUT, or FORCE=1 to replace it"
      )
    }
  }

  /// The continuity pass's answer: edits to the chapters it read, and questions for the author.
  static func editsFormat(chapters: [String]) -> JSON {
    let ids = JSON.array(chapters.map { JSON($0) }).compactText
    let text = """
      {"type": "json", "schema": {"type": "object", "required": ["edits", "followups"],
       "properties": {
        "edits": {"type": "array", "maxItems": 40, "items": {"type": "object",
          "required": ["chapter", "reason"],
          "properties": {"chapter": {"enum": \(ids)},
            "passage": {"type": "string", "minLength": 1}, "replacement": {"type": "string"},
            "instruction": {"type": "string", "minLength": 1}, "reason": {"type": "string"}},
          "anyOf": [{"required": ["passage", "replacement"]}, {"required": ["instruction"]}]}},
        "followups": {"type": "array", "maxItems": 10, "items": {"type": "string"}}}}}
      """
    return (try? JSON.parse(text)) ?? JSON.object()
  }
}

extension Character {
  /// 0-9.
  var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
