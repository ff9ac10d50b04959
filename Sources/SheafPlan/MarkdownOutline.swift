import Foundation
import SheafCore
import SheafMarkdown
import SheafValidate
import Yams

/// Reads a plan written as a Markdown outline.
///
/// ```
/// ---
/// id: blog
/// llm:
///   model: llama3.1
/// ---
/// # The document's title
/// Text here becomes the input `brief`.
///
///
/// ## A section's title
/// Text here is the section's description.
/// ```sheaf
/// id: intro
/// depends_on: [other, sections]
/// stage: 2
/// ```
/// ```
///
/// The front matter is YAML that sets document fields (block maps, lists, quoting; dotted keys
/// nest too: `llm.model: x`); a ```` ```sheaf ```` block in a section is YAML that sets that
/// section's fields. The document is read with cmark, so a `#` inside a code block is code, and
/// setext headings are headings. A section without an id gets the slug of its title.
enum MarkdownOutline {
  /// The outline as the JSON object a JSON plan would be.
  /// - Throws: `PlanProblems` naming the line of YAML that is not valid.
  static func planObject(from source: String) throws -> JSON {
    // Split on the bytes: in a Swift String "\r\n" is one Character, so splitting on "\n" would
    // leave a CRLF file in one piece.
    let lines = source.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
      .map { line in
        String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
      }
    let plan = JSON.object()
    var offset = 0  // lines before the Markdown body (the front matter)
    if lines.first?.trimmingCharacters(in: .whitespaces) == "---",
      let close = lines.dropFirst().firstIndex(where: {
        $0.trimmingCharacters(in: .whitespaces) == "---"
      })
    {
      try apply(
        yaml: lines[1..<close].joined(separator: "\n"), to: plan, firstLine: 2, what: "front matter"
      )
      offset = close + 1
    }
    let body = Array(lines[offset...])
    let blocks = topLevelBlocks(body.joined(separator: "\n"))

    // The title is the first level-1 heading before any section; each level-2 heading starts a
    // section; a ```sheaf block inside a section holds its fields.
    var title: String?
    var sectionStarts: [Int] = []  // indices into blocks
    for (index, block) in blocks.enumerated() {
      if block.headingLevel == 2 {
        sectionStarts.append(index)
      } else if block.headingLevel == 1 && title == nil && sectionStarts.isEmpty {
        title = block.text
      }
    }
    /// Body lines from `from` (1-based, inclusive) to `to` (exclusive), less the given ranges.
    func text(from: Int, to: Int, skipping: [ClosedRange<Int>]) -> String {
      guard from < to else { return "" }
      let kept = (from..<to).filter { line in !skipping.contains { $0.contains(line) } }.map {
        body[$0 - 1]
      }
      return trimBlankLines(kept)
    }
    let end = body.count + 1
    let firstSection = sectionStarts.first.map { blocks[$0].startLine } ?? end
    let titleBlock = blocks.first {
      $0.headingLevel == 1 && $0.text == title && $0.startLine < firstSection
    }
    let brief = text(
      from: 1, to: firstSection, skipping: titleBlock.map { [$0.startLine...$0.endLine] } ?? [])

    var sections: [JSON] = []
    for (position, start) in sectionStarts.enumerated() {
      let heading = blocks[start]
      let stop = position + 1 < sectionStarts.count ? sectionStarts[position + 1] : blocks.count
      let settings = JSON.object()
      var skipped: [ClosedRange<Int>] = []
      for block in blocks[(start + 1)..<stop] where block.isSheafFence {
        try apply(
          yaml: block.literal, to: settings, firstLine: offset + block.startLine + 1,
          what: "the sheaf block")
        skipped.append(block.startLine...block.endLine)
      }
      let nextLine = stop < blocks.count ? blocks[stop].startLine : end
      let object = JSON.object()
      object["id"] = settings["id"] ?? JSON(Slug.make(from: heading.text))
      object["title"] = JSON(heading.text)
      object["description"] = JSON(text(from: heading.endLine + 1, to: nextLine, skipping: skipped))
      for (key, value) in settings.members where key != "id" { object[key] = value }
      sections.append(object)
    }

    if let title, plan["title"] == nil { plan["title"] = JSON(title) }
    if !brief.isEmpty {
      let inputs = plan["inputs"] ?? JSON.object()
      if inputs.kind == .object && inputs["brief"] == nil { inputs["brief"] = JSON(brief) }
      plan["inputs"] = inputs
    }
    plan["sections"] = .array(sections)
    return plan
  }

  /// One top-level block of the Markdown body, as cmark sees it.
  struct Block {
    var headingLevel: Int?
    var text: String
    var startLine: Int
    var endLine: Int
    var isSheafFence: Bool
    var literal: String
  }

  /// The document's top-level blocks with their lines (1-based).
  static func topLevelBlocks(_ markdown: String) -> [Block] {
    guard let document = MarkdownDocument(markdown) else { return [] }
    return document.node.children.map { node in
      var block = Block(
        headingLevel: nil, text: "", startLine: node.startLine, endLine: node.endLine,
        isSheafFence: false, literal: "")
      if node.kind == .heading {
        block.headingLevel = node.headingLevel
        block.text = MarkdownShape.text(of: node).trimmingCharacters(in: .whitespaces)
      } else if node.kind == .codeBlock {
        let info = node.fenceInfo ?? ""
        block.isSheafFence = info.trimmingCharacters(in: .whitespaces) == "sheaf"
        block.literal = node.literal ?? ""
      }
      return block
    }
  }

  private static func trimBlankLines(_ lines: [String]) -> String {
    var lines = lines[...]
    while let first = lines.first, first.trimmingCharacters(in: .whitespaces).isEmpty {
      lines.removeFirst()
    }
    while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty {
      lines.removeLast()
    }
    return lines.joined(separator: "\n")
  }

  /// Applies a YAML mapping to an object; dotted keys nest (`llm.model: x`).
  /// - Throws: `PlanProblems` with the line (counted in the whole file) when it is not valid YAML
  ///   or not a mapping.
  static func apply(yaml: String, to object: JSON, firstLine: Int, what: String) throws {
    guard !yaml.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return }
    let node: Node?
    do {
      node = try Yams.compose(yaml: yaml)
    } catch let error as YamlError {
      throw PlanProblems(lines: [
        "\(what), line \(firstLine + line(of: error)): not valid YAML: \(problem(of: error))"
      ])
    } catch {
      throw PlanProblems(lines: ["\(what): not valid YAML"])
    }
    guard let node else { return }
    guard case .mapping(let mapping) = node else {
      throw PlanProblems(lines: [
        "\(what), line \(firstLine): must be `key: value` lines (a YAML mapping)"
      ])
    }
    for (key, value) in mapping {
      let path = (key.string ?? "").split(separator: ".").map(String.init)
      guard let last = path.last else { continue }
      var target = object
      for part in path.dropLast() {
        if let next = target[part], next.kind == .object {
          target = next
        } else {
          let next = JSON.object()
          target[part] = next
          target = next
        }
      }
      let converted = json(value)
      if let existing = target[last], existing.kind == .object, converted.kind == .object {
        for (k, v) in converted.members { existing[k] = v }
      } else {
        target[last] = converted
      }
    }
  }

  /// A YAML node as JSON: mappings keep their order, scalars their resolved type.
  static func json(_ node: Node) -> JSON {
    switch node {
    case .mapping(let mapping):
      let object = JSON.object()
      for (key, value) in mapping { object[key.string ?? ""] = json(value) }
      return object
    case .sequence(let sequence):
      return .array(sequence.map(json))
    case .scalar(let scalar):
      switch node.tag.rawValue {
      case Tag.Name.null.rawValue: return .null
      case Tag.Name.bool.rawValue: return node.bool.map { JSON($0) } ?? JSON(scalar.string)
      case Tag.Name.int.rawValue:
        if NumberLiteral.isLiteral(scalar.string) { return JSON(numberLiteral: scalar.string) }
        return node.int.map { JSON($0) } ?? JSON(scalar.string)
      case Tag.Name.float.rawValue:
        if NumberLiteral.isLiteral(scalar.string) { return JSON(numberLiteral: scalar.string) }
        return node.float.map { JSON($0) } ?? JSON(scalar.string)
      default: return JSON(scalar.string)
      }
    case .alias:
      return .null
    }
  }

  private static func line(of error: YamlError) -> Int {
    switch error {
    case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
      return max(0, mark.line - 1)
    default: return 0
    }
  }

  private static func problem(of error: YamlError) -> String {
    switch error {
    case .scanner(_, let problem, _, _), .parser(_, let problem, _, _),
      .composer(_, let problem, _, _):
      return problem
    default: return "\(error)".split(separator: "\n").first.map(String.init) ?? "invalid"
    }
  }
}
