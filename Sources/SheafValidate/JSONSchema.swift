import Foundation
import SheafCore

/// A JSON Schema validator for draft-07, with the 2020-12 spellings `$defs` and `prefixItems`
/// that providers' structured-output schemas use.
///
/// `$ref` resolves JSON pointers, `$id`s and plain
/// name anchors within the schema; remote references are not fetched. `format` is an annotation,
/// or, with `assertFormats`, checked for `date`, `date-time`, `email`, `uri` and `uuid`. Each
/// violation's `rule` is the keyword that failed (`type`, `required`, `pattern` …).
public final class JSONSchema {
  /// Why a schema cannot be used.
  public struct SchemaError: Error {
    /// What is wrong.
    public var message: String
  }

  private let root: JSON
  private let rootBase: String
  /// Schemas by absolute `$id` (without fragment) and by `uri#anchor`.
  private var ids: [String: JSON] = [:]
  var patterns: [String: NSRegularExpression] = [:]
  private let assertFormats: Bool

  /// The keywords a violation's `rule` can be (so `--warn schema` covers them all).
  public static let keywords: Set<String> = [
    "schema", "type", "enum", "const", "required", "properties", "additionalProperties",
    "minProperties", "maxProperties", "propertyNames", "dependencies", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
    "format", "items", "additionalItems", "minItems", "maxItems", "uniqueItems", "contains",
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "false",
  ]

  /// Compiles a schema.
  /// - Throws: `SchemaError` when it is neither an object nor a boolean, or a `pattern` is not a
  ///   regular expression (the error names where).
  public init(_ schema: JSON, assertFormats: Bool = false) throws {
    guard schema.kind == .object || schema.kind == .bool else {
      throw SchemaError(message: "a schema is an object or a boolean, not \(schema.kind.article)")
    }
    root = schema
    self.assertFormats = assertFormats
    rootBase = schema["$id"]?.string.map { Self.stripFragment($0) } ?? "sheaf:root"
    index(schema, base: rootBase)
    try checkPatterns(schema, at: "#")
  }

  /// Every `pattern` and `patternProperties` key must compile.
  private func checkPatterns(_ schema: JSON, at place: String) throws {
    if schema.kind == .array {
      for (index, element) in (schema.array ?? []).enumerated() {
        try checkPatterns(element, at: "\(place)/\(index)")
      }
      return
    }
    guard schema.kind == .object else { return }
    if let pattern = schema["pattern"]?.string, regex(pattern) == nil {
      throw SchemaError(
        message: "\(place)/pattern: '\(pattern)' is not a valid regular expression")
    }
    for (pattern, _) in schema["patternProperties"]?.members ?? [] where regex(pattern) == nil {
      throw SchemaError(
        message: "\(place)/patternProperties: '\(pattern)' is not a valid regular expression")
    }
    for (key, value) in schema.members
    where !["enum", "const", "default", "examples"].contains(key) {
      try checkPatterns(value, at: "\(place)/\(key)")
    }
  }

  private static func stripFragment(_ uri: String) -> String {
    uri.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
      ?? uri
  }

  private static func resolve(_ reference: String, against base: String) -> String {
    if reference.hasPrefix("#") { return stripFragment(base) + reference }
    if let url = URL(string: reference, relativeTo: URL(string: base)), url.scheme != nil {
      return url.absoluteString
    }
    return reference
  }

  private func index(_ schema: JSON, base: String) {
    guard schema.kind == .object else {
      if schema.kind == .array { for element in schema.array ?? [] { index(element, base: base) } }
      return
    }
    var base = base
    if let id = schema["$id"]?.string {
      let resolved = Self.resolve(id, against: base)
      if id.hasPrefix("#") {
        ids[resolved] = schema
      } else {
        base = Self.stripFragment(resolved)
        ids[base] = schema
      }
    }
    for (key, value) in schema.members
    where !["enum", "const", "default", "examples"].contains(key) {
      index(value, base: base)
    }
  }

  /// The violations of `instance` (empty when it is valid).
  public func validate(_ instance: JSON) -> [Violation] {
    var violations: [Violation] = []
    check(instance, root, base: rootBase, path: "$", depth: 0, into: &violations)
    return violations
  }

  // MARK: - Checking

  private func fail(
    _ violations: inout [Violation], _ path: String, _ keyword: String, _ message: String
  ) {
    violations.append(Violation(rule: keyword, message: "\(path): \(message)", path: path))
  }

  private func valid(_ instance: JSON, _ schema: JSON, base: String, depth: Int) -> Bool {
    var scratch: [Violation] = []
    check(instance, schema, base: base, path: "$", depth: depth, into: &scratch)
    return scratch.isEmpty
  }

  private func check(
    _ instance: JSON, _ schema: JSON, base: String, path: String, depth: Int,
    into violations: inout [Violation]
  ) {
    if let allowed = schema.bool {
      if !allowed { fail(&violations, path, "false", "no value is allowed here") }
      return
    }
    guard schema.kind == .object, depth < 256 else { return }
    var base = base
    if let id = schema["$id"]?.string, !id.hasPrefix("#") {
      base = Self.stripFragment(Self.resolve(id, against: base))
    }

    if let reference = schema["$ref"]?.string {
      // In draft-07 a $ref's siblings are ignored.
      guard let (target, targetBase) = lookup(reference, base: base) else {
        fail(
          &violations, path, "$ref",
          "the schema's $ref '\(reference)' cannot be resolved (remote references are not fetched)")
        return
      }
      check(instance, target, base: targetBase, path: path, depth: depth + 1, into: &violations)
      return
    }

    if let type = schema["type"] {
      let types = type.string.map { [$0] } ?? type.array?.compactMap(\.string) ?? []
      if !types.contains(where: { matches(instance, type: $0) }) {
        fail(
          &violations, path, "type",
          "expected \(types.joined(separator: " or ")), got \(Self.typeName(instance))")
      }
    }
    if let options = schema["enum"]?.array, !options.contains(where: { $0.isEqual(to: instance) }) {
      fail(
        &violations, path, "enum",
        "must be one of \(options.map(\.compactText).joined(separator: ", ")) (got \(Self.brief(instance)))"
      )
    }
    if let constant = schema["const"], !constant.isEqual(to: instance) {
      fail(
        &violations, path, "const", "must be \(constant.compactText) (got \(Self.brief(instance)))")
    }

    switch instance.kind {
    case .number:
      checkNumber(instance, schema, path: path, into: &violations)
    case .string:
      checkString(instance, schema, path: path, into: &violations)
    case .array:
      checkArray(instance, schema, base: base, path: path, depth: depth, into: &violations)
    case .object:
      checkObject(instance, schema, base: base, path: path, depth: depth, into: &violations)
    default:
      break
    }
    checkCombinators(instance, schema, base: base, path: path, depth: depth, into: &violations)
  }

  /// `minimum`, `maximum`, their exclusive forms and `multipleOf`.
  private func checkNumber(
    _ instance: JSON, _ schema: JSON, path: String, into violations: inout [Violation]
  ) {
    guard let value = instance.double else { return }
    let text = instance.numberLiteral ?? String(value)
    if let minimum = schema["minimum"]?.double, value < minimum {
      fail(
        &violations, path, "minimum",
        "\(text) is less than the minimum \(Self.number(schema["minimum"]))")
    }
    if let maximum = schema["maximum"]?.double, value > maximum {
      fail(
        &violations, path, "maximum",
        "\(text) is more than the maximum \(Self.number(schema["maximum"]))")
    }
    if let bound = schema["exclusiveMinimum"]?.double, value <= bound {
      fail(
        &violations, path, "exclusiveMinimum",
        "\(text) must be more than \(Self.number(schema["exclusiveMinimum"]))")
    }
    if let bound = schema["exclusiveMaximum"]?.double, value >= bound {
      fail(
        &violations, path, "exclusiveMaximum",
        "\(text) must be less than \(Self.number(schema["exclusiveMaximum"]))")
    }
    if let divisor = schema["multipleOf"]?.double, divisor > 0 {
      let quotient = value / divisor
      if quotient.isFinite && abs(quotient - quotient.rounded()) > 1e-9 * max(1, abs(quotient)) {
        fail(
          &violations, path, "multipleOf",
          "\(text) is not a multiple of \(Self.number(schema["multipleOf"]))")
      }
    }
  }

  /// `minLength`, `maxLength`, `pattern` and (with `assert_formats`) `format`.
  private func checkString(
    _ instance: JSON, _ schema: JSON, path: String, into violations: inout [Violation]
  ) {
    guard let string = instance.string else { return }
    let length = string.unicodeScalars.count
    if let minimum = schema["minLength"]?.int, length < minimum {
      fail(
        &violations, path, "minLength",
        "is \(length) characters long; at least \(minimum) required")
    }
    if let maximum = schema["maxLength"]?.int, length > maximum {
      fail(
        &violations, path, "maxLength", "is \(length) characters long; at most \(maximum) allowed"
      )
    }
    if let pattern = schema["pattern"]?.string, let regex = regex(pattern) {
      let range = NSRange(string.startIndex..., in: string)
      if regex.firstMatch(in: string, range: range) == nil {
        fail(
          &violations, path, "pattern",
          "\(Self.brief(instance)) does not match the pattern \(pattern)")
      }
    }
    if assertFormats, let format = schema["format"]?.string, !Self.matches(string, format: format) {
      fail(&violations, path, "format", "\(Self.brief(instance)) is not a valid \(format)")
    }
  }

  /// `prefixItems`, `items`, `additionalItems`, `minItems`, `maxItems`, `uniqueItems`, `contains`.
  private func checkArray(
    _ instance: JSON, _ schema: JSON, base: String, path: String, depth: Int,
    into violations: inout [Violation]
  ) {
    guard let items = instance.array else { return }
    var checkedPrefix = 0
    if let prefix = schema["prefixItems"]?.array {
      for (index, item) in items.enumerated() where index < prefix.count {
        check(
          item, prefix[index], base: base, path: "\(path)[\(index)]", depth: depth + 1,
          into: &violations)
      }
      checkedPrefix = prefix.count
      if let rest = schema["items"], rest.kind != .array {
        for (index, item) in items.enumerated() where index >= checkedPrefix {
          check(
            item, rest, base: base, path: "\(path)[\(index)]", depth: depth + 1, into: &violations
          )
        }
      }
    } else if let tuple = schema["items"]?.array {
      for (index, item) in items.enumerated() where index < tuple.count {
        check(
          item, tuple[index], base: base, path: "\(path)[\(index)]", depth: depth + 1,
          into: &violations)
      }
      if let additional = schema["additionalItems"] {
        for (index, item) in items.enumerated() where index >= tuple.count {
          check(
            item, additional, base: base, path: "\(path)[\(index)]", depth: depth + 1,
            into: &violations)
        }
      }
    } else if let each = schema["items"] {
      for (index, item) in items.enumerated() {
        check(
          item, each, base: base, path: "\(path)[\(index)]", depth: depth + 1, into: &violations)
      }
    }
    let count = items.count
    if let minimum = schema["minItems"]?.int, count < minimum {
      fail(
        &violations, path, "minItems",
        "has \(count) item\(count == 1 ? "" : "s"); at least \(minimum) required")
    }
    if let maximum = schema["maxItems"]?.int, count > maximum {
      fail(
        &violations, path, "maxItems",
        "has \(count) item\(count == 1 ? "" : "s"); at most \(maximum) allowed")
    }
    if schema["uniqueItems"]?.bool == true, let (i, j) = Self.firstEqualPair(items) {
      fail(&violations, path, "uniqueItems", "items \(i) and \(j) are equal; items must be unique")
    }
    if let contains = schema["contains"],
      !items.contains(where: { valid($0, contains, base: base, depth: depth + 1) })
    {
      fail(&violations, path, "contains", "no item matches the 'contains' schema")
    }
  }

  /// `properties`, `patternProperties`, `additionalProperties`, `propertyNames`, `required`,
  /// `minProperties`, `maxProperties` and the dependencies.
  private func checkObject(
    _ instance: JSON, _ schema: JSON, base: String, path: String, depth: Int,
    into violations: inout [Violation]
  ) {
    let members = instance.members
    let properties = schema["properties"]
    let patternProperties = schema["patternProperties"]?.members ?? []
    for (key, value) in members {
      let childPath = Self.childPath(path, key)
      var matched = false
      if let property = properties?[key] {
        matched = true
        check(value, property, base: base, path: childPath, depth: depth + 1, into: &violations)
      }
      for (pattern, subschema) in patternProperties {
        guard let regex = regex(pattern),
          regex.firstMatch(in: key, range: NSRange(key.startIndex..., in: key)) != nil
        else { continue }
        matched = true
        check(value, subschema, base: base, path: childPath, depth: depth + 1, into: &violations)
      }
      if !matched, let additional = schema["additionalProperties"] {
        if additional.bool == false {
          fail(&violations, path, "additionalProperties", "property '\(key)' is not allowed")
        } else {
          check(
            value, additional, base: base, path: childPath, depth: depth + 1, into: &violations)
        }
      }
      if let names = schema["propertyNames"],
        !valid(JSON(key), names, base: base, depth: depth + 1)
      {
        fail(
          &violations, path, "propertyNames",
          "property name '\(key)' is not allowed by 'propertyNames'")
      }
    }
    for name in schema["required"]?.array?.compactMap(\.string) ?? [] where instance[name] == nil {
      fail(&violations, path, "required", "missing required property '\(name)'")
    }
    let count = members.count
    if let minimum = schema["minProperties"]?.int, count < minimum {
      fail(
        &violations, path, "minProperties",
        "has \(count) properties; at least \(minimum) required")
    }
    if let maximum = schema["maxProperties"]?.int, count > maximum {
      fail(
        &violations, path, "maxProperties", "has \(count) properties; at most \(maximum) allowed")
    }
    let dependencies =
      (schema["dependencies"]?.members ?? []) + (schema["dependentRequired"]?.members ?? [])
      + (schema["dependentSchemas"]?.members ?? [])
    for (name, dependency) in dependencies where instance[name] != nil {
      if let needed = dependency.array {
        for other in needed.compactMap(\.string) where instance[other] == nil {
          fail(
            &violations, path, "dependencies", "property '\(name)' requires property '\(other)'")
        }
      } else {
        check(instance, dependency, base: base, path: path, depth: depth + 1, into: &violations)
      }
    }
  }

  /// `allOf`, `anyOf`, `oneOf`, `not` and `if`/`then`/`else`.
  private func checkCombinators(
    _ instance: JSON, _ schema: JSON, base: String, path: String, depth: Int,
    into violations: inout [Violation]
  ) {
    for subschema in schema["allOf"]?.array ?? [] {
      check(instance, subschema, base: base, path: path, depth: depth + 1, into: &violations)
    }
    if let options = schema["anyOf"]?.array,
      !options.contains(where: { valid(instance, $0, base: base, depth: depth + 1) })
    {
      fail(&violations, path, "anyOf", "matches none of the \(options.count) 'anyOf' schemas")
    }
    if let options = schema["oneOf"]?.array {
      let matching = options.filter { valid(instance, $0, base: base, depth: depth + 1) }.count
      if matching != 1 {
        fail(
          &violations, path, "oneOf",
          "matches \(matching) of the 'oneOf' schemas; exactly one is required")
      }
    }
    if let negated = schema["not"], valid(instance, negated, base: base, depth: depth + 1) {
      fail(&violations, path, "not", "must not match the 'not' schema")
    }
    if let condition = schema["if"] {
      let branch =
        valid(instance, condition, base: base, depth: depth + 1) ? schema["then"] : schema["else"]
      if let branch {
        check(instance, branch, base: base, path: path, depth: depth + 1, into: &violations)
      }
    }
  }

  /// The schema a `$ref` names, with its base URI.
  private func lookup(_ reference: String, base: String) -> (JSON, String)? {
    let absolute = Self.resolve(reference, against: base)
    if let anchored = ids[absolute] { return (anchored, Self.stripFragment(absolute)) }
    let parts = absolute.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(
      String.init)
    let document = parts[0]
    let fragment = parts.count > 1 ? parts[1] : ""
    let start: JSON
    if document == rootBase || document.isEmpty {
      start = root
    } else if let found = ids[document] {
      start = found
    } else {
      return nil
    }
    guard !fragment.isEmpty else { return (start, document) }
    guard fragment.hasPrefix("/") else { return nil }
    var current = start
    for raw in fragment.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
      let token = (String(raw).removingPercentEncoding ?? String(raw)).replacingOccurrences(
        of: "~1", with: "/"
      ).replacingOccurrences(of: "~0", with: "~")
      if let array = current.array, let index = Int(token), index >= 0, index < array.count {
        current = array[index]
      } else if let next = current[token] {
        current = next
      } else {
        return nil
      }
    }
    return (current, document)
  }

}
