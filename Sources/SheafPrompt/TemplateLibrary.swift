import Foundation
import Mustache
import SheafCore

/// One template file, read and compiled once.
struct CompiledTemplate {
  /// Where it came from.
  var path: String
  /// Its tags, for the reference check.
  var nodes: [TemplateNode]
  /// swift-mustache's compiled form, rendering plain text (no HTML escaping).
  var template: MustacheTemplate
}

/// Finds and compiles the templates of a prompt set.
///
/// A set is a folder with a `shared_context.mustache`, taken whole: the first of these folders
/// that has one is the set, and every template and partial comes from it:
/// 1. each `--prompts DIR`, as `DIR/<set>/`, then `DIR/`;
/// 2. the plan's folder, as `<plan_dir>/prompts/<set>/`, then `<plan_dir>/`;
/// 3. the current folder, as `prompts/<set>/`;
/// 4. the sets that ship with sheaf (`SHEAF_PROMPTS`, else `share/sheaf/prompts` beside the
///    tools, else a checkout's `prompts/`).
///
/// A set nobody named (the document's id) that is found nowhere is the shipped `default` set.
///
/// A section uses `<template>.mustache`, else `default.mustache`; the system message is
/// `shared_context.mustache`; any other file of the set can be a partial (`{{> name}}`).
public final class TemplateLibrary {
  private let promptDirs: [String]
  private var compiled: [String: CompiledTemplate] = [:]
  private var broken: [String: ToolFailure] = [:]
  private var found: [String: String?] = [:]

  /// The text every template is rendered with first: plain text, no HTML escaping.
  static let textPragma = "{{% CONTENT_TYPE: TEXT}}"

  public init(promptDirs: [String]) {
    self.promptDirs = promptDirs
  }

  /// The folders a set may be in, in order.
  public func candidates(set: String, planDir: String?) -> [String] {
    var folders: [String] = []
    for dir in promptDirs { folders += ["\(dir)/\(set)", dir] }
    if let planDir, !planDir.isEmpty {
      folders += ["\(planDir)/prompts/\(set)", planDir].filter { inside($0, planDir: planDir) }
    }
    folders.append("prompts/\(set)")
    folders += Self.shippedRoots.map { "\($0)/\(set)" }
    var seen = Set<String>()
    return folders.filter { seen.insert($0).inserted }
  }

  /// Whether a folder under the plan's is really there: a symbolic link that leads out of the
  /// plan's folder is not followed (said once), unless ALLOW_OUTSIDE=1 lets the plan read
  /// outside it; `--prompts DIR`, given on the command line, is always taken.
  private func inside(_ folder: String, planDir: String) -> Bool {
    guard let real = PlanPaths.realPath(folder) else { return true }  // absent: nothing to read
    guard let base = PlanPaths.realPath(planDir) else { return false }
    if real == base || real.hasPrefix(base.hasSuffix("/") ? base : base + "/") { return true }
    if PlanPaths.allowOutside() { return true }
    if warned.insert("outside\u{0}" + folder).inserted {
      Diagnostics.say(
        "build-prompt",
        "warning: \(folder) leads out of the plan's folder (a symbolic link to \(real)), so it is not used; pass --prompts \(real) (PROMPT_FLAGS) or ALLOW_OUTSIDE=1 to use it"
      )
    }
    return false
  }

  /// The shipped `default` set's folders: where sheaf's own templates (`_summary`, `_revise`)
  /// are found when a set has none of its own.
  static var shippedDefault: [String] { shippedRoots.map { "\($0)/default" } }

  /// Where the prompt sets that ship with sheaf are: `SHEAF_PROMPTS`, then `share/sheaf/prompts`
  /// beside the tools (`bin/../share`), then a checkout's `prompts/` (`.build/release/../..`).
  static let shippedRoots: [String] = {
    var roots: [String] = []
    if let given = ProcessInfo.processInfo.environment["SHEAF_PROMPTS"], !given.isEmpty {
      roots.append(given)
    }
    return roots + SheafRoots.candidates.map { $0 + "/prompts" }
  }()

  /// The folder of a set, taken whole.
  ///
  /// It is the first candidate with a `shared_context.mustache`; for a set nobody named, else
  /// the shipped `default` set. Empty when there is none.
  public func folders(set: String, planDir: String?, named: Bool = true) -> [String] {
    let key = set + "\u{0}" + (planDir ?? "") + (named ? "" : "\u{0}*")
    if let known = chosen[key] { return known }
    var result: [String] = []
    // A set nobody named is the document's id: looked for in the user's folders only (a plan
    // whose id is `prd` does not get the shipped PRD set by accident, nor a plan `outline.md` in
    // the checkout the `outline` set of `make outline` through `prompts/outline`).
    let shipped = Self.shippedRoots.map { $0 + "/" }
    let shippedReal = Self.shippedRoots.compactMap(PlanPaths.realPath).map { $0 + "/" }
    let places = candidates(set: set, planDir: planDir).filter { folder in
      if named { return true }
      if shipped.contains(where: { folder.hasPrefix($0) }) { return false }
      guard let real = PlanPaths.realPath(folder) else { return true }
      return !shippedReal.contains { real.hasPrefix($0) }
    }
    if let index = places.firstIndex(where: hasSharedContext) {
      result = [places[index]]
      warnPartial(places[..<index])
    } else if !named,
      let found = candidates(set: "default", planDir: planDir).first(where: hasSharedContext)
    {
      warnPartial(places[...])
      result = [found]
    }
    chosen[key] = result
    return result
  }

  private var chosen: [String: [String]] = [:]
  private var warned = Set<String>()

  /// A folder that holds templates but no `shared_context.mustache` is not a set: said once, as a
  /// set is taken whole and its files are not mixed in.
  private func warnPartial(_ folders: ArraySlice<String>) {
    for folder in folders
    where warned.insert(URL(fileURLWithPath: folder).standardized.path).inserted {
      let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
      guard names.contains(where: { $0.hasSuffix(".mustache") }) else { continue }
      Diagnostics.say(
        "build-prompt",
        "warning: \(folder) has templates but no shared_context.mustache, so it is not a prompt set and is not used (a set is taken whole)"
      )
    }
  }

  private func hasSharedContext(_ folder: String) -> Bool {
    FileManager.default.fileExists(atPath: "\(folder)/shared_context.mustache")
  }

  /// The path of `name.mustache` in the first folder that has it (looked up once per run).
  public func find(_ name: String, in folders: [String]) -> String? {
    guard PromptName.isValid(name) else { return nil }  // a partial's name is never a path
    let key = name + "\u{0}" + folders.joined(separator: "\u{0}")
    if let known = found[key] { return known }
    var result: String?
    for folder in folders {
      let path = "\(folder)/\(name).mustache"
      // A template is a file in its folder: a symbolic link that leads out of the folder (to a
      // key file, say) is not followed.
      guard let real = PlanPaths.realPath(path), let base = PlanPaths.realPath(folder),
        real.hasPrefix(base.hasSuffix("/") ? base : base + "/")
      else { continue }
      result = path
      break
    }
    found[key] = .some(result)
    return result
  }

  /// Reads and compiles a template (once per path).
  /// - Throws: `ToolFailure` (usage) naming the file and line when it does not parse.
  func load(_ path: String) throws -> CompiledTemplate {
    if let cached = compiled[path] { return cached }
    if let failure = broken[path] { throw failure }
    do {
      let entry = try compile(path)
      compiled[path] = entry
      return entry
    } catch let failure as ToolFailure {
      broken[path] = failure
      throw failure
    }
  }

  private func compile(_ path: String) throws -> CompiledTemplate {
    guard let data = FileManager.default.contents(atPath: path),
      let text = String(data: data, encoding: .utf8)
    else {
      throw ToolFailure.usage("\(path): cannot read the template")
    }
    let nodes: [TemplateNode]
    do {
      nodes = try TemplateCheck.parse(text)
    } catch let error as TemplateSyntaxError {
      throw ToolFailure.usage("\(path):\(error.line): \(error.message)")
    }
    let template: MustacheTemplate
    do {
      template = try MustacheTemplate(string: Self.textPragma + text)
    } catch let error as MustacheTemplate.ParserError {
      throw ToolFailure.usage(
        "\(path):\(error.context.lineNumber): \(error.error) in '\(error.context.line.trimmingCharacters(in: .whitespaces))'"
      )
    } catch {
      throw ToolFailure.usage("\(path): \(error)")
    }
    return CompiledTemplate(path: path, nodes: nodes, template: template)
  }

  /// The partials `templates` use, directly or through other partials, registered by name for
  /// rendering (a file nobody includes is never read).
  /// - Throws: `ToolFailure` when one does not parse.
  func library(for templates: [CompiledTemplate], folders: [String]) throws -> (
    library: MustacheLibrary, files: [String], reads: TemplateReads
  ) {
    var names = Set<String>()
    var pending = templates.flatMap { Self.partialNames($0.nodes) }
    var library = MustacheLibrary()
    var files: [String] = []
    var trees = templates.map(\.nodes)
    while let name = pending.popLast() {
      guard names.insert(name).inserted, let path = find(name, in: folders) else { continue }
      let partial = try load(path)
      library.register(partial.template, named: name)
      files.append(path)
      trees.append(partial.nodes)
      pending += Self.partialNames(partial.nodes)
    }
    return (library, files, TemplateReads.of(trees))
  }

  private static func partialNames(_ nodes: [TemplateNode]) -> [String] {
    nodes.flatMap { node -> [String] in
      switch node {
      case .partial(let name, _): return [name]
      case .section(_, _, _, let children): return partialNames(children)
      case .variable: return []
      }
    }
  }
}
