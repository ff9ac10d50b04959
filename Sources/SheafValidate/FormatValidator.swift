import Foundation
import SheafCore

/// Checks each completed record's `content` against its `format` and records the verdict:
/// `violations` (empty when valid), `data` for JSON, `repaired` when JSON was repaired or a
/// whole-answer fence unwrapped, and `status: failed` with an error of type `validation` when a
/// rule is broken (unless `--warn` demotes that rule to `warnings`).
public final class FormatValidator {
  private let warn: Set<String>
  private let earlier = DuplicateIndex()
  private var schemas: [String: JSONSchema] = [:]
  private let sectionsDirectory: String?

  /// A validator that turns the violations of the `warn` rules into warnings; with
  /// `sectionsDirectory` (a run's `sections/`), the duplicate rule also compares against the
  /// completed sections stored there.
  public init(warn: Set<String>, sectionsDirectory: String? = nil) {
    self.warn = warn
    self.sectionsDirectory = sectionsDirectory
  }

  /// Checks beyond JSON Schema that a JSON format names (`"check": "plan"`), by name.
  ///
  /// Each gives the problems of an answer's value, a message each. The tools register the ones they know
  /// (call-llm and validate-format: `plan`, plan-sections' own checks) before any record.
  nonisolated(unsafe) public static var checks: [String: (JSON) -> [String]] = [:]

  /// The reasons an answer was cut short: the token limit, as providers name it, and `timeout`
  /// (call-llm kept what arrived before time ran out).
  public static let truncatedReasons: Set<String> = [
    "length", "max_tokens", "MAX_TOKENS", "timeout",
  ]

  /// The violation of an answer cut at the token limit (or when its time ran out).
  public static func truncated(_ json: JSON) -> Violation {
    if json["finish_reason"]?.string == "timeout" {
      let limit = json["llm"]?["timeout_s"]?.double
      return Violation(
        rule: "truncated",
        message:
          "the answer was cut off when its time ran out\(limit.map { " (timeout_s \(Int($0)))" } ?? "") before it was finished"
      )
    }
    let limit =
      json["llm"]?["max_tokens"]?.int ?? json["llm"]?["max_completion_tokens"]?.int
    return Violation(
      rule: "truncated",
      message:
        "the answer was cut off at the token limit\(limit.map { " (max_tokens \($0))" } ?? "") before it was finished"
    )
  }

  /// The record with its verdict; records that are not completed, or have no format, come back
  /// unchanged.
  ///
  /// With `remember` (the default), a section that uses the duplicate rule is remembered, for the
  /// sections after it to be compared with.
  public func validate(_ record: Record, remember: Bool = true) -> JSON {
    let json = record.json
    // A person's text is not a model's answer: it is not checked.
    guard record.status == .completed, json["source"]?.string != "human",
      let content = record.content
    else { return json }
    let truncated =
      json["finish_reason"]?.string.map { Self.truncatedReasons.contains($0) } ?? false
    guard let format = json["format"] else {
      // No format, no rules of one; but an answer cut short or echoing its prompt is no answer.
      let echo = EchoRule.violation(content, record: json, format: nil)
      let found = (truncated ? [Self.truncated(json)] : []) + (echo.map { [$0] } ?? [])
      return found.isEmpty ? json : conclude(json, violations: found, warnings: [])
    }
    let id = record.id
    var spec: JSON? = format.kind == .object ? format : nil
    var type =
      format.kind == .object
      ? (format["type"]?.string ?? "markdown") : (format.string ?? "markdown")
    if !FormatTypes.all.contains(type) {
      // plan-sections refuses these; a record made by hand can still carry one.
      let known = FormatTypes.all.joined(separator: ", ")
      return Self.planFailure(
        json, "unknown format '\(type)' for section '\(id ?? "?")' (known: \(known))",
        hint: "define it under \"formats\" in the plan, or use one of the types")
    }
    var violations: [Violation] = truncated ? [Self.truncated(json)] : []
    var warnings: [Violation] = []
    if type == "text" || type == "none" {
      return violations.isEmpty ? json : conclude(json, violations: violations, warnings: [])
    }
    if content.trimmed.isEmpty {
      violations.append(Violation(rule: "empty", message: "the answer is empty; write the section"))
    } else if type == "json" {
      do {
        let parsed = try JSONRepair.parse(content)
        json["data"] = parsed.value
        if parsed.repaired { json["repaired"] = JSON(true) }
        if let schemaJSON = try schema(for: spec, json: json) {
          violations += schemaJSON.validate(parsed.value)
        }
        // A named check judges what the schema let through.
        if violations.isEmpty, let name = spec?["check"]?.string, let check = Self.checks[name] {
          violations += check(parsed.value).map { Violation(rule: name, message: $0) }
        }
      } catch let refusal as JSONRepair.Refusal {
        violations.append(Violation(rule: "json", message: refusal.message))
      } catch let error as JSONSchema.SchemaError {
        // The plan is at fault, not the answer: nothing to feed back to the model.
        return Self.planFailure(
          json, "section '\(id ?? "?")': the format's schema cannot be used: \(error.message)",
          hint: "fix the schema (or schema_file) in the plan")
      } catch {
        violations.append(Violation(rule: "schema", message: "\(error)"))
      }
    } else {
      type = "markdown"
      if spec == nil { spec = JSON.object() }
      if spec?["max_duplicate_ratio"] != nil { loadStoredSections(before: json) }
      let (found, fixed, repaired) = MarkdownRules.check(
        content, format: spec, title: record.title, earlier: earlier, id: id)
      violations += found
      if let echo = EchoRule.violation(repaired ?? content, record: json, format: spec) {
        violations.append(echo)
      }
      warnings += fixed
      if let repaired {
        json["content"] = JSON(repaired.trimmed)
        json["repaired"] = JSON(true)
      }
      // Only sections that use the rule are compared, so only they are remembered.
      if remember, spec?["max_duplicate_ratio"] != nil {
        // In a run, its place too: a section before it is never compared with it.
        earlier.add(
          repaired ?? content, id: id ?? "?",
          order: sectionsDirectory == nil ? nil : json["order"]?.int)
      }
    }
    return conclude(json, violations: violations, warnings: warnings)
  }

  /// The errors a record's answer has (what a re-ask must fix), after the safe repairs.
  ///
  /// Empty when it passes. The record is not changed.
  public func violations(of record: JSON) -> [Violation] {
    let verdict = validate(Record(record.copy()), remember: false)
    return (verdict["violations"]?.array ?? []).map {
      Violation(
        rule: $0["rule"]?.string ?? "", message: $0["message"]?.string ?? "",
        path: $0["path"]?.string)
    }
  }

  /// Remembers a final answer for the duplicate rule (as `validate` does), so the answers judged
  /// after it are compared with it, and not with answers that were asked again.
  public func remember(_ record: JSON) {
    _ = validate(Record(record.copy()), remember: true)
  }

  /// The completed sections of the run directory placed before `record` in the document, for
  /// the duplicate rule: judged against those only, once the ones under way in this run are
  /// saved, so the verdicts are the same at J=1 and J=8 (the run's `progress.json` says which
  /// are under way).
  private func loadStoredSections(before record: JSON) {
    guard let directory = sectionsDirectory else { return }
    let order = record["order"]?.int ?? .max
    earlier.before = order == .max ? nil : order
    let run = RunLayout((directory as NSString).deletingLastPathComponent)
    if let id = record["id"]?.string, order != .max {
      RunProgress.awaitEarlier(run: run, order: order, id: id)
    }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    for name in names.sorted() where name.hasSuffix(".json") {
      guard let data = FileManager.default.contents(atPath: directory + "/" + name),
        let stored = try? data.withUnsafeBytes({ try JSON.parse($0) }),
        stored["status"]?.string == SectionStatus.completed.rawValue,
        (stored["order"]?.int ?? 0) < order,
        let text = stored["content"]?.string, let id = stored["id"]?.string
      else { continue }
      earlier.add(text, id: id, order: stored["order"]?.int)
    }
  }

  /// The verdict: violations, warnings (rules given to `--warn` become warnings), and a failure
  /// when anything is left.
  private func conclude(_ json: JSON, violations: [Violation], warnings fixed: [Violation]) -> JSON
  {
    // `--warn schema` stands for every JSON Schema keyword.
    func warns(_ rule: String) -> Bool {
      warn.contains(rule) || (warn.contains("schema") && JSONSchema.keywords.contains(rule))
    }
    let warnings = fixed + violations.filter { warns($0.rule) }
    let errors = violations.filter { !warns($0.rule) }
    json["violations"] = .array(errors.map(\.json))
    // call-llm's own warnings (a server that lost the prompt) stay.
    let kept = (json["warnings"]?.array ?? []).filter { $0["rule"]?.string == "input_tokens" }
    if !warnings.isEmpty || !kept.isEmpty {
      json["warnings"] = .array(kept.map { $0.copy() } + warnings.map(\.json))
    }
    if !errors.isEmpty {
      var summary =
        "\(errors.count) violation\(errors.count == 1 ? "" : "s"): "
        + errors.map(\.message).joined(separator: "; ")
      if summary.count > 400 { summary = String(summary.prefix(399)) + "…" }
      json["status"] = JSON(SectionStatus.failed.rawValue)
      let truncated = errors.contains { $0.rule == "truncated" }
      json["error"] =
        SheafError(
          .validation, summary, retryable: true,
          hint: truncated
            ? "raise max_tokens (make doc … MAX_TOKENS=n, call-llm --max-tokens n; llm.max_tokens_limit lets a re-ask ask for more room; a slow model: TIMEOUT=), or keep the cut answer with WARN=truncated"
            : "run it again: call-llm re-asks with the violations as feedback (llm.repair_attempts)"
        ).json
    }
    return json
  }

  /// The record failed for a fault of the plan (type `plan`), not of the answer.
  private static func planFailure(_ json: JSON, _ message: String, hint: String) -> JSON {
    json["status"] = JSON(SectionStatus.failed.rawValue)
    json["error"] = SheafError(.plan, message, hint: hint).json
    return json
  }

  /// The compiled schema of a JSON format: `schema` inline, or `schema_file` (beside the plan).
  private func schema(for spec: JSON?, json: JSON) throws -> JSONSchema? {
    var schemaJSON = spec?["schema"]
    if schemaJSON == nil, let file = spec?["schema_file"]?.string {
      // plan-sections carries the schema itself; a record that names only a file gets it read
      // inside the plan's folder, never elsewhere.
      let folder = json["plan_dir"]?.string ?? "."
      let path: String
      switch PlanPaths.resolve(
        file, field: "schema_file", folder: folder, allowOutside: PlanPaths.allowOutside())
      {
      case .success(let resolved): path = resolved
      case .failure(let refusal): throw JSONSchema.SchemaError(message: refusal.message)
      }
      guard let data = FileManager.default.contents(atPath: path) else {
        throw JSONSchema.SchemaError(message: "cannot read schema_file '\(file)'")
      }
      do {
        schemaJSON = try data.withUnsafeBytes { try JSON.parse($0) }
      } catch {
        // Where, never what: the file's bytes do not belong in a record or a prompt.
        let place =
          (error as? JSONSyntaxError).map { " (line \($0.line), column \($0.column))" } ?? ""
        throw JSONSchema.SchemaError(message: "schema_file '\(file)' is not valid JSON\(place)")
      }
    }
    guard let schemaJSON else { return nil }
    let key = schemaJSON.compactText + (spec?["assert_formats"]?.bool == true ? "\u{0}f" : "")
    if let cached = schemas[key] { return cached }
    let compiled = try JSONSchema(schemaJSON, assertFormats: spec?["assert_formats"]?.bool ?? false)
    schemas[key] = compiled
    return compiled
  }
}
