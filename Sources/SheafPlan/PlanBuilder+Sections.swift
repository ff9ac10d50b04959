import Foundation
import SheafCore
import SheafValidate

extension PlanBuilder {
  /// The plan's sections, each checked; those that cannot be read at all are left out.
  mutating func readSections(formats: [String: JSON], modes: [String]) -> [PlanSection] {
    var sections: [PlanSection] = []
    let list = object["sections"]?.array
    if let given = object["sections"], given.kind != .array {
      problems.append("sections must be a list of objects, got \(PlanTypes.found(given))")
    } else if list?.isEmpty ?? true {
      problems.append(
        "the plan has no sections (a \"sections\" list, or ## headings in an outline)")
    }
    for (offset, item) in (list ?? []).enumerated() {
      if let section = section(item, index: offset + 1, formats: formats, modes: modes) {
        sections.append(section)
      }
    }
    return sections
  }

  /// The section `item`, the `index`th of the plan, checked; `nil` when it is not an object or
  /// has no id.
  mutating func section(_ item: JSON, index: Int, formats: [String: JSON], modes: [String])
    -> PlanSection?
  {
    guard let identity = identify(item, index: index) else { return nil }
    let (sectionID, place) = identity
    for (key, shape) in [
      ("title", PlanTypes.Shape.string), ("description", .string), ("instructions", .string),
      ("template", .name), ("review", .bool), ("revises", .bool), ("in_document", .bool),
      ("on_dependency_failure", .oneOf(DependencyPolicy.allCases.map(\.rawValue))),
    ] {
      if let value = item[key], let problem = PlanTypes.problem(value, at: key, shape) {
        problems.append("\(place): \(problem)")
      }
    }
    let stage = sectionStage(item, place: place)
    let format = sectionFormat(item, place: place, formats: formats)
    let sectionModes = checkedModes(item, place: place, modes: modes)
    // A custom field may not take a name the tools set (plan_dir, prompt_set, doc …).
    for (key, _) in item.members
    where !PlanReader.sectionKeys.contains(key) && RecordFields.names.contains(key) {
      problems.append("\(place): '\(key)' is set by sheaf, not by the plan; rename the field")
    }
    if let sectionLLM = item["llm"] {
      problems += PlanTypes.llmProblems(sectionLLM, at: "llm").map { "\(place): \($0)" }
    }
    let dependsOn = ids(item, "depends_on", place: place)
    let context = ids(item, "context", place: place)
    return PlanSection(
      id: sectionID,
      title: item["title"]?.string ?? sectionID,
      description: item["description"]?.string ?? "",
      stage: stage,
      dependsOn: dependsOn,
      context: context,
      template: item["template"]?.string,
      format: format,
      llm: item["llm"],
      modes: sectionModes,
      instructions: item["instructions"]?.string,
      onDependencyFailure: item["on_dependency_failure"]?.string.flatMap(
        DependencyPolicy.init(rawValue:)),
      extra: item.members.filter {
        !PlanReader.sectionKeys.contains($0.key) || PlanReader.passedKeys.contains($0.key)
      },
      index: index)
  }

  /// The section's id, and how problems name the section (`section 2 ('intro')`); `nil` when it
  /// is not an object or has no id that is a string.
  mutating func identify(_ item: JSON, index: Int) -> (id: String, place: String)? {
    guard item.kind == .object else {
      problems.append("section \(index) must be an object, got \(PlanTypes.found(item))")
      return nil
    }
    var place = "section \(index)"
    guard let given = item["id"] else {
      problems.append("\(place) has no id")
      return nil
    }
    guard let sectionID = given.string else {
      problems.append("\(place): id must be a string, got \(PlanTypes.found(given))")
      return nil
    }
    place += " ('\(sectionID)')"
    if !Slug.isValid(sectionID) { problems.append("\(place): \(Slug.problem(sectionID))") }
    return (sectionID, place)
  }

  /// The names listed under `key` (one name alone is a list of one, except for `modes`).
  mutating func ids(_ item: JSON, _ key: String, place: String, what: String = "section ids")
    -> [String]
  {
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

  /// The section's stage, a whole number from 1.
  mutating func sectionStage(_ item: JSON, place: String) -> Int? {
    guard let given = item["stage"] else { return nil }
    if given.kind == .number, let number = given.int, number >= 1 { return number }
    problems.append(
      "\(place): stage must be a whole number from 1, got \(PlanTypes.found(given))")
    return nil
  }

  /// The section's format: one the plan defines (named), a type, or one of its own (checked).
  mutating func sectionFormat(_ item: JSON, place: String, formats: [String: JSON]) -> JSON? {
    guard let given = item["format"] else { return nil }
    guard let name = given.string else { return checkedFormat(given, at: "\(place): format") }
    if let named = formats[name] {
      let resolved = named.copy()
      if resolved["name"] == nil { resolved["name"] = JSON(name) }
      return resolved
    } else if FormatTypes.all.contains(name) {
      return .object(["type": JSON(name)])
    } else if PlanReader.declaredFormat(name, in: object) {
      return nil  // its own problem is reported under formats
    }
    let known = formats.keys.sorted() + FormatTypes.all
    problems.append(
      "\(place): format '\(name)' is neither defined under \"formats\" nor a type (known: \(known.joined(separator: ", ")))"
    )
    return nil
  }

  /// The modes the section is written in, when it names them: names, and among the plan's modes
  /// when it declares some.
  mutating func checkedModes(_ item: JSON, place: String, modes: [String]) -> [String]? {
    guard item["modes"] != nil else { return nil }
    let sectionModes = ids(item, "modes", place: place, what: "mode names")
    // A mode's name is written into sections.mk: a name, never make or shell text.
    for mode in sectionModes where !PromptName.isValid(mode) {
      problems.append(
        "\(place): mode '\(mode)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
      )
    }
    for mode in sectionModes where !modes.isEmpty && !modes.contains(mode) {
      problems.append(
        "\(place): mode '\(mode)' is not declared in the plan's modes (\(modes.joined(separator: ", ")))"
      )
    }
    return sectionModes
  }

  /// Checks the ids: unique, every dependency names a section of the plan, and (when nothing else
  /// is wrong) no dependency cycle.
  mutating func checkReferences(_ sections: [PlanSection]) {
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
  }
}
