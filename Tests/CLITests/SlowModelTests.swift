import Foundation
import Testing

/// Slow and weak models, as a laptop's local server gives them.
///
/// Streams slower than their timeouts, answers that echo the prompt, caps from the command line,
/// a run that remembers what shapes it, JSON cut at its token limit. Real make, the built tools,
/// the stub server.
struct SlowModelTests {
  let scratch = Harness.scratch("slow")

  func make(_ arguments: String, url: String? = nil, flags: String = "") throws
    -> Harness.Result
  {
    let server = url.map { "PROVIDER=openai MODEL=stub BASE_URL='\($0)' " } ?? ""
    return try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs "
        + server + "CALL_FLAGS='--cache \(scratch)/cache --retry-base 0.05 \(flags)' \(arguments)")
  }

  func record(_ doc: String, _ id: String) throws -> [String: Any] {
    let data = try Data(
      contentsOf: URL(fileURLWithPath: "\(scratch)/runs/\(doc)/sections/\(id).json"))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  @Test func aLocalModelAtFiveTokensASecondFinishesTheShippedPRDSection() throws {
    // 320 words at 5 a second: 64 s, past the stage's 60 s timeout. The stream is healthy, so it
    // is not cut, and nothing is asked twice.
    let stub = try Stub()
    let run = try make(
      "doc PLAN=pipelines/prd/plan.json ONLY=problem_statement J=1",
      url: stub.url("tps=5,words=320"))
    #expect(run.status == 0, "\(run.err)")
    let saved = try record("prd", "problem_statement")
    #expect(saved["status"] as? String == "completed", "\(saved)")
    #expect(saved["attempts"] as? Int == 1)
    #expect(try stub.requests() == 1, "no request sent twice")
    let seconds = (saved["timing"] as? [String: Any])?["seconds"] as? Double ?? 0
    #expect(seconds > 60, "longer than the stage's timeout: \(seconds)")
  }

  @Test func aModelThatEchoesItsPromptNeverMakesAReadyDocument() throws {
    let stub = try Stub()
    let run = try make("doc PLAN=pipelines/prd/plan.json", url: stub.url("echo=1,words=300"))
    #expect(run.status != 0)
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(scratch)/runs/prd/summary.json")))
      as? [String: Any]
    #expect(summary?["status"] as? String != "ready")
    let saved = try record("prd", "problem_statement")
    #expect(saved["status"] as? String == "failed")
    let rules = (saved["violations"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
    #expect(rules.contains("echo"), "\(saved)")
    let message = ((saved["error"] as? [String: Any])?["message"] as? String) ?? ""
    #expect(message.contains("repeats its own prompt"), "\(message)")
    let repairs = saved["repairs"] as? [[String: Any]] ?? []
    #expect(repairs.count == 2, "asked again with the echo named")
  }

  @Test func theRunRemembersWhatShapesItAndASecondRunAsksNothing() throws {
    // Answers of 100 words where 250 are asked: WARN=min_words lets them through.
    let stub = try Stub()
    let url = stub.url("words=100")
    let first = try make(
      "doc PLAN=pipelines/prd/plan.json WARN=min_words MAX_TOKENS=1500", url: url)
    #expect(first.status == 0, "\(first.err)")
    let asked = try stub.requests()
    #expect(asked == 12)
    // Neither given again: remembered; nothing is stale and nothing is asked.
    let status = try make("status DOC=prd")
    #expect(status.out.contains("next make doc: 0 requests"), "\(status.out)")
    let second = try make("doc PLAN=pipelines/prd/plan.json", url: url)
    #expect(second.status == 0, "\(second.err)")
    #expect(try stub.requests() == asked)
    // Given again with another value: every section is built from something else.
    let other = try make("status DOC=prd MAX_TOKENS=900")
    #expect(other.out.contains("next make doc: 12 requests"), "\(other.out)")
    #expect(other.out.contains("stale: the llm settings changed"), "\(other.out)")
    let bad = try make("doc PLAN=pipelines/prd/plan.json TIMEOUT=soon", url: url)
    #expect(bad.status != 0)
    #expect(bad.err.contains("TIMEOUT=soon: give seconds"), "\(bad.err)")
  }

  @Test func aCutJSONSectionIsAskedAgainUnderItsSchemaWithMoreRoom() throws {
    let stub = try Stub()
    let folder = "\(scratch)/data"
    try Harness.write(
      #"""
      {"id": "data", "title": "Data", "llm": {"max_tokens": 10},
       "sections": [{"id": "items", "title": "Items", "format": {"type": "json", "schema":
         {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"},
          "word": {"type": "string"}}, "required": ["n", "word"]}}}}]}
      """#, to: "\(folder)/plan.json")
    try Harness.write("You answer with data.", to: "\(folder)/prompts/data/shared_context.mustache")
    try Harness.write("List the items.", to: "\(folder)/prompts/data/default.mustache")
    let run = try make(
      "doc PLAN=\(folder)/plan.json", url: stub.url("json=1,words=20,honor_max=1"))
    #expect(run.status == 0, "\(run.err)")
    let bodies = try stub.stats()["bodies"] as? [[String: Any]] ?? []
    #expect(bodies.count == 2, "cut once, asked again once")
    for body in bodies {
      let format = body["response_format"] as? [String: Any]
      #expect(format?["type"] as? String == "json_schema", "every ask under the schema: \(body)")
      let messages = body["messages"] as? [[String: Any]] ?? []
      #expect(!messages.contains { $0["role"] as? String == "assistant" }, "never continued")
    }
    #expect(bodies.last?["max_tokens"] as? Int == 20)
    let saved = try record("data", "items")
    #expect(saved["status"] as? String == "completed")
    #expect((saved["data"] as? [Any])?.count == 20)
  }

  @Test func theForecastCountsTheTextOfSectionsNotWrittenYet() throws {
    let dry = try make("doc PLAN=pipelines/prd/plan.json DRY=1")
    #expect(dry.status == 0, "\(dry.err)")
    func estimate(_ id: String) -> Int {
      let line = dry.out.split(separator: "\n").first { $0.hasPrefix("would ask: \(id) ") } ?? ""
      let match = line.range(of: #"~(\d+) in"#, options: .regularExpression)
      return match.map { Int(line[$0].dropFirst().dropLast(3)) ?? 0 } ?? 0
    }
    let first = estimate("problem_statement")
    let last = estimate("executive_summary")
    #expect(first > 500, "\(dry.out)")
    #expect(last > first * 4, "the summary reads every section: \(first) vs \(last)")
    // After a run and a regeneration, the time shown is the last run's, said as such.
    #expect(try make("doc PLAN=pipelines/prd/plan.json").status == 0)
    #expect(try make("regen DOC=prd SECTION=appendix").status == 0)
    let status = try make("status DOC=prd")
    #expect(status.out.contains("· last run "), "\(status.out)")
    #expect(!status.out.contains("· elapsed "))
  }

  @Test func aServerThatLosesThePromptIsSaid() throws {
    let stub = try Stub()
    let input =
      #"{"id":"s","title":"S","status":"pending","messages":[{"role":"system","content":"\#(String(repeating: "You write reports for busy people. ", count: 40))"},{"role":"user","content":"Write."}]}"#
    let result = try Harness.run(
      "call-llm --no-cache --provider openai --model m --base-url '\(stub.url("prompt_tokens=3"))'",
      stdin: Data((input + "\n").utf8))
    #expect(result.status == 0, "\(result.err)")
    #expect(result.err.contains("the server counted 3 input tokens"), "\(result.err)")
    #expect(result.err.contains("chat template"))
    let record = try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any]
    let warnings = record?["warnings"] as? [[String: Any]] ?? []
    #expect(warnings.first?["rule"] as? String == "input_tokens")
  }
}
