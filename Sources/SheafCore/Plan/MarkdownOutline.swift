import Foundation

/// Reads a plan written as a Markdown outline:
///
/// ```
/// ---
/// id: blog
/// llm.model: llama3.1
/// ---
/// # The document's title
/// Text here becomes the input `brief`.
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
/// The front matter sets document fields (dotted keys nest: `llm.model`); a ```` ```sheaf ````
/// block in a section sets that section's fields. Values are text, numbers, `true`/`false`, or
/// `[a, b]` lists. A section without an id gets the slug of its title.
enum MarkdownOutline {
  /// The outline as the JSON object a JSON plan would be.
  static func planObject(from text: String) -> JSON {
    // Split on the bytes: in a Swift String "\r\n" is one Character, so splitting on "\n" would
    // leave a CRLF file in one piece.
    var lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
      String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
    }
    let plan = JSON.object()
    if lines.first?.trimmingCharacters(in: .whitespaces) == "---",
      let close = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" })
    {
      apply(settings: Array(lines[1..<close]), to: plan)
      lines.removeSubrange(0...close)
    }

    var title: String?
    var brief: [String] = []
    var sections: [JSON] = []
    var current: (title: String, body: [String], settings: [String])?
    var fence: String?  // the fence that opened the code block we are in
    var inSettings = false

    func finishSection() {
      guard let section = current else { return }
      let object = JSON.object()
      let settings = JSON.object()
      apply(settings: section.settings, to: settings)
      object["id"] = settings["id"] ?? JSON(Slug.make(from: section.title))
      object["title"] = JSON(section.title)
      object["description"] = JSON(trimBlankLines(section.body))
      for (key, value) in settings.members where key != "id" { object[key] = value }
      sections.append(object)
      current = nil
    }

    for line in lines {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if let open = fence {
        if trimmed.hasPrefix(open) && trimmed.allSatisfy({ $0 == open.first }) {
          fence = nil
          if inSettings {
            inSettings = false
            continue
          }
        }
        if inSettings {
          current?.settings.append(line)
        } else if current != nil {
          current?.body.append(line)
        } else {
          brief.append(line)
        }
        continue
      }
      if trimmed.hasPrefix("```") || trimmed.hasPrefix("~~~") {
        let marker = String(trimmed.prefix(while: { $0 == trimmed.first }))
        fence = marker
        let info = trimmed.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)
        if info == "sheaf" && current != nil {
          inSettings = true
          continue
        }
      } else if line.hasPrefix("## ") {
        finishSection()
        current = (headingText(line, level: 2), [], [])
        continue
      } else if line.hasPrefix("# ") && title == nil && current == nil {
        title = headingText(line, level: 1)
        continue
      }
      if current != nil {
        current?.body.append(line)
      } else {
        brief.append(line)
      }
    }
    finishSection()

    if let title, plan["title"] == nil { plan["title"] = JSON(title) }
    let briefText = trimBlankLines(brief)
    if !briefText.isEmpty {
      let inputs = plan["inputs"] ?? JSON.object()
      if inputs["brief"] == nil { inputs["brief"] = JSON(briefText) }
      plan["inputs"] = inputs
    }
    plan["sections"] = .array(sections)
    return plan
  }

  private static func headingText(_ line: String, level: Int) -> String {
    var text = line.dropFirst(level).trimmingCharacters(in: .whitespaces)
    // A closing sequence of #s is not part of the heading.
    while text.hasSuffix("#") { text.removeLast() }
    return text.trimmingCharacters(in: .whitespaces)
  }

  private static func trimBlankLines(_ lines: [String]) -> String {
    var lines = lines
    while let first = lines.first, first.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeFirst() }
    while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
    return lines.joined(separator: "\n")
  }

  /// Applies `key: value` lines (or one JSON object) to an object; dotted keys nest.
  static func apply(settings lines: [String], to object: JSON) {
    let joined = lines.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    if joined.hasPrefix("{"), let parsed = try? JSON.parse(joined), parsed.kind == .object {
      for (key, value) in parsed.members { object[key] = value }
      return
    }
    for line in lines {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else {
        continue
      }
      let key = trimmed[..<colon].trimmingCharacters(in: .whitespaces)
      let value = scalarOrList(trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces))
      var target = object
      let path = key.split(separator: ".").map(String.init)
      for part in path.dropLast() {
        if let next = target[part], next.kind == .object {
          target = next
        } else {
          let next = JSON.object()
          target[part] = next
          target = next
        }
      }
      if let last = path.last { target[last] = value }
    }
  }

  private static func scalarOrList(_ text: String) -> JSON {
    if text.hasPrefix("[") && text.hasSuffix("]") {
      let inner = text.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
      if inner.isEmpty { return .array() }
      return .array(inner.split(separator: ",").map { scalar($0.trimmingCharacters(in: .whitespaces)) })
    }
    return scalar(text)
  }

  private static func scalar(_ text: String) -> JSON {
    if text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first {
      return JSON(String(text.dropFirst().dropLast()))
    }
    if text == "true" { return JSON(true) }
    if text == "false" { return JSON(false) }
    if let int = Int(text) { return JSON(int) }
    if NumberLiteral.isLiteral(text) { return JSON(numberLiteral: text) }
    return JSON(text)
  }
}
