/// One NDJSON record carrying one section (DESIGN.md section 3): typed access to the contract's
/// fields over a `JSON` object that keeps every other field, in order.
public struct Record {
  /// The whole record.
  public let json: JSON

  /// Wraps a JSON object.
  public init(_ json: JSON) {
    self.json = json
  }

  /// Document id.
  public var doc: String? { json["doc"]?.string }
  /// Section id.
  public var id: String? { json["id"]?.string }
  /// Section title.
  public var title: String? { json["title"]?.string }
  /// Position in the final document (1-based).
  public var order: Int? { json["order"]?.int }
  /// The stage the section belongs to.
  public var stage: Int? { json["stage"]?.int }
  /// The model's answer.
  public var content: String? { json["content"]?.string }

  /// The section's status; a missing or unknown word reads as `nil`.
  public var status: SectionStatus? {
    get { json["status"]?.string.flatMap(SectionStatus.init(rawValue:)) }
    nonmutating set { json["status"] = newValue.map { JSON($0.rawValue) } }
  }

  /// The error, when the record carries one.
  public var error: SheafError? {
    get { json["error"].flatMap { $0.kind == .object ? SheafError(json: $0) : nil } }
    nonmutating set { json["error"] = newValue?.json }
  }

  /// Hard dependencies.
  public var dependsOn: [String] { json["depends_on"]?.array?.compactMap(\.string) ?? [] }
  /// Soft dependencies.
  public var context: [String] { json["context"]?.array?.compactMap(\.string) ?? [] }
}

/// Every record field of the contract, defined once: build-prompt keeps these out of `section.*`
/// (so a new field never leaks into templates as a custom field), and a test checks the README's
/// record table against this list.
public enum RecordFields {
  /// The fields the tools set today, in the order of the README's table.
  public static let current: [String] = [
    "doc", "doc_title", "id", "title", "description", "order", "stage", "depends_on", "context",
    "template", "format", "llm", "on_dependency_failure", "review", "revises", "in_document",
    "instructions", "mode", "prompt_set", "plan_id",
    "plan_dir", "inputs", "messages", "context_ids", "context_summarized", "context_truncated",
    "template_files",
    "fingerprint", "status", "content",
    "reasoning", "provider",
    "model", "usage", "timing", "attempts", "cache", "request_key", "finish_reason", "repairs",
    "cost", "batch",
    "data", "violations", "warnings", "repaired", "source", "error",
  ]

  /// Fields the contract (DESIGN.md) names for work still to come, and the outline a record may
  /// carry itself: reserved, so they never reach a template as custom fields either.
  public static let reserved: [String] = [
    "outline"
  ]

  /// Every name above.
  public static let names: Set<String> = Set(current + reserved)
}

/// What a section does when a section it uses did not complete (`on_dependency_failure`, plan or
/// section).
public enum DependencyPolicy: String, CaseIterable, Sendable {
  /// Skipped when any `depends_on` section did not complete (the default).
  case skip
  /// Goes on with the content that exists (the staged-PRD rule: downstream sections get partial
  /// context).
  case `continue`
  /// Goes on when at least one of its `depends_on` and `context` sections completed; skipped when
  /// none did (a summary of nothing is not asked for).
  case any
}
