import Foundation
import Testing

@testable import SheafCore

struct PlanTests {
  /// Builds a plan from JSON text, as if read from `dir/plan.json`.
  func plan(_ text: String, directory: String = ".", overrides: [String] = []) throws -> Plan {
    try PlanReader.build(from: try JSON.parse(text), source: "\(directory)/plan.json", directory: directory, overrides: overrides)
  }

  /// The problems a plan is rejected for.
  func problems(_ text: String) -> [String] {
    do {
      _ = try plan(text)
      return []
    } catch let problems as PlanProblems {
      return problems.lines
    } catch {
      return ["unexpected \(error)"]
    }
  }

  @Test func duplicateIds() {
    #expect(problems(#"{"sections":[{"id":"a"},{"id":"b"},{"id":"a"}]}"#) == ["duplicate section id 'a' (sections 1 and 3)"])
  }

  @Test func unknownDependencies() {
    #expect(problems(#"{"sections":[{"id":"intro"},{"id":"b","depends_on":["intr"]},{"id":"c","context":["zzz"]}]}"#) == [
      "section 'b' depends_on names unknown section 'intr' (did you mean 'intro'?)",
      "section 'c' context names unknown section 'zzz'",
    ])
  }

  @Test func cyclesArePrintedInTheDirectionWorkFlows() {
    #expect(problems(#"{"sections":[{"id":"a","depends_on":["c"]},{"id":"b","depends_on":["a"]},{"id":"c","context":["b"]}]}"#) == [
      "dependency cycle: a -> b -> c -> a"
    ])
    #expect(problems(#"{"sections":[{"id":"a","depends_on":["a"]}]}"#) == [
      "dependency cycle: a -> a (depends_on names the section itself)"
    ])
  }

  @Test(arguments: ["../x", "A", "has space", "-lead", "_lead", "", String(repeating: "a", count: 65), "é", "a/b", "a.b"])
  func idsThatAreNotSlugs(_ id: String) {
    let found = problems(#"{"sections":[{"id":"\#(id)"}]}"#)
    #expect(found.count == 1)
    #expect(found.first?.contains("id '\(id)' is not a slug") == true)
  }

  @Test(arguments: ["a", "0", "a-b_c", String(repeating: "z", count: 64)])
  func slugsAreAccepted(_ id: String) {
    #expect(problems(#"{"sections":[{"id":"\#(id)"}]}"#).isEmpty)
  }

  @Test func missingRequirementsFile() {
    #expect(problems(#"{"inputs":{"requirements":{"file":"nope.md"}},"sections":[{"id":"a"}]}"#) == [
      "inputs.requirements: cannot read './nope.md' (paths are relative to the plan's folder)"
    ])
  }

  @Test func typeProblems() {
    #expect(problems(#"{"sections":[{"id":"a","depends_on":[1]},{"id":"b","stage":"two"},{"id":"c","llm":3}]}"#) == [
      "section 1 ('a'): depends_on must be a list of section ids",
      "section 2 ('b'): stage must be a whole number from 1",
      "section 3 ('c'): llm must be an object",
    ])
    #expect(problems(#"{"title":"x"}"#) == ["the plan has no sections (a \"sections\" list, or ## headings in an outline)"])
  }

  @Test func stagesAreDepthUnlessGiven() throws {
    let graph = try SectionGraph(plan: plan(#"{"sections":[{"id":"d","depends_on":["b","c"]},{"id":"a"},{"id":"b","depends_on":["a"]},{"id":"c","context":["a"]},{"id":"e","stage":5}]}"#), mode: nil)
    #expect(graph.sections.map(\.section.id) == ["a", "b", "c", "d", "e"])
    #expect(graph.sections.map(\.stage) == [1, 2, 2, 3, 5])
    #expect(graph.sections.map(\.order) == [2, 3, 4, 1, 5])
  }

  @Test func explicitStagesKeepDependenciesFirst() throws {
    // Three sections in stage 1 that depend on each other in the reverse of plan order.
    let graph = try SectionGraph(plan: plan(#"{"sections":[{"id":"s","stage":2},{"id":"c","stage":1,"depends_on":["b"]},{"id":"b","stage":1,"depends_on":["a"]},{"id":"a","stage":1}]}"#), mode: nil)
    #expect(graph.sections.map(\.section.id) == ["a", "b", "c", "s"])
  }

  @Test func aStageEarlierThanADependencyIsRejected() throws {
    #expect(throws: PlanProblems.self) {
      try SectionGraph(plan: plan(#"{"sections":[{"id":"a","stage":2},{"id":"b","stage":1,"depends_on":["a"]}]}"#), mode: nil)
    }
  }

  @Test func modesSelectSectionsAndNarrowDependencies() throws {
    let text = #"{"modes":["draft","detailed"],"default_mode":"detailed","sections":[{"id":"sum","context":["a","b","c"]},{"id":"a"},{"id":"b","depends_on":["a"],"modes":["detailed"]},{"id":"c","depends_on":["a","b"],"modes":["draft"]}]}"#
    let detailed = try SectionGraph(plan: plan(text), mode: nil)
    #expect(detailed.mode == "detailed")
    #expect(detailed.sections.map(\.section.id) == ["a", "b", "sum"])
    let draft = try SectionGraph(plan: plan(text), mode: "draft")
    #expect(draft.sections.map(\.section.id) == ["a", "c", "sum"])
    #expect(draft.sections[1].section.dependsOn == ["a"])
    #expect(draft.sections.map(\.order) == [2, 3, 1])
    #expect(throws: PlanProblems.self) { try SectionGraph(plan: plan(text), mode: "final") }
  }

  @Test func affectedByFollowsBothKindsOfEdgeTransitively() throws {
    let graph = try SectionGraph(plan: plan(#"{"sections":[{"id":"a"},{"id":"b","depends_on":["a"]},{"id":"c","context":["b"]},{"id":"d"},{"id":"e","depends_on":["d","c"]}]}"#), mode: nil)
    #expect(graph.affected(by: "a").map(\.section.id) == ["b", "c", "e"])
    #expect(graph.affected(by: "d").map(\.section.id) == ["e"])
    #expect(graph.affected(by: "e").isEmpty)
  }

  @Test func llmSettingsMergePlanThenStageThenSection() throws {
    let text = #"{"llm":{"model":"m","temperature":0.7,"extra":{"a":1,"b":2}},"stages":{"2":{"llm":{"timeout_s":90,"temperature":0.5}}},"sections":[{"id":"a"},{"id":"b","depends_on":["a"],"llm":{"temperature":0.2,"extra":{"b":3}}}]}"#
    let graph = try SectionGraph(plan: plan(text), mode: nil)
    let records = graph.sections.map { PlanEmitter.record(for: $0, in: graph) }
    #expect(records[0]["llm"]?.compactText == #"{"model":"m","temperature":0.7,"extra":{"a":1,"b":2}}"#)
    #expect(records[1]["llm"]?.compactText == #"{"model":"m","temperature":0.2,"extra":{"a":1,"b":3},"timeout_s":90}"#)
  }

  @Test func namedFormatsAreResolved() throws {
    let graph = try SectionGraph(plan: plan(#"{"formats":{"prose":{"type":"markdown","min_words":100}},"sections":[{"id":"a","format":"prose"},{"id":"b","format":{"type":"json"}},{"id":"c","format":"markdown"}]}"#), mode: nil)
    let formats = graph.sections.map { PlanEmitter.record(for: $0, in: graph)["format"]?.compactText }
    #expect(formats == [#"{"type":"markdown","min_words":100,"name":"prose"}"#, #"{"type":"json"}"#, #""markdown""#])
  }

  @Test func inputOverrides() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("req-\(UUID().uuidString).md").path
    FileManager.default.createFile(atPath: path, contents: Data("from a file".utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let read = try plan(#"{"inputs":{"requirements":"inline","brief":"b"},"sections":[{"id":"a"}]}"#, overrides: ["requirements=@\(path)", "tone=dry"])
    #expect(read.inputs.map(\.key) == ["requirements", "brief", "tone"])
    #expect(read.inputs.map(\.value) == ["from a file", "b", "dry"])
    #expect(read.inputFiles == [path])
    #expect(throws: PlanProblems.self) { try plan(#"{"sections":[{"id":"a"}]}"#, overrides: ["x=@/no/such/file"]) }
    #expect(throws: PlanProblems.self) { try plan(#"{"sections":[{"id":"a"}]}"#, overrides: ["novalue"]) }
  }

  @Test func markdownOutline() throws {
    let outline = """
      ---
      id: post
      llm.model: llama3.1
      llm.temperature: 0.8
      ---
      # Über Pre-mortems

      A brief for the post.

      ## Introduction
      Open with a story.

      ```python
      ## not a heading: inside a code block
      ```

      ## What It Is
      Define it.
      ```sheaf
      depends_on: [introduction]
      stage: 3
      audience: managers
      ```

      ## Café Culture!
      """
    let object = MarkdownOutline.planObject(from: outline)
    let read = try PlanReader.build(from: object, source: "post.md", directory: ".", overrides: [])
    #expect(read.id == "post")
    #expect(read.title == "Über Pre-mortems")
    #expect(read.llm?.compactText == #"{"model":"llama3.1","temperature":0.8}"#)
    #expect(read.inputs.first?.value == "A brief for the post.")
    #expect(read.sections.map(\.id) == ["introduction", "what-it-is", "cafe-culture"])
    #expect(read.sections[0].description == "Open with a story.\n\n```python\n## not a heading: inside a code block\n```")
    #expect(read.sections[1].description == "Define it.")
    #expect(read.sections[1].dependsOn == ["introduction"])
    #expect(read.sections[1].stage == 3)
    #expect(read.sections[1].extra.map(\.key) == ["audience"])
  }

  @Test func slugsFromTitles() {
    #expect(Slug.make(from: "Why Rust?  (A Primer)") == "why-rust-a-primer")
    #expect(Slug.make(from: "Résumé & Naïve Café") == "resume-naive-cafe")
    #expect(Slug.make(from: "日本語") == "")
    #expect(Slug.make(from: String(repeating: "ab ", count: 40)).count <= 64)
  }
}
