import Foundation

/// Reads a plan from a JSON file or a Markdown outline into a checked `Plan`.
public enum PlanReader {
  /// The section keys the contract knows; every other key is passed through.
  static let sectionKeys: Set<String> = [
    "id", "title", "description", "stage", "depends_on", "context", "template", "format", "llm",
    "modes", "instructions",
  ]

  /// Reads the plan at `path` (`-` or `nil`: standard input), with `overrides` replacing inputs
  /// (`NAME=text` or `NAME=@file`).
  /// - Throws: `ToolFailure` — malformed JSON is `malformedInput`; every other problem is `usage`,
  ///   all of them listed, one per line.
  public static func read(path: String?, overrides: [String] = []) throws -> Plan {
    let source = (path == nil || path == "-") ? "stdin" : path!
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
      object = MarkdownOutline.planObject(from: text)
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
        from: object, source: source, directory: directory, overrides: overrides)
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
      let reason = FileManager.default.fileExists(atPath: source) ? "cannot read it" : "no such file"
      throw ToolFailure.usage("\(source): \(reason)")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw ToolFailure(.malformedInput, "\(source): not UTF-8 text")
    }
    return text
  }

  /// Builds and checks a plan from its JSON object.
  /// - Throws: `PlanProblems` listing everything wrong.
  static func build(
    from object: JSON, source: String, directory: String, overrides: [String]
  ) throws -> Plan {
    var problems: [String] = []

    // The document.
    var id = object["id"]?.string ?? ""
    if object["id"] == nil {
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
          let path = file.hasPrefix("/") ? file : (directory as NSString).appendingPathComponent(file)
          if let text = readInputFile(path) {
            inputs.append((name, text))
            inputFiles.append(path)
          } else {
            problems.append("inputs.\(name): cannot read '\(path)' (paths are relative to the plan's folder)")
          }
        } else {
          problems.append("inputs.\(name) must be text or {\"file\": path}")
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
        let path = String(value.dropFirst())
        guard let text = readInputFile(path) else {
          problems.append("--input \(name): cannot read '\(path)'")
          continue
        }
        value = text
        inputFiles.append(path)
      }
      if let existing = inputs.firstIndex(where: { $0.key == name }) {
        inputs[existing].value = value
      } else {
        inputs.append((name, value))
      }
    }

    let llm = object["llm"]
    if let llm, llm.kind != .object { problems.append("llm must be an object") }
    var stageLLM: [Int: JSON] = [:]
    if let stages = object["stages"] {
      for (key, value) in stages.members {
        guard let stage = Int(key), stage >= 1 else {
          problems.append("stages: '\(key)' is not a stage number (1, 2, 3 …)")
          continue
        }
        guard let settings = value["llm"], settings.kind == .object else {
          problems.append("stages.\(key) must be {\"llm\": {…}}")
          continue
        }
        stageLLM[stage] = settings
      }
    }
    var formats: [String: JSON] = [:]
    for (name, value) in object["formats"]?.members ?? [] { formats[name] = value }

    var modes: [String] = []
    if let declared = object["modes"] {
      if let list = declared.array {
        modes = list.compactMap(\.string)
      } else {
        modes = declared.keys
      }
    }
    let defaultMode = object["default_mode"]?.string
    if let defaultMode, !modes.isEmpty, !modes.contains(defaultMode) {
      problems.append("default_mode '\(defaultMode)' is not one of the modes (\(modes.joined(separator: ", ")))")
    }

    // The sections.
    var sections: [PlanSection] = []
    let list = object["sections"]?.array
    if list == nil || list!.isEmpty {
      problems.append("the plan has no sections (a \"sections\" list, or ## headings in an outline)")
    }
    for (offset, item) in (list ?? []).enumerated() {
      let index = offset + 1
      guard item.kind == .object else {
        problems.append("section \(index) must be an object")
        continue
      }
      var where_ = "section \(index)"
      guard let sectionID = item["id"]?.string else {
        problems.append("\(where_) has no id")
        continue
      }
      where_ += " ('\(sectionID)')"
      if !Slug.isValid(sectionID) { problems.append("\(where_): \(Slug.problem(sectionID))") }
      func ids(_ key: String) -> [String] {
        guard let value = item[key] else { return [] }
        if let single = value.string { return [single] }
        guard let values = value.array, values.allSatisfy({ $0.kind == .string }) else {
          problems.append("\(where_): \(key) must be a list of section ids")
          return []
        }
        return values.compactMap(\.string)
      }
      var stage: Int?
      if let given = item["stage"] {
        if let number = given.int, number >= 1 {
          stage = number
        } else {
          problems.append("\(where_): stage must be a whole number from 1")
        }
      }
      var format = item["format"]
      if let name = format?.string, let named = formats[name] {
        let resolved = named.copy()
        if resolved.kind == .object && resolved["name"] == nil { resolved["name"] = JSON(name) }
        format = resolved
      }
      var sectionModes: [String]?
      if item["modes"] != nil {
        sectionModes = ids("modes")
        for mode in sectionModes ?? [] where !modes.isEmpty && !modes.contains(mode) {
          problems.append("\(where_): mode '\(mode)' is not declared in the plan's modes (\(modes.joined(separator: ", ")))")
        }
      }
      if let sectionLLM = item["llm"], sectionLLM.kind != .object {
        problems.append("\(where_): llm must be an object")
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
          extra: item.members.filter { !sectionKeys.contains($0.key) },
          index: index))
    }

    // Ids: unique, and every dependency names a section of the plan.
    var firstIndex: [String: Int] = [:]
    for section in sections {
      if let earlier = firstIndex[section.id] {
        problems.append("duplicate section id '\(section.id)' (sections \(earlier) and \(section.index))")
      } else {
        firstIndex[section.id] = section.index
      }
    }
    for section in sections {
      for (key, dependencies) in [("depends_on", section.dependsOn), ("context", section.context)] {
        for dependency in dependencies {
          if dependency == section.id {
            problems.append("dependency cycle: \(section.id) -> \(section.id) (\(key) names the section itself)")
          } else if firstIndex[dependency] == nil {
            let hint = closest(to: dependency, in: Array(firstIndex.keys)).map { " (did you mean '\($0)'?)" } ?? ""
            problems.append("section '\(section.id)' \(key) names unknown section '\(dependency)'\(hint)")
          }
        }
      }
    }
    if problems.isEmpty, let cycle = SectionGraph.findCycle(sections) {
      problems.append("dependency cycle: \(cycle.joined(separator: " -> "))")
    }
    guard problems.isEmpty else { throw PlanProblems(lines: problems) }

    if modes.isEmpty {
      var seen: [String] = []
      for mode in sections.flatMap({ $0.modes ?? [] }) where !seen.contains(mode) { seen.append(mode) }
      modes = seen
    }
    return Plan(
      id: id, title: title, inputs: inputs, inputFiles: inputFiles, llm: llm, stageLLM: stageLLM,
      formats: formats, modes: modes, defaultMode: defaultMode,
      promptSet: object["prompt_set"]?.string, sections: sections, source: source)
  }

  private static func readInputFile(_ path: String) -> String? {
    FileManager.default.contents(atPath: path).flatMap { String(data: $0, encoding: .utf8) }
  }

  /// The known id nearest to a misspelt one, when it is near enough to suggest.
  static func closest(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
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
    let target = Array(word)
    var best: (id: String, distance: Int)?
    for candidate in candidates.sorted() {
      let d = distance(target, Array(candidate))
      if best == nil || d < best!.distance { best = (candidate, d) }
    }
    guard let best, best.distance <= max(2, word.count / 3) else { return nil }
    return best.id
  }
}
