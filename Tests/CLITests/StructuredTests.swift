import Foundation
import Testing

/// JSON sections end to end: asked for natively, answered offline, shown as Markdown.
struct StructuredTests {
  let scratch = Harness.scratch("structured")

  static let schema =
    #"{"type":"array","minItems":3,"maxItems":5,"uniqueItems":true,"items":{"type":"object","required":["task","owner","due","priority"],"properties":{"task":{"type":"string","minLength":5,"maxLength":60},"owner":{"type":"string","format":"email"},"due":{"type":"string","format":"date"},"priority":{"enum":["must","should","could"]},"hours":{"type":"integer","minimum":1,"maximum":40}},"additionalProperties":false}}"#

  /// A plan with a prose section and a JSON section, and its prompt set.
  func writePlan(render: String? = nil) throws -> String {
    let format =
      #"{"type":"json","schema":\#(Self.schema)\#(render.map { #","render":"\#($0)""# } ?? "")}"#
    try Harness.write(
      #"""
      {"id":"launch","title":"Launch checklist","prompt_set":"launch","llm":{"provider":"offline"},
       "formats":{"tasks":\#(format)},
       "sections":[{"id":"intro","title":"Introduction","description":"Why launch checklists help."},
        {"id":"tasks","title":"Tasks","description":"The launch tasks with owners and dates.","format":"tasks","depends_on":["intro"]}]}
      """#, to: scratch + "/launch/plan.json")
    try Harness.write(
      "You write a launch plan.", to: scratch + "/launch/prompts/launch/shared_context.mustache")
    try Harness.write(
      "Write {{section.title}}: {{section.description}}",
      to: scratch + "/launch/prompts/launch/default.mustache")
    return scratch + "/launch/plan.json"
  }

  @Test func aJSONSectionRunsOfflineToAReadyDocumentShownAsATable() throws {
    let plan = try writePlan()
    let run = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' CALL_FLAGS=--no-cache doc PLAN='\(plan)'"
    )
    #expect(run.status == 0, "\(run.err)")
    let record =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: scratch + "/runs/launch/sections/tasks.json")))
      as? [String: Any]
    #expect(record?["status"] as? String == "completed")
    #expect((record?["violations"] as? [Any])?.isEmpty == true, "valid against the schema")
    let rows = record?["data"] as? [[String: Any]] ?? []
    #expect((3...5).contains(rows.count))
    for row in rows {
      #expect(["must", "should", "could"].contains(row["priority"] as? String ?? ""))
      #expect((row["owner"] as? String ?? "").contains("@"))
      #expect((row["due"] as? String ?? "").count == 10)
    }
    let document = try String(
      contentsOfFile: scratch + "/runs/launch/launch.md", encoding: .utf8)
    #expect(document.contains("| Task | Owner | Due | Priority |"), "\(document)")
    #expect(!document.contains("```"), "never a raw JSON block")
    // merge-doc --format json keeps data.
    let json = try Harness.run(
      "merge-doc --format json '\(scratch)/runs/launch/sections/'*.json")
    let merged = try JSONSerialization.jsonObject(with: json.stdout) as? [String: Any]
    let tasks = (merged?["sections"] as? [[String: Any]])?.first { $0["id"] as? String == "tasks" }
    #expect((tasks?["data"] as? [Any])?.count == rows.count)
  }

  @Test func aRenderTemplateShowsTheData() throws {
    let plan = try writePlan(render: "task_list")
    try Harness.write(
      "{{#data}}\n- [ ] {{task}} ({{owner}}, by {{due}})\n{{/data}}",
      to: scratch + "/launch/prompts/launch/task_list.mustache")
    let run = try Harness.run(
      "plan-sections '\(plan)' | build-prompt | call-llm --no-cache | validate-format | merge-doc")
    #expect(run.status == 0, "\(run.err)")
    #expect(run.out.contains("- [ ] "), "\(run.out)")
    #expect(!run.out.contains("| Task |"))
  }

  func record(_ provider: String, format: String) -> Data {
    Data(
      (#"{"doc":"t","id":"tasks","title":"Tasks","status":"pending","format":\#(format),"messages":[{"role":"system","content":"You write."},{"role":"user","content":"Write the tasks."}]}"#
        + "\n").utf8)
  }

  func bodies(_ stub: Stub) throws -> [[String: Any]] {
    try stub.stats()["bodies"] as? [[String: Any]] ?? []
  }

  @Test func eachProviderIsAskedForStructuredOutput() throws {
    let stub = try Stub()
    let format = #"{"type":"json","schema":\#(Self.schema)}"#
    for (provider, openai) in [("openai", true), ("ollama", false), ("anthropic", false)] {
      let result = try Harness.run(
        "call-llm --no-cache --repair-attempts 0 --provider \(provider) --model m --base-url '\(stub.url("words=5", openai: openai))'",
        stdin: record(provider, format: format))
      #expect(result.status == 0, "\(provider): \(result.err)")
    }
    let sent = try bodies(stub)
    let openai = sent[0]["response_format"] as? [String: Any]
    #expect(openai?["type"] as? String == "json_schema")
    let spec = openai?["json_schema"] as? [String: Any]
    #expect(spec?["name"] as? String == "section_tasks")
    // An array at the root is wrapped as {"value": …}: OpenAI's schema must be an object.
    #expect(((spec?["schema"] as? [String: Any])?["properties"] as? [String: Any])?["value"] != nil)
    #expect(spec?["strict"] as? Bool == false, "not every property is required: not strict")
    #expect(
      (sent[1]["format"] as? [String: Any])?["type"] as? String == "array", "ollama: the schema")
    let tools = sent[2]["tools"] as? [[String: Any]]
    #expect(tools?.first?["name"] as? String == "answer")
    #expect((sent[2]["tool_choice"] as? [String: Any])?["name"] as? String == "answer")
  }

  @Test func aServerThatRefusesFallsBackOnceAndRemembers() throws {
    let stub = try Stub()
    let format = #"{"type":"json","schema":{"type":"object","properties":{"a":{"type":"string"}}}}"#
    var input = Data()
    for index in 1...3 {
      input += Data(
        (#"{"doc":"t","id":"s\#(index)","title":"S","status":"pending","format":\#(format),"messages":[{"role":"user","content":"Write \#(index)."}]}"#
          + "\n").utf8)
    }
    let result = try Harness.run(
      "call-llm -j 1 --no-cache --repair-attempts 0 --provider openai --model m --base-url '\(stub.url("words=5,refuse=json_schema+json_object"))'",
      stdin: input)
    let asked = try bodies(stub).map {
      ($0["response_format"] as? [String: Any])?["type"] as? String ?? "none"
    }
    #expect(asked == ["json_schema", "json_object", "none", "none", "none"], "\(asked)")
    #expect(
      result.err.components(separatedBy: "refused").count - 1 == 2,
      "said once a level: \(result.err)")
    #expect(objects(result.out).allSatisfy { $0["status"] as? String == "completed" })
    #expect(objects(result.out).allSatisfy { $0["attempts"] as? Int ?? 0 <= 3 })
  }

  @Test func partialValuesStreamAsItemsArrive() throws {
    let stub = try Stub()
    let input = Data(
      (#"{"doc":"t","id":"j","title":"J","status":"pending","format":{"type":"json"},"messages":[{"role":"user","content":"List."}]}"#
        + "\n").utf8)
    // The stream split at every byte, about 60 tokens a second.
    let result = try Harness.run(
      "call-llm --no-cache --events --provider openai --model m --base-url '\(stub.url("json=1,words=20,tps=60,bytewise=1"))'",
      stdin: input)
    #expect(result.status == 0, "\(result.err)")
    let all = lines(result.out)
    let final = try #require(objects(result.out).first?["content"] as? String)
    let value = try #require(
      try JSONSerialization.jsonObject(with: Data(final.utf8)) as? [[String: Any]])
    #expect(value.count == 20)
    let partials = all.filter { $0["event"] as? String == "chunk" }.compactMap {
      $0["data"] as? [[String: Any]]
    }
    #expect(partials.count >= 5, "about ten a second over two seconds: \(partials.count)")
    let chunks = all.filter { $0["event"] as? String == "chunk" }.count
    #expect(partials.count < chunks / 2, "not with every chunk")
    var previous = -1
    for partial in partials {
      #expect(partial.count >= previous, "the value only grows")
      previous = partial.count
      // Every item but the one being written is final.
      for (index, item) in partial.dropLast().enumerated() {
        #expect(item["n"] as? Int == value[index]["n"] as? Int)
        #expect(item["word"] as? String == value[index]["word"] as? String)
      }
    }
  }
}
