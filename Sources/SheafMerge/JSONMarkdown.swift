import SheafCore

/// A JSON section as readable Markdown, never a raw JSON block: an array of flat objects is a
/// table, an array of plain values a list, an object a list of `**key**: value` items (nested
/// objects and arrays as nested lists), a plain value its text.
public enum JSONMarkdown {
  /// The Markdown for `value`.
  public static func render(_ value: JSON) -> String {
    if let rows = value.array, !rows.isEmpty, rows.allSatisfy(isFlatObject) {
      return table(rows)
    }
    if let blocks = blocks(value) {
      return blocks.map { block in
        switch block {
        case .list(let members): return list(members, indent: 0).joined(separator: "\n")
        case .table(let key, let rows): return "**\(label(key))**\n\n" + table(rows)
        }
      }.joined(separator: "\n\n")
    }
    switch value.kind {
    case .object, .array:
      return value.count == 0 ? "—" : list(value, indent: 0).joined(separator: "\n")
    default: return scalar(value)
    }
  }

  /// A part of an object that holds tables: its other members as a list, or one member that is
  /// an array of flat objects, as a table under its label.
  enum Block {
    case list(JSON)
    case table(String, [JSON])
  }

  /// An object with a member that is an array of flat objects (`{"metrics": [{…}, {…}]}`), in
  /// blocks, in order; `nil` for any other value.
  static func blocks(_ value: JSON) -> [Block]? {
    guard value.kind == .object,
      value.members.contains(where: { isTable($0.value) })
    else { return nil }
    var blocks: [Block] = []
    var plain = JSON.object()
    for (key, member) in value.members {
      if isTable(member), let rows = member.array {
        if plain.count > 0 { blocks.append(.list(plain)) }
        plain = JSON.object()
        blocks.append(.table(key, rows))
      } else {
        plain[key] = member.copy()
      }
    }
    if plain.count > 0 { blocks.append(.list(plain)) }
    return blocks
  }

  private static func isTable(_ value: JSON) -> Bool {
    guard let rows = value.array, !rows.isEmpty else { return false }
    return rows.allSatisfy(isFlatObject)
  }

  /// A JSON section as HTML where it holds tables (cmark has none): the tables written as HTML,
  /// the rest through `markdown`; `nil` when it holds no table.
  public static func html(_ value: JSON, markdown: (String) -> String) -> String? {
    if let table = htmlTable(value) { return table }
    guard let blocks = blocks(value) else { return nil }
    return blocks.map { block in
      switch block {
      case .list(let members): return markdown(list(members, indent: 0).joined(separator: "\n"))
      case .table(let key, let rows):
        return "<p><strong>\(escape(label(key)))</strong></p>\n"
          + (htmlTable(.array(rows.map { $0.copy() })) ?? "")
      }
    }.joined()
  }

  private static func escape(_ text: String) -> String { Markup.escape(text) }

  /// The table of an array of flat objects as HTML (cmark has no tables), else `nil`.
  public static func htmlTable(_ value: JSON) -> String? {
    guard let rows = value.array, !rows.isEmpty, rows.allSatisfy(isFlatObject) else { return nil }
    var columns: [String] = []
    for row in rows {
      for (key, _) in row.members where !columns.contains(key) { columns.append(key) }
    }
    var html = "<table>\n<thead><tr>"
    html += columns.map { "<th>\(escape(label($0)))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
    for row in rows {
      html += "<tr>" + columns.map { "<td>\(escape(row[$0].map(scalar) ?? ""))</td>" }.joined()
      html += "</tr>\n"
    }
    return html + "</tbody>\n</table>\n"
  }

  private static func isFlatObject(_ value: JSON) -> Bool {
    value.kind == .object && value.count > 0
      && value.members.allSatisfy { $0.value.kind != .object && $0.value.kind != .array }
  }

  private static func table(_ rows: [JSON]) -> String {
    var columns: [String] = []
    for row in rows {
      for (key, _) in row.members where !columns.contains(key) { columns.append(key) }
    }
    func cell(_ text: String) -> String {
      text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\r\n", with: " ")
        .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
    }
    var lines = ["| " + columns.map { cell(label($0)) }.joined(separator: " | ") + " |"]
    lines.append("|" + columns.map { _ in " --- |" }.joined())
    for row in rows {
      lines.append(
        "| " + columns.map { cell(row[$0].map(scalar) ?? "") }.joined(separator: " | ") + " |")
    }
    return lines.joined(separator: "\n")
  }

  private static func list(_ value: JSON, indent: Int) -> [String] {
    let pad = String(repeating: "  ", count: indent)
    var lines: [String] = []
    if value.kind == .object {
      for (key, member) in value.members {
        if member.kind == .object || member.kind == .array, member.count > 0 {
          lines.append("\(pad)- **\(label(key))**:")
          lines += list(member, indent: indent + 1)
        } else {
          lines.append("\(pad)- **\(label(key))**: \(scalar(member))")
        }
      }
    } else {
      for item in value.array ?? [] {
        if item.kind == .object, item.count > 0 {
          let nested = list(item, indent: indent + 1)
          // The first line of an object item takes the bullet.
          if let first = nested.first {
            lines.append(pad + "- " + first.trimmingLeadingBullet())
            lines += nested.dropFirst()
          }
        } else if item.kind == .array, item.count > 0 {
          // An array in an array: its own bullet, its items under it.
          lines.append(pad + "-")
          lines += list(item, indent: indent + 1)
        } else {
          lines.append("\(pad)- \(scalar(item))")
        }
      }
    }
    return lines
  }

  /// A key as a label: `due_date` → `Due date`.
  static func label(_ key: String) -> String {
    let spaced = key.replacingOccurrences(of: "_", with: " ")
    guard let first = spaced.first else { return key }
    return first.uppercased() + spaced.dropFirst()
  }

  private static func scalar(_ value: JSON) -> String {
    switch value.kind {
    case .string:
      // One line: a list item or a cell does not hold a line break.
      return (value.string ?? "").split(whereSeparator: { $0 == "\n" || $0 == "\r" })
        .joined(separator: " ")
    case .null: return "—"
    case .bool: return value.bool == true ? "yes" : "no"
    case .object, .array: return value.count == 0 ? "—" : value.compactText
    default: return value.compactText
    }
  }
}

extension String {
  fileprivate func trimmingLeadingBullet() -> String {
    var text = Substring(self)
    while text.first == " " { text.removeFirst() }
    if text.hasPrefix("- ") { text.removeFirst(2) }
    return String(text)
  }
}
