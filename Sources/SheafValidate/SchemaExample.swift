import Foundation
import SheafCore

/// A value valid against a JSON Schema, chosen deterministically by a random generator: what the
/// offline provider answers for a JSON section, so JSON sections can be tried and tested offline.
///
/// It honours `type`, `enum`, `const`, `properties` and `required` (every property is written),
/// `additionalProperties`, `items` and `prefixItems`, `minItems`/`maxItems`, `uniqueItems`,
/// `minLength`/`maxLength`, `minimum`/`maximum` (and the exclusive ones), `multipleOf`, the
/// formats `date`, `date-time`, `email`, `uri`, `uuid`, `allOf`/`anyOf`/`oneOf` (the first branch
/// that applies), and `$ref` into `$defs` or `definitions`. A `pattern` is not generated for.
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
    guard schema.kind == .object, depth < 12 else { return .null }
    if let ref = schema["$ref"]?.string, let target = resolve(ref) {
      return value(for: target, name: name)
    }
    if let constant = schema["const"] { return constant.copy() }
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
    for (key, property) in properties { out[key] = value(for: property, name: key) }
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
    let prefix = schema["prefixItems"]?.array ?? []
    let low = max(schema["minItems"]?.int ?? 0, prefix.count)
    let high = max(low, schema["maxItems"]?.int ?? max(low, 3))
    let count = min(high, max(low, Swift.min(3, high)))
    let items = schema["items"]
    var out: [JSON] = []
    for index in 0..<count {
      let itemSchema =
        index < prefix.count ? prefix[index] : (items?.kind == .object ? items : nil)
      var item = itemSchema.map { value(for: $0, name: name) } ?? JSON(word())
      if schema["uniqueItems"]?.bool == true {
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

  private mutating func integer(_ schema: JSON) -> Int {
    var low = schema["minimum"]?.double.map { Int($0.rounded(.up)) } ?? 1
    var high = schema["maximum"]?.double.map { Int($0.rounded(.down)) } ?? max(low, 100)
    if let exclusive = schema["exclusiveMinimum"]?.double {
      low = max(low, Int(exclusive.rounded(.down)) + 1)
    }
    if let exclusive = schema["exclusiveMaximum"]?.double {
      high = min(high, Int(exclusive.rounded(.up)) - 1)
    }
    if high < low { high = low }
    var value = Int.random(in: low...high, using: &rng)
    if let step = schema["multipleOf"]?.double, step >= 1 {
      let whole = Int(step)
      value = (value / whole) * whole
      if value < low { value += whole }
    }
    return value
  }

  private mutating func number(_ schema: JSON) -> JSON {
    if schema["multipleOf"] != nil { return JSON(integer(schema)) }
    let low = schema["minimum"]?.double ?? schema["exclusiveMinimum"]?.double.map { $0 + 0.5 } ?? 0
    let high =
      schema["maximum"]?.double ?? schema["exclusiveMaximum"]?.double.map { $0 - 0.5 }
      ?? max(low, low + 100)
    let value = low + Double(Int.random(in: 0...100, using: &rng)) / 100 * max(0, high - low)
    return JSON((value * 100).rounded() / 100)
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
