import Foundation
import SheafCore
import SheafValidate

/// Reads a plan from a JSON file or a Markdown outline into a checked `Plan`.
public enum PlanReader {
  /// The section keys the contract knows; every other key is passed through.
  static let sectionKeys: Set<String> = [
    "id", "title", "description", "stage", "depends_on", "context", "template", "format", "llm",
    "modes", "instructions", "on_dependency_failure", "review", "revises", "in_document",
  ]

  /// Section keys the contract knows that reach the record as the plan wrote them.
  static let passedKeys: Set<String> = ["review", "revises", "in_document"]

  /// Reads the plan at `path` (`-` or `nil`: standard input), with `overrides` replacing inputs
  /// (`NAME=text` or `NAME=@file`).
  /// - Throws: `ToolFailure` — malformed JSON is `malformedInput`; every other problem is `usage`,
  ///   all of them listed, one per line.
  public static func read(
    path: String?, overrides: [String] = [], allowOutside: Bool = PlanPaths.allowOutside()
  ) throws -> Plan {
    let source = path.flatMap { $0 == "-" ? nil : $0 } ?? "stdin"
    let text = try readText(path: path, source: source)
    let directory = source == "stdin" ? "." : (source as NSString).deletingLastPathComponent
    let isMarkdown: Bool
    if source == "stdin" {
      isMarkdown = text.first(where: { !$0.isWhitespace }) != "{"
    } else {
      let ext = (source as NSString).pathExtension.lowercased()
      isMarkdown = ["md", "markdown", "txt"].contains(ext)
    }
    let object: JSON
    if isMarkdown {
      do {
        object = try MarkdownOutline.planObject(from: text)
      } catch let problems as PlanProblems {
        throw ToolFailure.usage(problems.lines.map { "\(source): \($0)" }.joined(separator: "\n"))
      }
    } else {
      do {
        object = try JSON.parse(text)
      } catch {
        throw ToolFailure(.malformedInput, "\(source): invalid JSON: \(error.description)")
      }
      guard object.kind == .object else {
        throw ToolFailure(
          .malformedInput, "\(source): a plan is a JSON object, got \(object.kind.article)")
      }
    }
    do {
      return try build(
        from: object, source: source, directory: directory, overrides: overrides,
        allowOutside: allowOutside)
    } catch let problems as PlanProblems {
      throw ToolFailure(.usage, problems.lines.map { "\(source): \($0)" }.joined(separator: "\n"))
    }
  }

  private static func readText(path: String?, source: String) throws -> String {
    let data: Data?
    if source == "stdin" {
      data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
      data = FileManager.default.contents(atPath: source)
    }
    guard let data else {
      let reason =
        FileManager.default.fileExists(atPath: source) ? "cannot read it" : "no such file"
      throw ToolFailure.usage("\(source): \(reason)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ToolFailure(.malformedInput, "\(source): not UTF-8 text")
    }
    return text
  }

  /// What plan-sections would refuse in a plan given as a value (a drafted plan: `make outline`),
  /// one problem a line; its files (inputs, schema files) are not read, having no folder yet.
  public static func problems(ofPlan object: JSON) -> [String] {
    guard object.kind == .object else {
      return ["a plan is a JSON object, got \(object.kind.article)"]
    }
    let copy = object.copy()
    copy["inputs"] = nil
    let formats =
      (copy["formats"]?.members.map(\.value) ?? [])
      + (copy["sections"]?.array?.compactMap { $0["format"] } ?? [])
    for format in formats where format.kind == .object { format["schema_file"] = nil }
    do {
      _ = try build(from: copy, source: "the plan", directory: ".", overrides: [])
      return []
    } catch let problems as PlanProblems {
      return problems.lines
    } catch {
      return ["\(error)"]
    }
  }

  /// Registers `problems(ofPlan:)` as the `plan` check of JSON formats (`"check": "plan"`).
  public static func registerCheck() {
    FormatValidator.checks["plan"] = problems(ofPlan:)
  }

  /// Builds and checks a plan from its JSON object.
  /// - Throws: `PlanProblems` listing everything wrong.
  static func build(
    from object: JSON, source: String, directory: String, overrides: [String],
    allowOutside: Bool = false
  ) throws -> Plan {
    var problems: [String] = []
    func typed(_ value: JSON?, _ path: String, _ shape: PlanTypes.Shape) -> Bool {
      guard let value else { return true }
      if let problem = PlanTypes.problem(value, at: path, shape) {
        problems.append(problem)
        return false
      }
      return true
    }
    func resolve(_ file: String, field: String) -> String? {
      switch PlanPaths.resolve(file, field: field, folder: directory, allowOutside: allowOutside) {
      case .success(let path): return path
      case .failure(let refusal):
        problems.append(refusal.message)
        return nil
      }
    }

    // The document.
    _ = typed(object["id"], "id", .string)
    _ = typed(object["title"], "title", .string)
    _ = typed(object["default_mode"], "default_mode", .string)
    _ = typed(object["prompt_set"], "prompt_set", .name)
    let policies = DependencyPolicy.allCases.map(\.rawValue)
    _ = typed(object["on_dependency_failure"], "on_dependency_failure", .oneOf(policies))
    var id = object["id"]?.string ?? ""
    if object["id"]?.string == nil {
      let stem = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
      let folder = (directory as NSString).lastPathComponent
      id = Slug.make(from: stem == "plan" || source == "stdin" ? folder : stem)
      if id.isEmpty || !Slug.isValid(id) { id = "doc" }
    } else if !Slug.isValid(id) {
      problems.append("document \(Slug.problem(id))")
    }
    let title = object["title"]?.string ?? id

    var inputs: [(key: String, value: String)] = []
    var inputFiles: [String] = []
    if let given = object["inputs"] {
      if given.kind != .object {
        problems.append("inputs must be an object of name: text or name: {\"file\": path}")
      }
      for (name, value) in given.members {
        if let text = value.string {
          inputs.append((name, text))
        } else if let file = value["file"]?.string {
          guard let path = resolve(file, field: "inputs.\(name).file") else { continue }
          switch readInputFile(path) {
          case .success(let text):
            inputs.append((name, text))
            inputFiles.append(path)
          case .failure(let reason):
            problems.append(
              "inputs.\(name).file: cannot read '\(file)': \(reason.message) (paths are relative to the plan's folder)"
            )
          }
        } else {
          problems.append(
            "inputs.\(name) must be text or {\"file\": path}, got \(PlanTypes.found(value))")
        }
      }
    }
    for override in overrides {
      guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
        problems.append("--input '\(override)': use NAME=text or NAME=@file")
        continue
      }
      let name = String(override[..<equals])
      var value = String(override[override.index(after: equals)...])
      if value.hasPrefix("@") {
        // A path the user gave on the command line: read wherever it is.
        let path = String(value.dropFirst())
        switch readInputFile(path) {
        case .success(let text):
          value = text
          inputFiles.append(path)
        case .failure(let reason):
          problems.append("--input \(name): cannot read '\(path)': \(reason.message)")
          continue
        }
      }
      if let existing = inputs.firstIndex(where: { $0.key == name }) {
        inputs[existing].value = value
      } else {
        inputs.append((name, value))
      }
    }

    let llm = object["llm"]
    if let llm { problems += PlanTypes.llmProblems(llm, at: "llm") }
    var stageLLM: [Int: JSON] = [:]
    if let stages = object["stages"], typed(stages, "stages", .object) {
      for (key, value) in stages.members {
        guard let stage = Int(key), stage >= 1 else {
          problems.append("stages: '\(key)' is not a stage number (1, 2, 3 …)")
          continue
        }
        guard let settings = value["llm"], settings.kind == .object else {
          problems.append("stages.\(key) must be {\"llm\": {…}}")
          continue
        }
        let before = problems.count
        problems += PlanTypes.llmProblems(settings, at: "stages.\(key).llm")
        if problems.count == before { stageLLM[stage] = settings }
      }
    }
    // A format's schema_file is read now, inside the plan's folder, and carried as `schema`: no
    // later tool reads a file a record names, and a schema that cannot be used is a plan error.
    func checkedFormat(_ format: JSON, at path: String) -> JSON? {
      let before = problems.count
      problems += PlanTypes.formatProblems(format, at: path)
      guard problems.count == before else { return nil }
      let resolved = format.copy()
      if resolved["schema"] == nil, let file = resolved["schema_file"]?.string {
        guard let schemaPath = resolve(file, field: "\(path).schema_file") else { return nil }
        switch loadSchema(schemaPath, shown: file) {
        case .success(let schema): resolved["schema"] = schema
        case .failure(let problem):
          problems.append("\(path).schema_file: \(problem.message)")
          return nil
        }
      }
      if let schema = resolved["schema"], schema.kind == .object {
        do { _ = try JSONSchema(schema) } catch let error as JSONSchema.SchemaError {
          problems.append("\(path).schema: \(error.message)")
          return nil
        } catch {
          problems.append("\(path).schema: \(error)")
          return nil
        }
      }
      return resolved
    }
    var formats: [String: JSON] = [:]
    if let declared = object["formats"], typed(declared, "formats", .object) {
      for (name, value) in declared.members {
        if let format = checkedFormat(value, at: "formats.\(name)") { formats[name] = format }
      }
    }

    var modes: [String] = []
    if let declared = object["modes"] {
      if let list = declared.array, list.allSatisfy({ $0.kind == .string }) {
        modes = list.compactMap(\.string)
      } else if declared.kind == .object {
        modes = declared.keys
      } else {
        problems.append(
          "modes must be a list of names or an object of name: {…}, got \(PlanTypes.found(declared))"
        )
      }
    }
    for mode in modes where !PromptName.isValid(mode) {
      problems.append(
        "modes: '\(mode)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)")
    }
    let defaultMode = object["default_mode"]?.string
    if let defaultMode, !PromptName.isValid(defaultMode) {
      problems.append(
        "default_mode '\(defaultMode)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
      )
    }
    if let defaultMode, !modes.isEmpty, !modes.contains(defaultMode) {
      problems.append(
        "default_mode '\(defaultMode)' is not one of the modes (\(modes.joined(separator: ", ")))")
    }

    // The sections.
    var sections: [PlanSection] = []
    let list = object["sections"]?.array
    if let given = object["sections"], given.kind != .array {
      problems.append("sections must be a list of objects, got \(PlanTypes.found(given))")
    } else if list?.isEmpty ?? true {
      problems.append(
        "the plan has no sections (a \"sections\" list, or ## headings in an outline)")
    }
    for (offset, item) in (list ?? []).enumerated() {
      let index = offset + 1
      guard item.kind == .object else {
        problems.append("section \(index) must be an object, got \(PlanTypes.found(item))")
        continue
      }
      var place = "section \(index)"
      guard let given = item["id"] else {
        problems.append("\(place) has no id")
        continue
      }
      guard let sectionID = given.string else {
        problems.append("\(place): id must be a string, got \(PlanTypes.found(given))")
        continue
      }
      place += " ('\(sectionID)')"
      if !Slug.isValid(sectionID) { problems.append("\(place): \(Slug.problem(sectionID))") }
      for (key, shape) in [
        ("title", PlanTypes.Shape.string), ("description", .string), ("instructions", .string),
        ("template", .name), ("review", .bool), ("revises", .bool), ("in_document", .bool),
        ("on_dependency_failure", .oneOf(DependencyPolicy.allCases.map(\.rawValue))),
      ] {
        if let value = item[key], let problem = PlanTypes.problem(value, at: key, shape) {
          problems.append("\(place): \(problem)")
        }
      }
      func ids(_ key: String, what: String = "section ids") -> [String] {
        guard let value = item[key] else { return [] }
        if key != "modes", let single = value.string { return [single] }
        guard let values = value.array, values.allSatisfy({ $0.kind == .string }) else {
          let odd = value.array?.first { $0.kind != .string }
          let got = odd.map { "a list holding \(PlanTypes.found($0))" } ?? PlanTypes.found(value)
          problems.append("\(place): \(key) must be a list of \(what), got \(got)")
          return []
        }
        return values.compactMap(\.string)
      }
      var stage: Int?
      if let given = item["stage"] {
        if given.kind == .number, let number = given.int, number >= 1 {
          stage = number
        } else {
          problems.append(
            "\(place): stage must be a whole number from 1, got \(PlanTypes.found(given))")
        }
      }
      var format = item["format"]
      if let given = format {
        if let name = given.string {
          if let named = formats[name] {
            let resolved = named.copy()
            if resolved["name"] == nil { resolved["name"] = JSON(name) }
            format = resolved
          } else if FormatTypes.all.contains(name) {
            format = .object(["type": JSON(name)])
          } else if declaredFormat(name, in: object) {
            format = nil  // its own problem is reported under formats
          } else {
            let known = formats.keys.sorted() + FormatTypes.all
            problems.append(
              "\(place): format '\(name)' is neither defined under \"formats\" nor a type (known: \(known.joined(separator: ", ")))"
            )
            format = nil
          }
        } else {
          format = checkedFormat(given, at: "\(place): format")
        }
      }
      var sectionModes: [String]?
      if item["modes"] != nil {
        sectionModes = ids("modes", what: "mode names")
        // A mode's name is written into sections.mk: a name, never make or shell text.
        for mode in sectionModes ?? [] where !PromptName.isValid(mode) {
          problems.append(
            "\(place): mode '\(mode)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
          )
        }
        for mode in sectionModes ?? [] where !modes.isEmpty && !modes.contains(mode) {
          problems.append(
            "\(place): mode '\(mode)' is not declared in the plan's modes (\(modes.joined(separator: ", ")))"
          )
        }
      }
      // A custom field may not take a name the tools set (plan_dir, prompt_set, doc …).
      for (key, _) in item.members
      where !sectionKeys.contains(key) && RecordFields.names.contains(key) {
        problems.append("\(place): '\(key)' is set by sheaf, not by the plan; rename the field")
      }
      if let sectionLLM = item["llm"] {
        problems += PlanTypes.llmProblems(sectionLLM, at: "llm").map { "\(place): \($0)" }
      }
      sections.append(
        PlanSection(
          id: sectionID,
          title: item["title"]?.string ?? sectionID,
          description: item["description"]?.string ?? "",
          stage: stage,
          dependsOn: ids("depends_on"),
          context: ids("context"),
          template: item["template"]?.string,
          format: format,
          llm: item["llm"],
          modes: sectionModes,
          instructions: item["instructions"]?.string,
          onDependencyFailure: item["on_dependency_failure"]?.string.flatMap(
            DependencyPolicy.init(rawValue:)),
          extra: item.members.filter {
            !sectionKeys.contains($0.key) || passedKeys.contains($0.key)
          },
          index: index))
    }

    // Ids: unique, and every dependency names a section of the plan.
    var firstIndex: [String: Int] = [:]
    let suggester = Suggester(sections.map(\.id))
    for section in sections {
      if let earlier = firstIndex[section.id] {
        problems.append(
          "duplicate section id '\(section.id)' (sections \(earlier) and \(section.index))")
      } else {
        firstIndex[section.id] = section.index
      }
    }
    for section in sections {
      for (key, dependencies) in [("depends_on", section.dependsOn), ("context", section.context)] {
        for dependency in dependencies {
          if dependency == section.id {
            problems.append(
              "dependency cycle: \(section.id) -> \(section.id) (\(key) names the section itself)")
          } else if firstIndex[dependency] == nil {
            let hint = suggester.suggest(dependency).map { " (did you mean '\($0)'?)" } ?? ""
            problems.append(
              "section '\(section.id)' \(key) names unknown section '\(dependency)'\(hint)")
          }
        }
      }
    }
    if problems.isEmpty, let cycle = SectionGraph.findCycle(sections) {
      problems.append("dependency cycle: \(SectionGraph.describe(cycle: cycle))")
    }
    guard problems.isEmpty else { throw PlanProblems(lines: problems) }

    if modes.isEmpty {
      var seen: [String] = []
      for mode in sections.flatMap({ $0.modes ?? [] }) where !seen.contains(mode) {
        seen.append(mode)
      }
      modes = seen
    }
    return Plan(
      id: id, title: title, inputs: inputs, inputFiles: inputFiles, llm: llm, stageLLM: stageLLM,
      formats: formats, modes: modes, defaultMode: defaultMode,
      promptSet: object["prompt_set"]?.string,
      onDependencyFailure: object["on_dependency_failure"]?.string.flatMap(
        DependencyPolicy.init(rawValue:)), sections: sections, source: source)
  }

  /// Whether the plan declares a format called `name` (whatever its problems).
  private static func declaredFormat(_ name: String, in object: JSON) -> Bool {
    object["formats"]?[name] != nil
  }

  private static func readInputFile(_ path: String) -> Result<String, PlanPathProblem> {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      return .failure(PlanPathProblem("no such file"))
    }
    if isDirectory.boolValue { return .failure(PlanPathProblem("it is a folder")) }
    guard let data = FileManager.default.contents(atPath: path) else {
      return .failure(PlanPathProblem("cannot read it"))
    }
    guard let text = String(data: data, encoding: .utf8) else {
      return .failure(PlanPathProblem("not UTF-8 text"))
    }
    return .success(text)
  }

  /// A schema file, parsed; the problem says where it is broken, never what it holds.
  private static func loadSchema(_ path: String, shown: String) -> Result<JSON, PlanPathProblem> {
    guard let data = FileManager.default.contents(atPath: path) else {
      let reason = FileManager.default.fileExists(atPath: path) ? "cannot read it" : "no such file"
      return .failure(PlanPathProblem("cannot read '\(shown)': \(reason)"))
    }
    do {
      let schema = try data.withUnsafeBytes { try JSON.parse($0) }
      guard schema.kind == .object || schema.kind == .bool else {
        return .failure(
          PlanPathProblem("'\(shown)' is not a JSON Schema (an object), got \(schema.kind.article)")
        )
      }
      return .success(schema)
    } catch {
      let place =
        (error as? JSONSyntaxError).map { " (line \($0.line), column \($0.column))" } ?? ""
      return .failure(PlanPathProblem("'\(shown)' is not valid JSON\(place)"))
    }
  }

  /// The known id nearest to a misspelt one, when it is near enough to suggest.
  public static func closest(to word: String, in candidates: [String]) -> String? {
    Suggester(candidates).suggest(word)
  }
}

/// "Did you mean" suggestions from a bounded search: candidates are bucketed by length, only
/// lengths within the allowed distance are compared, and after `budget` comparisons in all no more
/// suggestions are made (so rejecting 10,000 unknown names stays fast).
final class Suggester {
  private var byLength: [Int: [[Character]]] = [:]
  private var budget: Int

  init(_ candidates: [String], budget: Int = 200_000) {
    for candidate in Set(candidates).sorted() {
      byLength[candidate.count, default: []].append(Array(candidate))
    }
    self.budget = budget
  }

  func suggest(_ word: String) -> String? {
    let target = Array(word)
    let allowed = max(2, word.count / 3)
    var best: (id: [Character], distance: Int)?
    for length in max(0, target.count - allowed)...(target.count + allowed) {
      for candidate in byLength[length] ?? [] {
        guard budget > 0 else { return best.map { String($0.id) } }
        budget -= 1
        let d = Self.distance(target, candidate)
        if d <= allowed && d < (best?.distance ?? .max) { best = (candidate, d) }
      }
    }
    return best.map { String($0.id) }
  }

  static func distance(_ a: [Character], _ b: [Character]) -> Int {
    var previous = Array(0...b.count)
    for (i, ca) in a.enumerated() {
      var current = [i + 1]
      for (j, cb) in b.enumerated() {
        current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
      }
      previous = current
    }
    return previous[b.count]
  }
}
