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
    var builder = PlanBuilder(
      object: object, source: source, directory: directory, allowOutside: allowOutside)
    return try builder.build(overrides: overrides)
  }

  /// Whether the plan declares a format called `name` (whatever its problems).
  static func declaredFormat(_ name: String, in object: JSON) -> Bool {
    object["formats"]?[name] != nil
  }

  /// An input file's text.
  static func readInputFile(_ path: String) -> Result<String, PlanPathProblem> {
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
  static func loadSchema(_ path: String, shown: String) -> Result<JSON, PlanPathProblem> {
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
