import Foundation
import Testing

@testable import SheafCore
@testable import SheafPlan

struct PlanTests {
  /// Builds a plan from JSON text, as if read from `dir/plan.json`.
  func plan(_ text: String, directory: String = ".", overrides: [String] = []) throws -> Plan {
    try PlanReader.build(
      from: try JSON.parse(text), source: "\(directory)/plan.json", directory: directory,
      overrides: overrides)
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
    #expect(
      problems(#"{"sections":[{"id":"a"},{"id":"b"},{"id":"a"}]}"#) == [
        "duplicate section id 'a' (sections 1 and 3)"
      ])
  }

  @Test func unknownDependencies() {
    #expect(
      problems(
        #"{"sections":[{"id":"intro"},{"id":"b","depends_on":["intr"]},{"id":"c","context":["zzz"]}]}"#
      ) == [
        "section 'b' depends_on names unknown section 'intr' (did you mean 'intro'?)",
        "section 'c' context names unknown section 'zzz'",
      ])
  }

  @Test func cyclesArePrintedInTheDirectionWorkFlows() {
    #expect(
      problems(
        #"{"sections":[{"id":"a","depends_on":["c"]},{"id":"b","depends_on":["a"]},{"id":"c","context":["b"]}]}"#
      ) == [
        "dependency cycle: a -> b -> c -> a"
      ])
    #expect(
      problems(#"{"sections":[{"id":"a","depends_on":["a"]}]}"#) == [
        "dependency cycle: a -> a (depends_on names the section itself)"
      ])
  }

  @Test(arguments: [
    "../x", "A", "has space", "-lead", "_lead", "", String(repeating: "a", count: 65), "é", "a/b",
    "a.b",
  ])
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
    #expect(
      problems(#"{"inputs":{"requirements":{"file":"nope.md"}},"sections":[{"id":"a"}]}"#) == [
        "inputs.requirements.file: cannot read 'nope.md': no such file (paths are relative to the plan's folder)"
      ])
  }

  @Test func typeProblems() {
    #expect(
      problems(
        #"{"sections":[{"id":"a","depends_on":[1]},{"id":"b","stage":"two"},{"id":"c","llm":3}]}"#)
        == [
          "section 1 ('a'): depends_on must be a list of section ids, got a list holding a number (1)",
          "section 2 ('b'): stage must be a whole number from 1, got a string (\"two\")",
          "section 3 ('c'): llm must be an object, got a number (3)",
        ])
    #expect(
      problems(#"{"title":"x"}"#) == [
        "the plan has no sections (a \"sections\" list, or ## headings in an outline)"
      ])
  }

  @Test func stagesAreDepthUnlessGiven() throws {
    let graph = try SectionGraph(
      plan: plan(
        #"{"sections":[{"id":"d","depends_on":["b","c"]},{"id":"a"},{"id":"b","depends_on":["a"]},{"id":"c","context":["a"]},{"id":"e","stage":5}]}"#
      ), mode: nil)
    #expect(graph.sections.map(\.section.id) == ["a", "b", "c", "d", "e"])
    #expect(graph.sections.map(\.stage) == [1, 2, 2, 3, 5])
    #expect(graph.sections.map(\.order) == [2, 3, 4, 1, 5])
  }

  @Test func explicitStagesKeepDependenciesFirst() throws {
    // Three sections in stage 1 that depend on each other in the reverse of plan order.
    let graph = try SectionGraph(
      plan: plan(
        #"{"sections":[{"id":"s","stage":2},{"id":"c","stage":1,"depends_on":["b"]},{"id":"b","stage":1,"depends_on":["a"]},{"id":"a","stage":1}]}"#
      ), mode: nil)
    #expect(graph.sections.map(\.section.id) == ["a", "b", "c", "s"])
  }

  @Test func aStageEarlierThanADependencyIsRejected() throws {
    #expect(throws: PlanProblems.self) {
      try SectionGraph(
        plan: plan(#"{"sections":[{"id":"a","stage":2},{"id":"b","stage":1,"depends_on":["a"]}]}"#),
        mode: nil)
    }
  }

  @Test func modesSelectSectionsAndNarrowDependencies() throws {
    let text =
      #"{"modes":["draft","detailed"],"default_mode":"detailed","sections":[{"id":"sum","context":["a","b","c"]},{"id":"a"},{"id":"b","depends_on":["a"],"modes":["detailed"]},{"id":"c","depends_on":["a","b"],"modes":["draft"]}]}"#
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
    let graph = try SectionGraph(
      plan: plan(
        #"{"sections":[{"id":"a"},{"id":"b","depends_on":["a"]},{"id":"c","context":["b"]},{"id":"d"},{"id":"e","depends_on":["d","c"]}]}"#
      ), mode: nil)
    #expect(graph.affected(by: "a").map(\.section.id) == ["b", "c", "e"])
    #expect(graph.affected(by: "d").map(\.section.id) == ["e"])
    #expect(graph.affected(by: "e").isEmpty)
  }

  @Test func llmSettingsMergePlanThenStageThenSection() throws {
    let text =
      #"{"llm":{"model":"m","temperature":0.7,"extra":{"a":1,"b":2}},"stages":{"2":{"llm":{"timeout_s":90,"temperature":0.5}}},"sections":[{"id":"a"},{"id":"b","depends_on":["a"],"llm":{"temperature":0.2,"extra":{"b":3}}}]}"#
    let graph = try SectionGraph(plan: plan(text), mode: nil)
    let records = graph.sections.map { PlanEmitter.record(for: $0, in: graph) }
    #expect(
      records[0]["llm"]?.compactText == #"{"model":"m","temperature":0.7,"extra":{"a":1,"b":2}}"#)
    #expect(
      records[1]["llm"]?.compactText
        == #"{"model":"m","temperature":0.2,"extra":{"a":1,"b":3},"timeout_s":90}"#)
  }

  @Test func namedFormatsAreResolved() throws {
    let graph = try SectionGraph(
      plan: plan(
        #"{"formats":{"prose":{"type":"markdown","min_words":100}},"sections":[{"id":"a","format":"prose"},{"id":"b","format":{"type":"json"}},{"id":"c","format":"markdown"}]}"#
      ), mode: nil)
    let formats = graph.sections.map {
      PlanEmitter.record(for: $0, in: graph)["format"]?.compactText
    }
    #expect(
      formats == [
        #"{"type":"markdown","min_words":100,"name":"prose"}"#, #"{"type":"json"}"#,
        #"{"type":"markdown"}"#,
      ])
  }

  @Test func inputOverrides() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "req-\(UUID().uuidString).md"
    ).path
    FileManager.default.createFile(atPath: path, contents: Data("from a file".utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let read = try plan(
      #"{"inputs":{"requirements":"inline","brief":"b"},"sections":[{"id":"a"}]}"#,
      overrides: ["requirements=@\(path)", "tone=dry"])
    #expect(read.inputs.map(\.key) == ["requirements", "brief", "tone"])
    #expect(read.inputs.map(\.value) == ["from a file", "b", "dry"])
    #expect(read.inputFiles == [path])
    #expect(throws: PlanProblems.self) {
      try plan(#"{"sections":[{"id":"a"}]}"#, overrides: ["x=@/no/such/file"])
    }
    #expect(throws: PlanProblems.self) {
      try plan(#"{"sections":[{"id":"a"}]}"#, overrides: ["novalue"])
    }
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
    let object = try MarkdownOutline.planObject(from: outline)
    let read = try PlanReader.build(from: object, source: "post.md", directory: ".", overrides: [])
    #expect(read.id == "post")
    #expect(read.title == "Über Pre-mortems")
    #expect(read.llm?.compactText == #"{"model":"llama3.1","temperature":0.8}"#)
    #expect(read.inputs.first?.value == "A brief for the post.")
    #expect(read.sections.map(\.id) == ["introduction", "what-it-is", "cafe-culture"])
    #expect(
      read.sections[0].description
        == "Open with a story.\n\n```python\n## not a heading: inside a code block\n```")
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

  // MARK: - Typed at plan time (issue 9)

  @Test(arguments: [
    (#"{"title":42,"sections":[{"id":"a"}]}"#, "title must be a string, got a number (42)"),
    (
      #"{"modes":"x","sections":[{"id":"a"}]}"#,
      "modes must be a list of names or an object of name: {…}, got a string (\"x\")"
    ),
    (
      #"{"llm":{"timeout_s":-5},"sections":[{"id":"a"}]}"#,
      "llm.timeout_s must be a number from 0.001, got a number (-5)"
    ),
    (
      #"{"llm":{"retries":-1},"sections":[{"id":"a"}]}"#,
      "llm.retries must be a whole number from 0 to 100, got a number (-1)"
    ),
    (
      #"{"llm":{"temperature":"hot"},"sections":[{"id":"a"}]}"#,
      "llm.temperature must be a number from 0 to 2, got a string (\"hot\")"
    ),
    (
      #"{"llm":{"provider":"openia"},"sections":[{"id":"a"}]}"#,
      "llm.provider must be one of 'openai', 'anthropic', 'ollama', 'offline', got a string (\"openia\")"
    ),
    (
      #"{"sections":[{"id":"a","llm":{"max_tokens":0}}]}"#,
      "section 1 ('a'): llm.max_tokens must be a whole number from 1, got a number (0)"
    ),
    (
      #"{"sections":[{"id":"a","format":{"min_words":500,"max_words":100}}]}"#,
      "section 1 ('a'): format: min_words (500) is above max_words (100)"
    ),
    (
      #"{"sections":[{"id":"a","format":{"type":"yaml"}}]}"#,
      "section 1 ('a'): format.type must be one of 'markdown', 'json', 'text', 'none', got a string (\"yaml\")"
    ),
    (
      #"{"sections":[{"id":"a","format":"prose"}]}"#,
      "section 1 ('a'): format 'prose' is neither defined under \"formats\" nor a type (known: markdown, json, text, none)"
    ),
    (
      #"{"formats":{"prose":{"min_words":"many"}},"sections":[{"id":"a","format":"prose"}]}"#,
      "formats.prose.min_words must be a whole number from 0, got a string (\"many\")"
    ),
    (#"{"sections":[{"id":5}]}"#, "section 1: id must be a string, got a number (5)"),
    (
      #"{"sections":[{"id":"a","modes":"x"}]}"#,
      "section 1 ('a'): modes must be a list of mode names, got a string (\"x\")"
    ),
    (
      #"{"sections":[{"id":"a","title":["T"]}]}"#,
      "section 1 ('a'): title must be a string, got an array"
    ),
    (
      #"{"prompt_set":"blog$(shell id > pwned)","sections":[{"id":"a"}]}"#,
      "prompt_set must be a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters), got a string (\"blog$(shell id > pwned)\")"
    ),
    (
      #"{"prompt_set":"../../outside","sections":[{"id":"a"}]}"#,
      "prompt_set must be a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters), got a string (\"../../outside\")"
    ),
    (
      #"{"sections":[{"id":"a","template":"x$(shell id)"}]}"#,
      "section 1 ('a'): template must be a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters), got a string (\"x$(shell id)\")"
    ),
    (
      #"{"modes":{"x$(shell id)":{}},"sections":[{"id":"a"}]}"#,
      "modes: 'x$(shell id)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
    ),
    (
      #"{"sections":[{"id":"a","modes":["a$(shell id)"]}]}"#,
      "section 1 ('a'): mode 'a$(shell id)' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
    ),
    (
      #"{"default_mode":"a b","sections":[{"id":"a"}]}"#,
      "default_mode 'a b' is not a name (a-z, A-Z, 0-9, '_' and '-', at most 64 characters)"
    ),
    (
      #"{"sections":[{"id":"a","plan_dir":"/home/u"}]}"#,
      "section 1 ('a'): 'plan_dir' is set by sheaf, not by the plan; rename the field"
    ),
  ])
  func everyFieldIsTyped(_ text: String, _ problem: String) {
    #expect(problems(text) == [problem])
  }

  @Test func unknownFieldsAndGoodValuesPass() {
    #expect(
      problems(
        #"{"title":"T","llm":{"provider":"openai","model":"m","temperature":0.7,"max_tokens":900,"timeout_s":60,"retries":0,"custom":"kept"},"formats":{"p":{"type":"markdown","min_words":10,"max_words":10}},"sections":[{"id":"a","format":"p","audience":7}]}"#
      ).isEmpty)
  }

  @Test func filesOutsideThePlanFolderAreRefused() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "confine-\(UUID().uuidString)"
    ).path
    let folder = root + "/plan"
    try FileManager.default.createDirectory(
      atPath: folder + "/sub", withIntermediateDirectories: true)
    try "secret".write(toFile: root + "/outside.md", atomically: true, encoding: .utf8)
    try "fine".write(toFile: folder + "/sub/inside.md", atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(
      atPath: folder + "/link.md", withDestinationPath: root + "/outside.md")
    func read(_ file: String, allow: Bool = false) -> [String] {
      do {
        _ = try PlanReader.build(
          from: try JSON.parse(#"{"inputs":{"loot":{"file":"\#(file)"}},"sections":[{"id":"a"}]}"#),
          source: folder + "/plan.json", directory: folder, overrides: [], allowOutside: allow)
        return []
      } catch let problems as PlanProblems {
        return problems.lines
      } catch {
        return ["\(error)"]
      }
    }
    let refusal =
      "is outside the plan's folder; a plan reads files in its own folder only (pass --allow-outside, or ALLOW_OUTSIDE=1 to make, to let it)"
    #expect(read("/etc/passwd") == ["inputs.loot.file: '/etc/passwd' \(refusal)"])
    #expect(read("../outside.md") == ["inputs.loot.file: '../outside.md' \(refusal)"])
    #expect(
      read("../../../../etc/passwd") == ["inputs.loot.file: '../../../../etc/passwd' \(refusal)"])
    #expect(
      read("link.md") == ["inputs.loot.file: 'link.md' \(refusal)"],
      "a symbolic link out of the folder")
    #expect(read("sub/../sub/inside.md").isEmpty)
    #expect(read("../outside.md", allow: true).isEmpty, "--allow-outside lets it")
    let schema = """
      {"formats":{"j":{"type":"json","schema_file":"/etc/passwd"}},"sections":[{"id":"a","format":"j"}]}
      """
    #expect(problems(schema) == ["formats.j.schema_file: '/etc/passwd' \(refusal)"])
  }

  @Test func aSchemaFileThatIsNotJSONIsAPlanErrorThatQuotesNothing() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "schema-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try "root:x:0:0:root:/root:/bin/bash\n".write(
      toFile: folder + "/s.json", atomically: true, encoding: .utf8)
    try #"{"type":"object","properties":{"a":{"type":"string"}}}"#.write(
      toFile: folder + "/good.json", atomically: true, encoding: .utf8)
    let text =
      #"{"formats":{"j":{"type":"json","schema_file":"s.json"}},"sections":[{"id":"a","format":"j"}]}"#
    do {
      _ = try plan(text, directory: folder)
      Issue.record("a broken schema file was accepted")
    } catch let problems as PlanProblems {
      #expect(problems.lines.count == 1)
      #expect(
        problems.lines.first?.hasPrefix(
          "formats.j.schema_file: 's.json' is not valid JSON (line 1, column ") == true)
      #expect(!problems.lines.joined().contains("root"))
    }
    let good = try plan(
      #"{"formats":{"j":{"type":"json","schema_file":"good.json"}},"sections":[{"id":"a","format":"j"}]}"#,
      directory: folder)
    let graph = try SectionGraph(plan: good, mode: nil)
    #expect(
      PlanEmitter.record(for: graph.sections[0], in: graph)["format"]?["schema"]?["type"]?.string
        == "object", "the schema travels in the record")
  }

  @Test func crlfOutlinesAreRead() throws {
    let text =
      "---\r\nid: post\r\n---\r\n# Title\r\n\r\n## One\r\nFirst.\r\n\r\n## Two\r\nSecond.\r\n"
    let read = try PlanReader.build(
      from: try MarkdownOutline.planObject(from: text), source: "post.md", directory: ".",
      overrides: [])
    #expect(read.id == "post")
    #expect(read.sections.map(\.id) == ["one", "two"])
    #expect(read.sections.map(\.description) == ["First.", "Second."])
  }

  // MARK: - Graphs of any depth (issue 9)

  func chain(_ count: Int, cycle: Bool) -> Plan {
    var sections: [PlanSection] = []
    sections.reserveCapacity(count)
    for index in 0..<count {
      let dependsOn = index > 0 ? ["s\(index - 1)"] : (cycle ? ["s\(count - 1)"] : [])
      sections.append(
        PlanSection(
          id: "s\(index)", title: "S", description: "", stage: nil, dependsOn: dependsOn,
          context: [], template: nil,
          format: nil, llm: nil, modes: nil, instructions: nil, extra: [], index: index + 1))
    }
    return Plan(
      id: "big", title: "Big", inputs: [], inputFiles: [], llm: nil, stageLLM: [:], formats: [:],
      modes: [],
      defaultMode: nil, promptSet: nil, sections: sections, source: "big.json")
  }

  @Test func aMillionSectionChainNeedsNoRecursion() throws {
    let plan = chain(1_000_000, cycle: false)
    #expect(SectionGraph.findCycle(plan.sections) == nil)
    let graph = try SectionGraph(plan: plan, mode: nil)
    #expect(graph.sections.count == 1_000_000)
    #expect(graph.sections.last?.stage == 1_000_000)
    #expect(graph.affected(by: "s999998").map(\.section.id) == ["s999999"])
  }

  @Test func aMillionSectionCycleIsFoundAndShownShort() throws {
    let cycle = try #require(SectionGraph.findCycle(chain(1_000_000, cycle: true).sections))
    #expect(cycle.count == 1_000_001)
    let shown = SectionGraph.describe(cycle: cycle)
    #expect(shown.contains("… (999989 more) …"))
    #expect(shown.count < 200)
  }

  // MARK: - The outline read with cmark, front matter with YAML (issue 10)

  @Test func frontMatterIsRealYAML() throws {
    let text = """
      ---
      id: post
      title: "Why: a story"
      llm:
        provider: offline
        temperature: 0.5
      llm.model: writer
      inputs:
        audience: engineering managers
        tone: |
          Friendly.
          Concrete.
      modes: [draft, full]
      ---
      ## One
      First.
      """
    let object = try MarkdownOutline.planObject(from: text)
    #expect(object["title"]?.string == "Why: a story")
    #expect(
      object["llm"]?.compactText == #"{"provider":"offline","temperature":0.5,"model":"writer"}"#)
    #expect(object["inputs"]?["tone"]?.string == "Friendly.\nConcrete.\n")
    #expect(object["modes"]?.compactText == #"["draft","full"]"#)
  }

  @Test func yamlThatIsNotValidIsOneLineWithItsLine() {
    let text = "---\nid: post\nllm: [unclosed\n---\n## One\n"
    do {
      _ = try MarkdownOutline.planObject(from: text)
      Issue.record("accepted")
    } catch let problems as PlanProblems {
      #expect(problems.lines.count == 1)
      #expect(problems.lines.first?.hasPrefix("front matter, line ") == true, "\(problems.lines)")
      #expect(problems.lines.first?.contains("not valid YAML") == true)
    } catch {
      Issue.record("\(error)")
    }
    let block = "# T\n\n## One\nText.\n```sheaf\nstage: [1\n```\n"
    #expect(throws: PlanProblems.self) { try MarkdownOutline.planObject(from: block) }
  }

  @Test func headingsInsideCodeAreCodeAndSetextHeadingsCount() throws {
    let text = """
      Title Here
      ==========

      The brief.

      ## Shell
      Use this:
      ```bash
      # not a heading
      ## nor this
      ```

      Second section
      --------------
      More.
      """
    let object = try MarkdownOutline.planObject(from: text)
    #expect(object["title"]?.string == "Title Here")
    let sections = object["sections"]?.array ?? []
    #expect(sections.map { $0["title"]?.string ?? "" } == ["Shell", "Second section"])
    #expect(
      sections.first?["description"]?.string
        == "Use this:\n```bash\n# not a heading\n## nor this\n```")
    #expect(object["inputs"]?["brief"]?.string == "The brief.")
  }
}
