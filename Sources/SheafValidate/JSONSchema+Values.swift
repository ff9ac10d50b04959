import Foundation
import SheafCore

// How instances are named and matched in messages: types, formats, patterns, brief values.
extension JSONSchema {
  func matches(_ instance: JSON, type: String) -> Bool {
    switch type {
    case "integer":
      guard instance.kind == .number else { return false }
      if let literal = instance.numberLiteral, !literal.contains(where: { ".eE".contains($0) }) {
        return true
      }
      return instance.double.map { $0.isFinite && $0 == $0.rounded() } ?? false
    case "number": return instance.kind == .number
    case "string": return instance.kind == .string
    case "boolean": return instance.kind == .bool
    case "null": return instance.kind == .null
    case "object": return instance.kind == .object
    case "array": return instance.kind == .array
    default: return false
    }
  }

  /// Whether `text` is a valid `format` (the ones sheaf checks; others pass).
  static func matches(_ text: String, format: String) -> Bool {
    let patterns = [
      "date": #"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"#,
      "date-time":
        #"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"#,
      "email": #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#,
      "uri": #"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$"#,
      "uuid": #"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#,
    ]
    guard let pattern = patterns[format] else { return true }
    return text.range(of: pattern, options: .regularExpression) != nil
  }

  func regex(_ pattern: String) -> NSRegularExpression? {
    if let cached = patterns[pattern] { return cached }
    let compiled = try? NSRegularExpression(pattern: pattern)
    patterns[pattern] = compiled
    return compiled
  }

  static func typeName(_ value: JSON) -> String {
    switch value.kind {
    case .number:
      return value.int != nil && !(value.numberLiteral?.contains(".") ?? false)
        ? "integer" : "number"
    case .bool: return "boolean"
    default: return value.kind.rawValue
    }
  }

  static func brief(_ value: JSON) -> String {
    let text = value.compactText
    return text.count > 60 ? String(text.prefix(57)) + "…" : text
  }

  static func number(_ value: JSON?) -> String { value?.numberLiteral ?? "?" }

  /// `$.a`, `$["odd key"]`.
  static func childPath(_ path: String, _ key: String) -> String {
    let simple =
      !key.isEmpty
      && key.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" }
      && !(key.first?.isNumber ?? true)
    return simple ? "\(path).\(key)" : "\(path)[\(JSON(key).compactText)]"
  }

  /// The first pair of equal items (the lowest first index, then the lowest second), in about
  /// n log n: items are grouped by a canonical form (object keys sorted, numbers as values), and
  /// only items of one group are compared.
  static func firstEqualPair(_ items: [JSON]) -> (Int, Int)? {
    var groups: [String: [Int]] = [:]
    var best: (Int, Int)?
    for (index, item) in items.enumerated() {
      let key = canonical(item)
      let earlier = groups[key, default: []]
      if let first = earlier.first(where: { items[$0].isEqual(to: item) }),
        best.map({ first < $0.0 }) ?? true
      {
        best = (first, index)
      }
      groups[key, default: []].append(index)
    }
    return best
  }

  /// A text that equal values share (and, rarely, a few unequal ones: `isEqual` decides).
  static func canonical(_ value: JSON) -> String {
    switch value.kind {
    case .object:
      let members = value.members.sorted { $0.key < $1.key }
      return "{"
        + members.map { JSON($0.key).compactText + ":" + canonical($0.value) }
        .joined(separator: ",") + "}"
    case .array:
      return "[" + (value.array ?? []).map(canonical).joined(separator: ",") + "]"
    case .number:
      return "n" + String(value.double ?? 0)
    default:
      return value.compactText
    }
  }
}
