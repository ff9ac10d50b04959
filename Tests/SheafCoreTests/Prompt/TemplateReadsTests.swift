import Foundation
import Testing

@testable import SheafCore
@testable import SheafPrompt

/// A section's fingerprint changes with the inputs its templates show, not with the others.
struct TemplateReadsTests {
  func reads(_ templates: String...) throws -> TemplateReads {
    TemplateReads.of(try templates.map { try TemplateCheck.parse($0) })
  }

  @Test func namedInputsAreReadAndWholeDocumentsAreEverything() throws {
    let named = try reads(
      "Write for {{doc.inputs.product}}.{{#section.json}} {{doc.inputs.schema_note}}{{/section.json}}",
      "{{#doc.audience}}For {{doc.audience}}.{{/doc.audience}}")
    #expect(named == TemplateReads(inputs: ["product", "schema_note", "audience"], title: false))
    #expect(try reads("{{doc.title}}: {{section.title}}") == TemplateReads(inputs: [], title: true))
    for whole in [
      "{{#doc.inputs_list}}{{name}}{{/doc.inputs_list}}", "{{#doc}}{{title}}{{/doc}}",
      "{{doc.inputs}}", "{{#doc.inputs.x}}{{.}}{{/doc.inputs.x}}",
    ] {
      #expect(try reads(whole) == .everything, "\(whole)")
    }
  }

  @Test func readingEverythingHashesAsItAlwaysDidAndReadingLessIgnoresTheRest() throws {
    let record = try JSON.parse(
      #"{"doc": "d", "doc_title": "D", "id": "a", "inputs": {"product": "P", "notes": "n"}}"#)
    func value(_ reads: TemplateReads, _ json: JSON) -> String {
      Fingerprint.make(
        json, templateFiles: [], reads: reads, context: [:], outline: [], options: "",
        settings: Fingerprint.Settings(request: JSON.object(), warn: []), prompt: nil
      )["value"]?.string ?? ""
    }
    let all = value(.everything, record)
    // Every input named and the title shown: the same hash as reading it all.
    #expect(value(TemplateReads(inputs: ["product", "notes"], title: true), record) == all)
    let changed = record.copy()
    changed["inputs"]?["notes"] = JSON("other notes")
    changed["doc_title"] = JSON("Another title")
    #expect(value(.everything, changed) != all)
    let productOnly = TemplateReads(inputs: ["product"], title: false)
    #expect(value(productOnly, changed) == value(productOnly, record))
    changed["inputs"]?["product"] = JSON("Q")
    #expect(value(productOnly, changed) != value(productOnly, record))
  }
}
