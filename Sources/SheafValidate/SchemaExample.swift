import Foundation
import SheafCore

/// A value valid against a JSON Schema, chosen deterministically by a random generator: what the
/// offline provider answers for a JSON section, so JSON sections can be tried and tested offline.
///
/// It honours `type`, `enum`, `const`, `properties` and `required` (every property is written),
/// `additionalProperties`, `items` and `prefixItems`, `minItems`/`maxItems`, `uniqueItems`,
/// `minLength`/`maxLength`, `minimum`/`maximum` (and the exclusive ones), `multipleOf`, the
/// formats `date`, `date-time`, `email`, `uri`, `uuid`, `allOf`/`anyOf`/`oneOf` (the first branch
/// that applies), and `$ref` into `$defs` or `definitions`. A `pattern` is not generated for; a
/// schema that gives `examples` (valid values, by its author's word) answers one of them.
public struct SchemaExample<Generator: RandomNumberGenerator> {
  private var rng: Generator
  private let root: JSON
  private let words: [String]
  private var depth = 0

  /// A generator for `schema` (its `$defs` resolve `$ref`), writing text from `words`.
  public init(schema: JSON, words: [String], rng: Generator) {
    root = schema
    self.words = words.isEmpty ? ["item"] : words
    self.rng = rng
  }

  /// A valid value.
  public mutating func value() -> JSON {
    value(for: root, name: "value")
  }

  private mutating func word() -> String {
    words[Int.random(in: 0..<words.count, using: &rng)]
  }

  private mutating func value(for schema: JSON, name: String) -> JSON {
    depth += 1
    defer { depth -= 1 }
    if schema.kind == .bool { return schema.bool == false ? .null : JSON(name) }
    guard schema.kind == .object else { return .null }
    if let ref = schema["$ref"]?.string, let target = resolve(ref) {
      return value(for: target, name: name)
    }
    if let constant = schema["const"] { return constant.copy() }
    if let examples = schema["examples"]?.array, !examples.isEmpty {
      return examples[Int.random(in: 0..<examples.count, using: &rng)].copy()
    }
    if let choices = schema["enum"]?.array, !choices.isEmpty {
      return choices[Int.random(in: 0..<choices.count, using: &rng)].copy()
    }
    if let all = schema["allOf"]?.array, !all.isEmpty {
      let merged = JSON.merged(all + [schema])
      merged["allOf"] = nil
      return value(for: merged, name: name)
    }
    for key in ["oneOf", "anyOf"] {
      if let branches = schema[key]?.array, let first = branches.first {
        let merged = JSON.merged([schema, first])
        merged[key] = nil
        return value(for: merged, name: name)
      }
    }
    var type = schema["type"]?.string ?? schema["type"]?.array?.first?.string
    if type == nil {
      if schema["properties"] != nil {
        type = "object"
      } else if schema["items"] != nil || schema["prefixItems"] != nil {
        type = "array"
      } else {
        type = "string"
      }
    }
    switch type {
    case "object": return object(schema)
    case "array": return array(schema, name: name)
    case "integer": return JSON(integer(schema))
    case "number": return number(schema)
    case "boolean": return JSON(Bool.random(using: &rng))
    case "null": return .null
    default: return JSON(string(schema, name: name))
    }
  }

  private func resolve(_ ref: String) -> JSON? {
    for prefix in ["#/$defs/", "#/definitions/"] where ref.hasPrefix(prefix) {
      let key = String(ref.dropFirst(prefix.count))
      return root[prefix.contains("$defs") ? "$defs" : "definitions"]?[key]
    }
    return ref == "#" ? root : nil
  }

  private mutating func object(_ schema: JSON) -> JSON {
    let out = JSON.object()
    let properties = schema["properties"]?.members ?? []
    // Deep in a recursive schema only what is required is written.
    let required = Set(schema["required"]?.array?.compactMap(\.string) ?? [])
    for (key, property) in properties where depth < 8 || required.contains(key) {
      out[key] = value(for: property, name: key)
    }
    for key in schema["required"]?.array?.compactMap(\.string) ?? [] where out[key] == nil {
      let extra = schema["additionalProperties"]
      out[key] =
        extra.map { $0.kind == .object ? value(for: $0, name: key) : JSON(word()) }
        ?? JSON(word())
    }
    let least = schema["minProperties"]?.int ?? 0
    var index = 1
    while out.count < least {
      let extra = schema["additionalProperties"]
      let key = "\(word())_\(index)"
      out[key] =
        extra.map { $0.kind == .object ? value(for: $0, name: key) : JSON(word()) }
        ?? JSON(word())
      index += 1
    }
    return out
  }

  private mutating func array(_ schema: JSON, name: String) -> JSON {
    // Draft-07's tuple form (`items: [...]`) is the 2020 `prefixItems`.
    let prefix = schema["prefixItems"]?.array ?? schema["items"]?.array ?? []
    let low = max(schema["minItems"]?.int ?? 0, prefix.count)
    let high = max(low, schema["maxItems"]?.int ?? max(low, 3))
    var count = min(high, max(low, Swift.min(3, high)))
    if depth >= 8 { count = low }  // deep in a recursive schema: as few as allowed
    let items = schema["items"]?.kind == .object ? schema["items"] : nil
    // Unique items of a small set: no more than there are.
    if schema["uniqueItems"]?.bool == true, let items {
      let distinct =
        items["enum"]?.array?.count ?? (items["const"] != nil ? 1 : nil)
        ?? (items["type"]?.string == "boolean" ? 2 : nil)
      if let distinct { count = max(low, min(count, distinct + prefix.count)) }
    }
    var out: [JSON] = []
    for index in 0..<count {
      let itemSchema =
        index < prefix.count ? prefix[index] : (items?.kind == .object ? items : nil)
      var item = itemSchema.map { value(for: $0, name: name) } ?? JSON(word())
      if schema["uniqueItems"]?.bool == true {
        // A set of values: the next one not written yet.
        if let choices = itemSchema?["enum"]?.array {
          item = choices.first { choice in !out.contains { $0.isEqual(to: choice) } } ?? item
        } else if itemSchema?["type"]?.string == "boolean" {
          item = JSON(!out.contains { $0.bool == true })
        }
        var tries = 0
        while out.contains(where: { $0.isEqual(to: item) }) && tries < 20 {
          item = itemSchema.map { value(for: $0, name: name) } ?? JSON("\(word()) \(index + 1)")
          if item.kind == .string, out.contains(where: { $0.isEqual(to: item) }) {
            item = JSON("\(item.string ?? "") \(index + 1)")
          }
          tries += 1
        }
      }
      out.append(item)
    }
    return .array(out)
  }

  /// A whole number of `value`, saturated to what an `Int` holds.
  private static func whole(_ value: Double) -> Int {
    guard value.isFinite else { return value > 0 ? Int.max / 2 : Int.min / 2 }
    return Int(max(-4e18, min(4e18, value)))
  }

  private mutating func integer(_ schema: JSON) -> Int {
    var low = schema["minimum"]?.double.map { Self.whole($0.rounded(.up)) }
    var high = schema["maximum"]?.double.map { Self.whole($0.rounded(.down)) }
    if let exclusive = schema["exclusiveMinimum"]?.double {
      low = max(low ?? Int.min / 2, Self.whole(exclusive.rounded(.down)) + 1)
    }
    if let exclusive = schema["exclusiveMaximum"]?.double {
      high = min(high ?? Int.max / 2, Self.whole(exclusive.rounded(.up)) - 1)
    }
    let from = low ?? min(1, high ?? 1)
    var to = high ?? (from > Int.max / 4 ? from : from + 99)
    if to < from { to = from }
    // A span within reach of the generator's range.
    let top = from + min(to - from, 1_000_000)
    var value = Int.random(in: from...top, using: &rng)
    if let step = schema["multipleOf"]?.double, step >= 1, step == step.rounded() {
      let whole = Self.whole(step)
      value = ((value + whole - 1) / whole) * whole
      if value > to { value = (to / whole) * whole }
      if value < from { value = ((from + whole - 1) / whole) * whole }
    }
    return value
  }

  private mutating func number(_ schema: JSON) -> JSON {
    var low = schema["minimum"]?.double
    var high = schema["maximum"]?.double
    if let exclusive = schema["exclusiveMinimum"]?.double { low = max(low ?? exclusive, exclusive) }
    if let exclusive = schema["exclusiveMaximum"]?.double {
      high = min(high ?? exclusive, exclusive)
    }
    let from = low ?? min(0, (high ?? 100) - 100)
    let to = max(from, high ?? from + 100)
    if let step = schema["multipleOf"]?.double, step > 0 {
      // The first multiple of the step inside the bounds.
      var multiple = (from / step).rounded(.up) * step
      if schema["exclusiveMinimum"] != nil && multiple <= from { multiple += step }
      return JSON(multiple)
    }
    // Strictly inside when a bound is exclusive.
    let fraction = Double(Int.random(in: 1...99, using: &rng)) / 100
    return JSON(((from + fraction * (to - from)) * 10_000).rounded() / 10_000)
  }

  private mutating func string(_ schema: JSON, name: String) -> String {
    var text: String
    switch schema["format"]?.string {
    case "date":
      text = String(
        format: "2026-%02d-%02d", Int.random(in: 1...12, using: &rng),
        Int.random(in: 1...28, using: &rng))
    case "date-time":
      text = String(
        format: "2026-%02d-%02dT%02d:00:00Z", Int.random(in: 1...12, using: &rng),
        Int.random(in: 1...28, using: &rng), Int.random(in: 0...23, using: &rng))
    case "email": text = "\(word().lowercased())@example.com"
    case "uri", "url": text = "https://example.com/\(word().lowercased())"
    case "uuid":
      let hex = (0..<32).map { _ in String(Int.random(in: 0..<16, using: &rng), radix: 16) }
        .joined()
      let chars = Array(hex)
      text = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(chars[$0]) }.joined(
        separator: "-")
    default:
      let count = Int.random(in: 2...5, using: &rng)
      text = (0..<count).map { _ in word() }.joined(separator: " ")
      if let first = text.first { text = first.uppercased() + text.dropFirst() }
    }
    if let least = schema["minLength"]?.int {
      while text.count < least { text += " " + word() }
    }
    if let most = schema["maxLength"]?.int, text.count > most {
      text = String(text.prefix(most)).trimmed
      if let least = schema["minLength"]?.int, text.count < least {
        text = String(repeating: "x", count: least)
      }
    }
    return text
  }
}
