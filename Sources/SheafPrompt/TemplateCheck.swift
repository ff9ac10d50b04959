import Foundation
import SheafCore

/// A Mustache template's tags as a tree, with line numbers: what sheaf needs to check that every
/// name a template uses exists (swift-mustache renders a missing name as nothing, silently).
indirect enum TemplateNode {
  case variable(name: String, line: Int)
  case section(name: String, line: Int, inverted: Bool, children: [TemplateNode])
  case partial(name: String, line: Int)
}

/// Why a template cannot be used: its structure is wrong.
struct TemplateSyntaxError: Error {
  var line: Int
  var message: String
}

/// A name a template uses that the data does not have.
struct MissingReference: Error {
  var file: String
  var line: Int
  var name: String
  var known: [String]
}

enum TemplateCheck {
  /// Parses the tags of a template.
  /// - Throws: `TemplateSyntaxError` for an unclosed tag or section, a stray closing tag, or a
  ///   delimiter change (which the check does not follow).
  static func parse(_ text: String) throws -> [TemplateNode] {
    let chars = Array(text.utf8)
    var index = 0
    var line = 1
    // A stack of open sections: (name, line, inverted, children so far).
    var stack: [(name: String, line: Int, inverted: Bool, children: [TemplateNode])] = [
      ("", 0, false, [])
    ]
    func advanceLines(_ from: Int, _ to: Int) {
      for i in from..<to where chars[i] == 0x0A { line += 1 }
    }
    while index < chars.count {
      guard index + 1 < chars.count, chars[index] == UInt8(ascii: "{"),
        chars[index + 1] == UInt8(ascii: "{")
      else {
        if chars[index] == 0x0A { line += 1 }
        index += 1
        continue
      }
      let tagLine = line
      let triple = index + 2 < chars.count && chars[index + 2] == UInt8(ascii: "{")
      let open = triple ? 3 : 2
      let closer: [UInt8] = triple ? Array("}}}".utf8) : Array("}}".utf8)
      var end = index + open
      var found = false
      while end + closer.count <= chars.count {
        if Array(chars[end..<(end + closer.count)]) == closer {
          found = true
          break
        }
        end += 1
      }
      guard found else {
        throw TemplateSyntaxError(
          line: tagLine, message: "a tag opened with '\(triple ? "{{{" : "{{")}' is never closed")
      }
      let inner = String(decoding: chars[(index + open)..<end], as: UTF8.self).trimmingCharacters(
        in: .whitespaces)
      advanceLines(index, end + closer.count)
      index = end + closer.count
      if triple {
        stack[stack.count - 1].children.append(.variable(name: bareName(inner), line: tagLine))
        continue
      }
      guard let sigil = inner.first else {
        throw TemplateSyntaxError(line: tagLine, message: "an empty tag '{{}}'")
      }
      let rest = inner.dropFirst().trimmingCharacters(in: .whitespaces)
      switch sigil {
      case "!", "%":
        continue
      case "=":
        throw TemplateSyntaxError(
          line: tagLine,
          message: "changing delimiters ('{{=…=}}') is not supported in sheaf prompts")
      case "#", "^":
        stack.append((bareName(rest), tagLine, sigil == "^", []))
      case "$":
        // A block is not a lookup: its children are checked where it stands.
        stack.append(("$" + bareName(rest), tagLine, false, []))
      case "/":
        let name = bareName(rest)
        guard stack.count > 1 else {
          throw TemplateSyntaxError(
            line: tagLine, message: "'{{/\(name)}}' closes a section that was never opened")
        }
        let section = stack.removeLast()
        let isBlock = section.name.hasPrefix("$")
        let opened = isBlock ? String(section.name.dropFirst()) : section.name
        guard opened == name else {
          throw TemplateSyntaxError(
            line: tagLine,
            message: "'{{/\(name)}}' closes '\(opened)', opened at line \(section.line)")
        }
        if isBlock {
          stack[stack.count - 1].children += section.children
        } else {
          stack[stack.count - 1].children.append(
            .section(
              name: section.name, line: section.line, inverted: section.inverted,
              children: section.children))
        }
      case ">", "<":
        stack[stack.count - 1].children.append(.partial(name: rest, line: tagLine))
      case "&":
        stack[stack.count - 1].children.append(.variable(name: bareName(rest), line: tagLine))
      default:
        stack[stack.count - 1].children.append(.variable(name: bareName(inner), line: tagLine))
      }
    }
    if stack.count > 1, let open = stack.last {
      let name = open.name.hasPrefix("$") ? String(open.name.dropFirst()) : open.name
      throw TemplateSyntaxError(line: open.line, message: "section '\(name)' is never closed")
    }
    return stack[0].children
  }

  /// `uppercased(section.title)` → `section.title`.
  private static func bareName(_ text: String) -> String {
    var name = text
    while let open = name.firstIndex(of: "("), name.hasSuffix(")") {
      name = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
    }
    return name.trimmingCharacters(in: .whitespaces)
  }

  /// Looks a dotted name up along the scope stack, innermost first, as Mustache does; a key
  /// that is present counts, whatever its value.
  static func resolve(_ name: String, in stack: [Any]) -> Any?? {
    if name == "." { return .some(stack.last) }
    var parts = name.split(separator: ".").map(String.init)
    guard !parts.isEmpty else { return nil }
    let first = parts.removeFirst()
    for scope in stack.reversed() {
      guard let object = scope as? [String: Any], let value = object[first] else { continue }
      var current: Any = value
      for part in parts {
        guard let object = current as? [String: Any], let next = object[part] else { return nil }
        current = next
      }
      return .some(current)
    }
    return nil
  }

  /// Whether Mustache renders a section for this value.
  static func isTruthy(_ value: Any?) -> Bool {
    switch value {
    case .none: return false
    case let bool as Bool: return bool
    case let array as [Any]: return !array.isEmpty
    default: return true
    }
  }

  /// Checks every name against the data, entering sections as rendering would; partials are
  /// checked in place.
  /// - Throws: `MissingReference` for the first name the data does not have.
  static func check(
    _ nodes: [TemplateNode], stack: [Any], file: String,
    partial: (String) throws -> (file: String, nodes: [TemplateNode])?, depth: Int = 0
  ) throws {
    func missing(_ name: String, _ line: Int) -> MissingReference {
      let known = (stack.last as? [String: Any]).map { Array($0.keys).sorted() } ?? []
      return MissingReference(file: file, line: line, name: name, known: known)
    }
    for node in nodes {
      switch node {
      case .variable(let name, let line):
        if resolve(name, in: stack) == nil { throw missing(name, line) }
      case .section(let name, let line, let inverted, let children):
        guard let found = resolve(name, in: stack) else { throw missing(name, line) }
        let value = found ?? nil
        if inverted {
          if !isTruthy(value) {
            try check(children, stack: stack, file: file, partial: partial, depth: depth)
          }
        } else if let array = value as? [Any] {
          for element in array {
            try check(
              children, stack: stack + [element], file: file, partial: partial, depth: depth)
          }
        } else if isTruthy(value) {
          try check(
            children, stack: value is Bool ? stack : stack + [value as Any], file: file,
            partial: partial, depth: depth)
        }
      case .partial(let name, let line):
        guard depth < 16 else { continue }
        guard let (partialFile, partialNodes) = try partial(name) else {
          throw MissingReference(file: file, line: line, name: ">" + name, known: [])
        }
        try check(partialNodes, stack: stack, file: partialFile, partial: partial, depth: depth + 1)
      }
    }
  }
}
