import Foundation
import SheafCore
import SheafValidate

/// The type and range every plan field must have, checked before any request (a plan error names
/// the field, the type found and the type wanted).
enum PlanTypes {
  /// What a field may hold.
  enum Shape {
    case string
    case bool
    case object
    /// A whole number in the range.
    case int(ClosedRange<Int>)
    /// A number in the range.
    case number(ClosedRange<Double>)
    /// A list of strings.
    case strings
    /// One string or a list of strings.
    case stringOrStrings
    /// One of these words.
    case oneOf([String])
    /// A name of a prompt set or template: `PromptName`.
    case name
    /// `false`, or a list of strings.
    case falseOrStrings
    /// An object or a boolean (a JSON Schema).
    case schema

    var wanted: String {
      switch self {
      case .string: return "a string"
      case .bool: return "true or false"
      case .object: return "an object"
      case .int(let range): return "a whole number" + Self.describe(range)
      case .number(let range): return "a number" + Self.describe(range)
      case .strings: return "a list of strings"
      case .stringOrStrings: return "a string or a list of strings"
      case .oneOf(let words): return "one of " + words.map { "'\($0)'" }.joined(separator: ", ")
      case .name: return "a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
      case .falseOrStrings: return "false or a list of strings"
      case .schema: return "a JSON Schema (an object)"
      }
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
      if range.upperBound == Int.max {
        return range.lowerBound == Int.min ? "" : " from \(range.lowerBound)"
      }
      return " from \(range.lowerBound) to \(range.upperBound)"
    }

    private static func describe(_ range: ClosedRange<Double>) -> String {
      func text(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
      }
      if range.upperBound == .greatestFiniteMagnitude {
        return range.lowerBound == -.greatestFiniteMagnitude
          ? "" : " from \(text(range.lowerBound))"
      }
      return " from \(text(range.lowerBound)) to \(text(range.upperBound))"
    }
  }

  /// The `llm` settings sheaf reads; other keys pass through to the record as they are.
  static let llm: [(String, Shape)] = [
    ("provider", .oneOf(ProviderNames.all)),
    ("model", .string),
    ("base_url", .string),
    ("temperature", .number(0...2)),
    ("top_p", .number(0...1)),
    ("top_k", .int(0...Int.max)),
    ("max_tokens", .int(1...Int.max)),
    ("timeout_s", .number(0.001...(.greatestFiniteMagnitude))),
    ("retries", .int(0...100)),
    ("seed", .int(Int.min...Int.max)),
    ("stop", .stringOrStrings),
    ("presence_penalty", .number(-2...2)),
    ("frequency_penalty", .number(-2...2)),
    ("max_input_tokens", .int(1...Int.max)),
    ("summary_words", .int(20...2000)),
    ("num_ctx", .int(1...Int.max)),
    ("response_format", .object),
    ("repair_attempts", .int(0...10)),
    ("deadline_s", .number(0.001...(.greatestFiniteMagnitude))),
    ("max_tokens_limit", .int(1...Int.max)),
    ("max_completion_tokens", .int(1...Int.max)),
    ("reasoning_effort", .oneOf(["minimal", "low", "medium", "high"])),
    ("thinking_budget", .int(1024...Int.max)),
    ("context_window", .int(1...Int.max)),
    ("min_tokens_per_s", .number(0...1_000_000)),
    ("max_answer_bytes", .int(1024...Int.max)),
    ("extra", .object),
  ]

  /// The fields of a format object.
  static let format: [(String, Shape)] = [
    ("type", .oneOf(FormatTypes.all)),
    ("name", .string),
    ("min_words", .int(0...Int.max)),
    ("max_words", .int(0...Int.max)),
    ("required_headings", .strings),
    ("headings_in_order", .bool),
    ("max_heading_level", .int(1...6)),
    ("forbid_leading_title", .bool),
    ("forbid_phrases", .falseOrStrings),
    ("placeholders", .bool),
    ("max_duplicate_ratio", .number(0...1)),
    ("max_echo_ratio", .number(0...1)),
    ("unwrap_fence", .bool),
    ("length_tolerance", .number(0...1)),
    ("assert_formats", .bool),
    ("render", .name),
    ("schema", .schema),
    ("schema_file", .string),
    ("check", .oneOf(["plan"])),
  ]

  /// What kind of value `value` is, for messages: `a string ("hot")`, `a number (5)`.
  static func found(_ value: JSON) -> String {
    switch value.kind {
    case .string:
      let text = value.string ?? ""
      let shown = text.count > 40 ? String(text.prefix(39)) + "…" : text
      return "a string (\"\(shown)\")"
    case .number: return "a number (\(value.compactText))"
    case .bool: return "\(value.bool == true ? "true" : "false")"
    case .null: return "null"
    default: return value.kind.article
    }
  }

  /// The problem with `value` at `path`, or `nil` when it has the shape.
  static func problem(_ value: JSON, at path: String, _ shape: Shape) -> String? {
    func wrong() -> String { "\(path) must be \(shape.wanted), got \(found(value))" }
    switch shape {
    case .string: return value.kind == .string ? nil : wrong()
    case .bool: return value.kind == .bool ? nil : wrong()
    case .object: return value.kind == .object ? nil : wrong()
    case .schema: return value.kind == .object || value.kind == .bool ? nil : wrong()
    case .int(let range):
      guard value.kind == .number, let number = value.int else { return wrong() }
      return range.contains(number) ? nil : wrong()
    case .number(let range):
      guard value.kind == .number, let number = value.double else { return wrong() }
      return range.contains(number) ? nil : wrong()
    case .strings:
      guard let list = value.array, list.allSatisfy({ $0.kind == .string }) else { return wrong() }
      return nil
    case .stringOrStrings, .falseOrStrings:
      if case .falseOrStrings = shape, value.kind == .bool, value.bool == false { return nil }
      if case .stringOrStrings = shape, value.kind == .string { return nil }
      guard let list = value.array, list.allSatisfy({ $0.kind == .string }) else { return wrong() }
      return nil
    case .oneOf(let words):
      guard let word = value.string else { return wrong() }
      return words.contains(word) ? nil : wrong()
    case .name:
      guard let name = value.string, PromptName.isValid(name) else { return wrong() }
      return nil
    }
  }

  /// The problems of an object's known fields; unknown fields are left alone.
  static func problems(in object: JSON, at path: String, _ fields: [(String, Shape)]) -> [String] {
    var found: [String] = []
    for (key, shape) in fields {
      guard let value = object[key] else { continue }
      if let problem = problem(value, at: path.isEmpty ? key : "\(path).\(key)", shape) {
        found.append(problem)
      }
    }
    return found
  }

  /// The problems of an `llm` object.
  static func llmProblems(_ llm: JSON, at path: String) -> [String] {
    guard llm.kind == .object else { return ["\(path) must be an object, got \(found(llm))"] }
    return problems(in: llm, at: path, Self.llm)
  }

  /// The problems of a format object.
  static func formatProblems(_ format: JSON, at path: String) -> [String] {
    guard format.kind == .object else { return ["\(path) must be an object, got \(found(format))"] }
    var found = problems(in: format, at: path, Self.format)
    if let low = format["min_words"]?.int, let high = format["max_words"]?.int, low > high {
      found.append("\(path): min_words (\(low)) is above max_words (\(high))")
    }
    return found
  }
}
