import Foundation
import SheafCore
import SheafValidate

/// A plan being built from its JSON object: each step reads a part of the object and adds what
/// is wrong with it to `problems`, which are listed in the order the steps run.
struct PlanBuilder {
  /// The plan as JSON.
  let object: JSON
  /// The plan's file, or `stdin`, to name it.
  let source: String
  /// The plan's folder, which its files are relative to.
  let directory: String
  /// Whether files outside the plan's folder may be read.
  let allowOutside: Bool
  /// What is wrong with the plan so far, one problem a line.
  var problems: [String] = []

  /// The plan, checked.
  /// - Throws: `PlanProblems` listing everything wrong.
  mutating func build(overrides: [String]) throws -> Plan {
    let id = documentID()
    let title = object["title"]?.string ?? id
    var (inputs, inputFiles) = declaredInputs()
    applyOverrides(overrides, to: &inputs, files: &inputFiles)
    let llm = object["llm"]
    if let llm { problems += PlanTypes.llmProblems(llm, at: "llm") }
    let stageLLM = stageSettings()
    let formats = declaredFormats()
    var modes = declaredModes()
    let defaultMode = object["default_mode"]?.string
    checkDefaultMode(defaultMode, modes: modes)
    let sections = readSections(formats: formats, modes: modes)
    checkReferences(sections)
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

  /// Whether `value` (when there is one) has the `shape`; a problem for `path` when not.
  mutating func typed(_ value: JSON?, _ path: String, _ shape: PlanTypes.Shape) -> Bool {
    guard let value else { return true }
    if let problem = PlanTypes.problem(value, at: path, shape) {
      problems.append(problem)
      return false
    }
    return true
  }

  /// The path of a file the plan names in `field`, inside the plan's folder; `nil` (and a problem)
  /// when it may not be read.
  mutating func resolve(_ file: String, field: String) -> String? {
    switch PlanPaths.resolve(file, field: field, folder: directory, allowOutside: allowOutside) {
    case .success(let path): return path
    case .failure(let refusal):
      problems.append(refusal.message)
      return nil
    }
  }

  // MARK: The document

  /// Checks the document's own fields; returns its id: the plan's, else one made from the plan's
  /// file name (its folder's for `plan.*` and standard input).
  mutating func documentID() -> String {
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
    return id
  }

  /// The plan's inputs, in order, and the files they were read from.
  mutating func declaredInputs() -> ([(key: String, value: String)], [String]) {
    var inputs: [(key: String, value: String)] = []
    var inputFiles: [String] = []
    guard let given = object["inputs"] else { return (inputs, inputFiles) }
    if given.kind != .object {
      problems.append("inputs must be an object of name: text or name: {\"file\": path}")
    }
    for (name, value) in given.members {
      if let text = value.string {
        inputs.append((name, text))
      } else if let file = value["file"]?.string {
        guard let path = resolve(file, field: "inputs.\(name).file") else { continue }
        switch PlanReader.readInputFile(path) {
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
    return (inputs, inputFiles)
  }

  /// Replaces or adds the inputs given on the command line (`NAME=text` or `NAME=@file`).
  mutating func applyOverrides(
    _ overrides: [String], to inputs: inout [(key: String, value: String)],
    files inputFiles: inout [String]
  ) {
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
        switch PlanReader.readInputFile(path) {
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
  }

  /// The `llm` settings of each stage that has them (`stages`).
  mutating func stageSettings() -> [Int: JSON] {
    var stageLLM: [Int: JSON] = [:]
    guard let stages = object["stages"], typed(stages, "stages", .object) else { return stageLLM }
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
    return stageLLM
  }

  /// The formats the plan defines under `formats`, checked, by name.
  mutating func declaredFormats() -> [String: JSON] {
    var formats: [String: JSON] = [:]
    if let declared = object["formats"], typed(declared, "formats", .object) {
      for (name, value) in declared.members {
        if let format = checkedFormat(value, at: "formats.\(name)") { formats[name] = format }
      }
    }
    return formats
  }

  /// A format checked, its `schema_file` read; `nil` when it has problems.
  ///
  /// A format's schema_file is read now, inside the plan's folder, and carried as `schema`: no
  /// later tool reads a file a record names, and a schema that cannot be used is a plan error.
  mutating func checkedFormat(_ format: JSON, at path: String) -> JSON? {
    let before = problems.count
    problems += PlanTypes.formatProblems(format, at: path)
    guard problems.count == before else { return nil }
    let resolved = format.copy()
    if resolved["schema"] == nil, let file = resolved["schema_file"]?.string {
      guard let schemaPath = resolve(file, field: "\(path).schema_file") else { return nil }
      switch PlanReader.loadSchema(schemaPath, shown: file) {
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

  /// The modes the plan declares (a list of names, or an object's keys).
  mutating func declaredModes() -> [String] {
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
    return modes
  }

  /// Checks that the default mode is a name, and one of the `modes` when the plan declares them.
  mutating func checkDefaultMode(_ defaultMode: String?, modes: [String]) {
    if let defaultMode, !PromptName.isValid(defaultMode) {
      problems.append(
        "default_mode '\(defaultMode)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
      )
    }
    if let defaultMode, !modes.isEmpty, !modes.contains(defaultMode) {
      problems.append(
        "default_mode '\(defaultMode)' is not one of the modes (\(modes.joined(separator: ", ")))")
    }
  }
}
