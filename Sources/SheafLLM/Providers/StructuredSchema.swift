import SheafCore

/// The schema of a JSON section as providers' structured output takes it.
///
/// OpenAI's `json_schema` and Anthropic's tool input must be objects: a schema whose root is not
/// an object is wrapped as `{"value": …}`, and the answer unwrapped again.
enum StructuredSchema {
  /// The section's schema, if it has one that parses.
  static func schema(_ call: LLMCall) -> JSON? {
    guard call.brief.wantsJSON, let text = call.brief.jsonSchema else { return nil }
    return try? JSON.parse(text)
  }

  /// Whether the schema's root is an object.
  static func isObject(_ schema: JSON) -> Bool {
    schema["type"]?.string == "object" || (schema["type"] == nil && schema["properties"] != nil)
  }

  /// The schema as an object schema (wrapped under `value` when it is not one).
  static func objectSchema(_ schema: JSON) -> JSON {
    guard !isObject(schema) else {
      // `properties` without a `type`: both APIs want the type said.
      let copy = schema.copy()
      if copy["type"] == nil { copy["type"] = JSON("object") }
      return copy
    }
    return .object([
      "type": JSON("object"), "properties": .object(["value": schema.copy()]),
      "required": .array([JSON("value")]), "additionalProperties": JSON(false),
    ])
  }

  /// Whether OpenAI's strict mode can take the schema.
  ///
  /// Every object must list all its properties as required and allow no others, and no keyword
  /// strict mode refuses may appear.
  /// Keywords OpenAI's strict mode does not take.
  static let unstrict: Set<String> = [
    "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "multipleOf", "minItems", "maxItems", "uniqueItems", "minProperties",
    "maxProperties", "patternProperties", "allOf", "oneOf", "not", "if", "then", "else",
    "contains", "propertyNames", "dependencies", "prefixItems",
  ]

  static func isStrict(_ schema: JSON) -> Bool {
    if schema.kind != .object { return true }
    if schema.members.contains(where: { unstrict.contains($0.key) }) { return false }
    if schema["type"]?.string == "object" || schema["properties"] != nil {
      let keys = (schema["properties"]?.members ?? []).map(\.key)
      let required = Set(schema["required"]?.array?.compactMap(\.string) ?? [])
      guard schema["additionalProperties"]?.bool == false, Set(keys) == required else {
        return false
      }
    }
    for (_, member) in schema.members where member.kind == .object || member.kind == .array {
      if member.kind == .array {
        if !(member.array ?? []).allSatisfy(isStrict) { return false }
      } else if !isStrict(member) {
        return false
      }
    }
    return true
  }

  /// A name for the schema (`[A-Za-z0-9_-]`, at most 64 characters).
  static func name(_ call: LLMCall) -> String {
    let cleaned = call.id.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" ? $0 : "_" }
    return String(("section_" + String(cleaned)).prefix(64))
  }

  /// The answer without the `{"value": …}` wrapper the request added.
  static func unwrap(_ content: String) -> String {
    guard let parsed = try? JSON.parse(content.trimmed), let value = parsed["value"],
      parsed.count == 1
    else { return content }
    return value.compactText
  }
}
