import Foundation
import Testing

@testable import SheafCore
@testable import SheafPrompt

struct ContractTests {
  @Test func exitStatusesAreTheContractsNumbers() {
    #expect(ExitStatus.completed.rawValue == 0)
    #expect(ExitStatus.someFailed.rawValue == 1)
    #expect(ExitStatus.usage.rawValue == 2)
    #expect(ExitStatus.malformedInput.rawValue == 3)
    #expect(ExitStatus.interrupted.rawValue == 130)
  }

  @Test func statusWordsAreTheContracts() {
    #expect(
      SectionStatus.allCases.map(\.rawValue) == [
        "pending", "queued", "processing", "completed", "failed", "skipped", "cancelled",
        "paused",
      ])
    #expect(
      ErrorType.allCases.map(\.rawValue) == [
        "input", "plan", "template", "network", "timeout", "rate_limited", "provider", "auth",
        "quota", "bad_request", "context_length", "validation", "dependency_failed",
        "awaiting_review", "batch_pending", "cancelled", "internal",
      ])
  }

  @Test func errorObjectRoundTrips() throws {
    let error = SheafError(
      .rateLimited, "429: slow down", retryable: true, hint: "lower -j", httpStatus: 429,
      retryAfterS: 2.5)
    #expect(
      error.json.compactText
        == #"{"type":"rate_limited","message":"429: slow down","retryable":true,"hint":"lower -j","http_status":429,"retry_after_s":2.5}"#
    )
    #expect(SheafError(json: error.json) == error)
    #expect(SheafError(json: try JSON.parse(#"{"type":"nonsense"}"#)).type == .internal)
  }

  @Test func eventsCarryTimestampAndDoc() throws {
    let event = Event.make(
      .sectionStart, doc: "prd", fields: ["id": JSON("a"), "attempt": JSON(1)])
    #expect(event.keys == ["event", "ts", "doc", "id", "attempt"])
    let ts = try #require(event["ts"]?.string)
    #expect(ts.count == 24 && ts.hasSuffix("Z") && ts.contains("."))
    #expect(Event.isEvent(event))
  }
}

/// The README's record table and the one list of record fields agree.
struct RecordFieldTests {
  @Test func theReadmesRecordTableListsExactlyTheCurrentFields() throws {
    var root = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { root.deleteLastPathComponent() }
    let readme = try String(
      contentsOf: root.appendingPathComponent("docs/records.md"), encoding: .utf8)
    let section = try #require(
      readme.components(separatedBy: "\n## Records\n").dropFirst().first?.components(
        separatedBy: "\n## "
      ).first)
    var listed: [String] = []
    for line in section.split(separator: "\n") where line.hasPrefix("| `") {
      let cell = line.dropFirst(2).prefix { $0 != "|" }
      for part in cell.split(separator: "`").enumerated() where part.offset % 2 == 0 {
        listed.append(String(part.element))
      }
    }
    #expect(
      Set(listed) == Set(RecordFields.current),
      "README lists \(Set(listed).subtracting(RecordFields.current)) extra and misses \(Set(RecordFields.current).subtracting(listed))"
    )
  }

  @Test func noContractFieldIsACustomField() {
    let record = JSON.object(["id": JSON("a"), "warnings": .array([]), "pov": JSON("first person")])
    let variables = PromptBuilder(options: PromptOptions()).variables(record, context: [])
    let section = variables["section"] as? [String: Any] ?? [:]
    #expect(section["pov"] as? String == "first person")
    #expect(section["warnings"] == nil)
  }
}
