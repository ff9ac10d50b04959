import Foundation
import SheafCore

/// The table of inputs of `make docs ROWS=`: one document per row, the row's fields its inputs.
///
/// A `.csv` file (or `.tsv`) has a header row naming the fields (RFC 4180: quoted fields may hold
/// commas, quotes written twice and newlines); a `.jsonl` or `.ndjson` file has one JSON object a
/// line, whose strings are taken as they are and other values as their JSON text. Another name is
/// read as JSON lines when its first character is `{`, else as CSV.
public struct DocumentRows {
  /// One row: where it is in the file (for messages) and its fields in order.
  public struct Row {
    /// The row's number among the rows (1 is the first after the header).
    public var number: Int
    /// The line of the file where the row starts.
    public var line: Int
    /// The fields, in the header's order.
    public var fields: [(key: String, value: String)]

    /// The field called `name`.
    public subscript(name: String) -> String? { fields.first { $0.key == name }?.value }
  }

  /// The file, as given.
  public let source: String
  /// The field names (CSV: the header; JSON lines: every key, in the order first seen).
  public let header: [String]
  /// The rows, in the file's order.
  public let rows: [Row]

  /// Reads a table of inputs.
  /// - Throws: `ToolFailure.usage` naming the file and line of the first problem.
  public static func read(path: String) throws -> DocumentRows {
    guard let data = FileManager.default.contents(atPath: path) else {
      let reason = FileManager.default.fileExists(atPath: path) ? "cannot read it" : "no such file"
      throw ToolFailure.usage("ROWS=\(path): \(reason)")
    }
    guard var text = String(data: data, encoding: .utf8) else {
      throw ToolFailure.usage("ROWS=\(path): not UTF-8 text")
    }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
    let ext = (path as NSString).pathExtension.lowercased()
    let jsonLines =
      ["jsonl", "ndjson"].contains(ext)
      || (!["csv", "tsv"].contains(ext) && text.first(where: { !$0.isWhitespace }) == "{")
    let table =
      jsonLines
      ? try readJSONLines(text, source: path)
      : try readDelimited(text, separator: ext == "tsv" ? "\t" : ",", source: path)
    guard !table.rows.isEmpty else {
      throw ToolFailure.usage("ROWS=\(path): no rows (one document is made per row)")
    }
    return table
  }

  private static func readJSONLines(_ text: String, source: String) throws -> DocumentRows {
    var header: [String] = []
    var seen = Set<String>()
    var rows: [Row] = []
    let lines = text.split(omittingEmptySubsequences: false) {
      $0 == "\n" || $0 == "\r\n" || $0 == "\r"
    }
    for (index, line) in lines.enumerated()
    where !line.allSatisfy(\.isWhitespace) {
      let object: JSON
      do {
        object = try JSON.parse(String(line))
      } catch {
        throw ToolFailure.usage("\(source):\(index + 1): not JSON: \(error.description)")
      }
      guard object.kind == .object else {
        throw ToolFailure.usage(
          "\(source):\(index + 1): a row is a JSON object, got \(object.kind.article)")
      }
      var fields: [(key: String, value: String)] = []
      for (key, value) in object.members {
        fields.append((key, value.string ?? (value.kind == .null ? "" : value.compactText)))
        if seen.insert(key).inserted { header.append(key) }
      }
      rows.append(Row(number: rows.count + 1, line: index + 1, fields: fields))
    }
    return DocumentRows(source: source, header: header, rows: rows)
  }

  private static func readDelimited(
    _ text: String, separator: Character, source: String
  ) throws -> DocumentRows {
    var records: [(line: Int, fields: [String])] = []
    var fields: [String] = []
    var field = ""
    var quoted = false
    var atFieldStart = true
    var line = 1
    var recordLine = 1
    var characters = text.makeIterator()
    var pending: Character? = nil
    func next() -> Character? {
      if let held = pending {
        pending = nil
        return held
      }
      return characters.next()
    }
    func endRecord() {
      fields.append(field)
      if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields)) }
      fields = []
      field = ""
      atFieldStart = true
    }
    while let character = next() {
      if quoted {
        if character == "\"" {
          if let after = next() {
            if after == "\"" {
              field.append("\"")
            } else {
              quoted = false
              pending = after
            }
          } else {
            quoted = false
          }
        } else {
          if character == "\n" || character == "\r\n" { line += 1 }
          field.append(character)
        }
        continue
      }
      switch character {
      case "\"" where atFieldStart:
        quoted = true
        atFieldStart = false
      case separator:
        fields.append(field)
        field = ""
        atFieldStart = true
      case "\n", "\r\n", "\r":
        endRecord()
        line += 1
        recordLine = line
      default:
        field.append(character)
        atFieldStart = false
      }
    }
    if quoted {
      throw ToolFailure.usage(
        "\(source):\(recordLine): a quoted field is not closed (a \" is missing)")
    }
    if !field.isEmpty || !fields.isEmpty { endRecord() }
    guard let first = records.first else {
      throw ToolFailure.usage("ROWS=\(source): no header row (the first line names the fields)")
    }
    let header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
    var names = Set<String>()
    for (index, name) in header.enumerated() {
      guard !name.isEmpty else {
        throw ToolFailure.usage(
          "\(source):\(first.line): field \(index + 1) of the header has no name")
      }
      guard names.insert(name).inserted else {
        throw ToolFailure.usage("\(source):\(first.line): the header names '\(name)' twice")
      }
    }
    var rows: [Row] = []
    for record in records.dropFirst() {
      guard record.fields.count == header.count else {
        throw ToolFailure.usage(
          "\(source):\(record.line): \(record.fields.count) field\(record.fields.count == 1 ? "" : "s"), the header has \(header.count)"
        )
      }
      rows.append(
        Row(
          number: rows.count + 1, line: record.line,
          fields: Array(zip(header, record.fields)).map { (key: $0.0, value: $0.1) }))
    }
    return DocumentRows(source: source, header: header, rows: rows)
  }

  // MARK: Document ids

  /// Each row's document id, made a slug.
  ///
  /// `DOC_ID` is a template (`{{row.field}}`, `{{n}}` the row number, `{{plan}}` the plan's id)
  /// or a field's name; without it, the `id` field if there is one, else `<plan>-<n>`.
  /// - Throws: `ToolFailure.usage` for an unknown field, an empty id, or two rows with one id
  ///   (naming both rows).
  public func documentIDs(template: String?, plan: String) throws -> [String] {
    let given = template.flatMap { $0.isEmpty ? nil : $0 }
    var ids: [String] = []
    var firstRow: [String: Row] = [:]
    for row in rows {
      let text: String
      if let given, given.contains("{{") {
        text = try render(given, row: row, plan: plan)
      } else if let field = given ?? (header.contains("id") ? "id" : nil) {
        guard header.contains(field) else {
          let hint = header.isEmpty ? "" : " (the fields are: \(header.joined(separator: ", ")))"
          throw ToolFailure.usage("DOC_ID=\(field): \(source) has no field '\(field)'\(hint)")
        }
        text = row[field] ?? ""
      } else {
        text = "\(plan)-\(row.number)"
      }
      let id = Slug.make(from: text)
      guard !id.isEmpty else {
        throw ToolFailure.usage(
          "\(source):\(row.line): row \(row.number) gives an empty document id (DOC_ID\(given.map { "=\($0)" } ?? ""): '\(text)')"
        )
      }
      if let other = firstRow[id] {
        throw ToolFailure.usage(
          "\(source): rows \(other.number) (line \(other.line)) and \(row.number) (line \(row.line)) both give the document id '\(id)': set DOC_ID to tell them apart"
        )
      }
      firstRow[id] = row
      ids.append(id)
    }
    return ids
  }

  /// `{{row.field}}`, `{{n}}` and `{{plan}}` put in a text.
  private func render(_ template: String, row: Row, plan: String) throws -> String {
    var out = ""
    var rest = Substring(template)
    while let open = rest.range(of: "{{") {
      out += rest[..<open.lowerBound]
      guard let close = rest[open.upperBound...].range(of: "}}") else {
        throw ToolFailure.usage("DOC_ID=\(template): a '{{' is not closed")
      }
      let name = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      if name == "n" {
        out += String(row.number)
      } else if name == "plan" {
        out += plan
      } else if name.hasPrefix("row."), let value = row[String(name.dropFirst(4))] {
        out += value
      } else {
        let fields = header.map { "row.\($0)" }.joined(separator: ", ")
        throw ToolFailure.usage(
          "DOC_ID=\(template): no '\(name)' in \(source) (give {{n}}, {{plan}} or one of: \(fields))"
        )
      }
      rest = rest[close.upperBound...]
    }
    return out + rest
  }
}

/// `SHARD=i/N`: a deterministic share of the documents, so that N machines given the same rows
/// build each document once.
///
/// A document belongs to the shard its id's SHA-256 gives (the first eight bytes modulo N): a
/// row keeps its shard when other rows are added, removed or moved.
public struct Shard: Equatable, Sendable {
  /// This shard's number, from 1, and how many there are.
  public var index: Int
  public var count: Int

  /// Every document.
  public static let all = Shard(index: 1, count: 1)

  /// Parses `i/N`.
  /// - Throws: `ToolFailure.usage` unless 1 ≤ i ≤ N.
  public init(parsing text: String) throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
      (1...count).contains(index)
    else {
      throw ToolFailure.usage("SHARD=\(text): give i/N with 1 ≤ i ≤ N (SHARD=1/4)")
    }
    self.init(index: index, count: count)
  }

  /// A shard.
  public init(index: Int, count: Int) {
    self.index = index
    self.count = count
  }

  /// Whether the document `id` is this shard's.
  public func owns(_ id: String) -> Bool {
    guard count > 1 else { return true }
    var hash = SHA256()
    hash.update(id)
    let hex = hash.hexDigest()
    let value = UInt64(hex.prefix(16), radix: 16) ?? 0
    return Int(value % UInt64(count)) == index - 1
  }

  /// The suffix of this shard's files in the set's folder (`-2of4`; empty for every document).
  public var tag: String { count > 1 ? "-\(index)of\(count)" : "" }
}
