import Foundation
import Testing

/// Models that behave like real ones, under real make with the built tools and the stub server.
///
/// Short first answers, answers cut at the token limit, one section that always fails, rate
/// limits, answers that repeat each other.
struct RealModelTests {
  let scratch = Harness.scratch("models")

  /// `make doc` of `plan` with the stub as an OpenAI-compatible provider.
  func makeDoc(
    _ plan: String = "pipelines/prd/plan.json", url: String, j: Int = 4, flags: String = ""
  ) throws -> Harness.Result {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(url)' J=\(j) CALL_FLAGS='--cache \(scratch)/cache --retry-base 0.05 \(flags)' doc PLAN=\(plan)"
    )
  }

  func record(_ doc: String, _ id: String) throws -> [String: Any] {
    let data = try Data(
      contentsOf: URL(fileURLWithPath: "\(scratch)/runs/\(doc)/sections/\(id).json"))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  func bodies(_ stub: Stub) throws -> [[String: Any]] {
    try stub.stats()["bodies"] as? [[String: Any]] ?? []
  }

  static let prdIDs = [
    "executive_summary", "problem_statement", "goals_objectives", "target_users",
    "proposed_solution", "functional_requirements", "non_functional_requirements",
    "technical_considerations", "success_metrics", "timeline_milestones", "risks_mitigations",
    "appendix",
  ]

  /// A small plan in the scratch folder, with its own prompt set.
  func writePlan(_ name: String, _ json: String) throws -> String {
    let folder = "\(scratch)/\(name)"
    try Harness.write(json, to: "\(folder)/plan.json")
    try Harness.write(
      "You write one section at a time.", to: "\(folder)/prompts/\(name)/shared_context.mustache")
    try Harness.write(
      "Write the \"{{section.title}}\" section. {{section.description}}",
      to: "\(folder)/prompts/\(name)/default.mustache")
    return "\(folder)/plan.json"
  }

  @Test func shortFirstAnswersAreReaskedWithTheirViolationsAndARerunAsksNothing() throws {
    let stub = try Stub()
    let url = stub.url("words=300,first_words=60")
    let run = try makeDoc(url: url)
    #expect(run.status == 0, "\(run.err)")
    #expect(try stub.requests() == 24, "one re-ask per section")
    for id in Self.prdIDs {
      let saved = try record("prd", id)
      #expect(saved["status"] as? String == "completed", "\(id)")
      #expect(saved["attempts"] as? Int == 2, "\(id)")
      let repairs = saved["repairs"] as? [[String: Any]] ?? []
      #expect(repairs.count == 1 && repairs.first?["kind"] as? String == "feedback", "\(id)")
      let rules = (repairs.first?["violations"] as? [[String: Any]])?.compactMap {
        $0["rule"] as? String
      }
      #expect(rules == ["min_words"], "\(id)")
    }
    // The second prompt: the first one unchanged, the answer as the assistant's turn, then the
    // violations.
    let all = try bodies(stub)
    let reasks = all.filter { ($0["messages"] as? [[String: Any]] ?? []).count == 4 }
    #expect(reasks.count == 12)
    for body in reasks {
      let messages = body["messages"] as? [[String: Any]] ?? []
      let first = all.first {
        ($0["messages"] as? [[String: Any]] ?? []).count == 2
          && ($0["messages"] as? [[String: Any]])?[1]["content"] as? String
            == messages[1]["content"] as? String
      }
      #expect(first != nil, "the original prompt comes first, unchanged")
      #expect(messages[2]["role"] as? String == "assistant")
      #expect(text(messages[2]["content"]).split(separator: " ").count == 60)
      #expect(messages[3]["role"] as? String == "user")
      #expect(text(messages[3]["content"]).contains("the answer has 60 words; write"))
    }
    let again = try makeDoc(url: url)
    #expect(again.status == 0, "\(again.err)")
    #expect(try stub.requests() == 24, "a re-run asks nothing")
  }

  @Test func aRerunReasksTheCachedInvalidAnswerInsteadOfReplayingIt() throws {
    let stub = try Stub()
    let url = stub.url("words=300,first_words=60")
    // The first run may not re-ask: its invalid answer is cached and the section fails.
    let first = try makeDoc(url: url, flags: "--repair-attempts 0")
    #expect(first.status != 0)
    // Every section fails its format, so the summary (nothing it summarises completed) is not
    // asked for.
    #expect(try stub.requests() == 11)
    #expect(try record("prd", "problem_statement")["status"] as? String == "failed")
    // The next run starts from the cached answer and asks once more, with the feedback.
    let second = try makeDoc(url: url)
    #expect(second.status == 0, "\(second.err)")
    // The problem statement's prompt is the same, so its cached answer is re-asked (1 request);
    // every other prompt holds new upstream content, so it is asked and re-asked (2 each).
    #expect(try stub.requests() == 11 + 1 + 11 * 2)
    let saved = try record("prd", "problem_statement")
    #expect(saved["attempts"] as? Int == 1 && saved["cache"] as? String == "miss")
    #expect((saved["repairs"] as? [[String: Any]])?.first?["attempt"] as? Int == 0)
  }

  @Test func aStageOneFailureLeavesElevenOfTwelve() throws {
    let stub = try Stub()
    let run = try makeDoc(
      url: stub.url("words=300,failfor=Write%20the%20%22Problem%20Statement%22:500"),
      flags: "--retries 1")
    #expect(run.status != 0)
    let statuses = try Self.prdIDs.map { try record("prd", $0)["status"] as? String ?? "?" }
    #expect(statuses.filter { $0 == "completed" }.count == 11, "\(statuses)")
    let failed = try record("prd", "problem_statement")
    #expect((failed["error"] as? [String: Any])?["type"] as? String == "provider")
    let hint = text((failed["error"] as? [String: Any])?["hint"])
    #expect(
      hint.contains("gave up after 2 attempts"), "after the last attempt the hint says what to do")
    let summary = try String(contentsOfFile: "\(scratch)/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""status":"partial""#))
    // Stage 2 sections see every stage-1 section that exists.
    let technical = try record("prd", "technical_considerations")
    #expect(
      Set(technical["context_ids"] as? [String] ?? [])
        == ["goals_objectives", "target_users", "proposed_solution"])
  }

  @Test func theSummaryIsNotAskedForWhenNothingItSummarisesCompleted() throws {
    let stub = try Stub()
    let run = try makeDoc(url: stub.url("fail=500"), flags: "--retries 0")
    #expect(run.status != 0)
    let summary = try record("prd", "executive_summary")
    #expect(summary["status"] as? String == "skipped")
    #expect((summary["error"] as? [String: Any])?["type"] as? String == "dependency_failed")
    #expect(try stub.requests() == 11, "every section but the summary was asked for")
  }

  @Test func aSkipPolicySkipsDependentsAndDeadlinesSayWhichLimitFired() throws {
    let stub = try Stub()
    let plan = try writePlan(
      "skips",
      #"""
      {"id":"skips","title":"Skips","prompt_set":"skips","llm":{"retries":5},
       "sections":[
        {"id":"a","title":"Alpha","description":"first"},
        {"id":"b","title":"Beta","description":"second","depends_on":["a"]},
        {"id":"c","title":"Gamma","description":"third","depends_on":["a"],"on_dependency_failure":"continue"},
        {"id":"d","title":"Delta","description":"fourth","llm":{"deadline_s":1.5}}]}
      """#)
    let run = try makeDoc(
      plan, url: stub.url("words=40,failfor=Alpha:500,slowfor=Delta:5"))
    #expect(run.status != 0)
    #expect(try record("skips", "b")["status"] as? String == "skipped")
    #expect(try record("skips", "c")["status"] as? String == "completed")
    let delta = try record("skips", "d")
    let error = delta["error"] as? [String: Any] ?? [:]
    #expect(error["type"] as? String == "timeout")
    #expect(
      text(error["message"]).hasPrefix("deadline: section 'd' used its 1.5 s (llm.deadline_s)"))
  }

  @Test func aCappedSectionNeverCompletesSilently() throws {
    let stub = try Stub()
    let plan = try writePlan(
      "capped",
      #"""
      {"id":"capped","title":"Capped","prompt_set":"capped","llm":{"max_tokens":50},
       "formats":{"p":{"type":"markdown","min_words":20}},
       "sections":[
        {"id":"cont","title":"Continued","format":"p"},
        {"id":"room","title":"Roomier","format":"p","llm":{"max_tokens_limit":400}},
        {"id":"fits","title":"Fitting","format":"p","llm":{"max_tokens_limit":400,"repair_attempts":3}}]}
      """#)
    let run = try makeDoc(plan, url: stub.url("words=300,honor_max=1"))
    #expect(run.status != 0)
    let cont = try record("capped", "cont")
    #expect(cont["status"] as? String == "failed")
    #expect(cont["finish_reason"] as? String == "length")
    #expect((cont["violations"] as? [[String: Any]])?.first?["rule"] as? String == "truncated")
    let hint = text((cont["error"] as? [String: Any])?["hint"])
    #expect(hint.contains("raise max_tokens"))
    #expect(
      (cont["repairs"] as? [[String: Any]])?.map { $0["kind"] as? String } == [
        "continue", "continue",
      ])
    #expect(text(cont["content"]).split(separator: " ").count == 150, "the parts joined")
    let room = try record("capped", "room")
    #expect(room["status"] as? String == "failed")
    #expect(
      (room["repairs"] as? [[String: Any]])?.map { $0["kind"] as? String } == [
        "more_tokens", "more_tokens",
      ])
    // With a third re-ask the room reaches 400 tokens: the whole 300-word answer fits.
    let fits = try record("capped", "fits")
    #expect(fits["status"] as? String == "completed", "\(fits["error"] ?? "")")
    #expect(fits["finish_reason"] as? String == "stop")
    let sizes = try bodies(stub).compactMap { body -> Int? in
      let user = (body["messages"] as? [[String: Any]])?[1]["content"] as? String ?? ""
      return user.contains("Fitting") ? body["max_tokens"] as? Int : nil
    }
    #expect(sizes == [50, 100, 200, 400])
  }

  @Test func a429InOneSectionSlowsEveryOtherSectionsProcess() throws {
    let stub = try Stub()
    let sections = (1...8).map {
      #"{"id":"s\#($0)","title":"Part \#($0)","description":"part \#($0)"}"#
    }.joined(separator: ",")
    let plan = try writePlan(
      "limits",
      #"{"id":"limits","title":"Limits","prompt_set":"limits","sections":[\#(sections)]}"#)
    let run = try makeDoc(
      plan,
      url: stub.url(
        "words=20,tps=40,failfor=Part%201%22%20section:429,failfor_times=1,retry_after=2"),
      j: 4)
    #expect(run.status == 0, "\(run.err)")
    let spans = (try stub.stats()["spans"] as? [[Any]] ?? []).compactMap {
      span -> (Double, Double, String)? in
      guard let start = span[0] as? Double, let end = span[1] as? Double,
        let text = span[2] as? String
      else { return nil }
      return (start, end, text)
    }
    let limited = try #require(spans.first { $0.2.contains("Part 1\"") })
    // No request of any section starts while the cool-down the 429 asked for holds.
    let during = spans.filter { $0.0 > limited.1 + 0.05 && $0.0 < limited.1 + 1.8 }
    #expect(during.isEmpty, "\(during.map(\.2))")
    #expect(spans.count == 9)
  }

  @Test func theDuplicateRuleComparesWithTheRunsOtherSections() throws {
    let stub = try Stub()
    let plan = try writePlan(
      "dupes",
      #"""
      {"id":"dupes","title":"Dupes","prompt_set":"dupes","llm":{"repair_attempts":1},
       "formats":{"p":{"type":"markdown","max_duplicate_ratio":0.5}},
       "sections":[
        {"id":"a","title":"Alpha","format":"p"},
        {"id":"b","title":"Beta","format":"p","depends_on":["a"]}]}
      """#)
    let run = try makeDoc(plan, url: stub.url("words=60,same=1"))
    #expect(run.status != 0)
    #expect(try record("dupes", "a")["status"] as? String == "completed")
    let beta = try record("dupes", "b")
    #expect(beta["status"] as? String == "failed")
    let violation = (beta["violations"] as? [[String: Any]])?.first
    #expect(violation?["rule"] as? String == "duplicate")
    let message = text(violation?["message"])
    #expect(message.contains("repeats section 'a'"))
    #expect(beta["attempts"] as? Int == 2, "re-asked once before it failed")
  }
}

/// A string field, or "" when it is missing.
func text(_ value: Any?) -> String { value as? String ?? "" }

/// call-llm on its own: the parameters models need, the errors they give, whole JSON answers.
struct ProviderParameterTests {
  func call(_ stub: Stub, provider: String, url: String, llm: String, env: String = "")
    throws -> Harness.Result
  {
    let record =
      #"{"doc":"t","id":"p1","title":"Part","status":"pending","llm":\#(llm),"messages":[{"role":"system","content":"You write."},{"role":"user","content":"Write it."}]}"#
    return try Harness.run(
      "\(env) \(Harness.products.path)/call-llm --no-cache --retries 0 --provider \(provider) --model m --base-url '\(url)'",
      stdin: Data((record + "\n").utf8))
  }

  func lastBody(_ stub: Stub) throws -> [String: Any] {
    try (stub.stats()["bodies"] as? [[String: Any]])?.last ?? [:]
  }

  @Test func openAIReasoningParametersAndExtraReachTheBody() throws {
    let stub = try Stub()
    let result = try call(
      stub, provider: "openai", url: stub.url(),
      llm:
        #"{"max_completion_tokens":900,"reasoning_effort":"high","extra":{"service_tier":"flex","metadata":{"run":"x"}}}"#
    )
    #expect(result.status == 0, "\(result.err)")
    let body = try lastBody(stub)
    #expect(body["max_completion_tokens"] as? Int == 900)
    #expect(body["reasoning_effort"] as? String == "high")
    #expect(body["service_tier"] as? String == "flex")
    #expect((body["metadata"] as? [String: Any])?["run"] as? String == "x")
    #expect(body["stream"] as? Bool == true)
  }

  @Test func anthropicThinkingBudget() throws {
    let stub = try Stub()
    let result = try call(
      stub, provider: "anthropic", url: stub.url(openai: false),
      llm: #"{"max_tokens":1000,"thinking_budget":2000,"temperature":0.5}"#)
    #expect(result.status == 0, "\(result.err)")
    let body = try lastBody(stub)
    let thinking = body["thinking"] as? [String: Any]
    #expect(thinking?["type"] as? String == "enabled" && thinking?["budget_tokens"] as? Int == 2000)
    #expect(body["max_tokens"] as? Int == 3000, "above the budget")
    #expect(body["temperature"] == nil, "no sampling settings with thinking on")
  }

  @Test func ollamaContextWindowAndItsWarning() throws {
    let stub = try Stub()
    let result = try call(
      stub, provider: "ollama", url: stub.url(openai: false), llm: #"{"context_window":2}"#)
    #expect(result.status == 0, "\(result.err)")
    let body = try lastBody(stub)
    #expect((body["options"] as? [String: Any])?["num_ctx"] as? Int == 2)
    #expect(result.err.contains("more than llm.context_window (2)"))
  }

  @Test func anthropicsCreditErrorIsQuotaWithABillingHint() throws {
    let stub = try Stub()
    let result = try call(
      stub, provider: "anthropic", url: stub.url("credit=1", openai: false), llm: "{}")
    let error = try #require(objects(result.out).first?["error"] as? [String: Any])
    #expect(error["type"] as? String == "quota")
    #expect(text(error["hint"]).contains("billing"))
  }

  @Test func aWholeJSONBodyAnswersAStreamedRequest() throws {
    let stub = try Stub()
    for (provider, openai, reason) in [
      ("openai", true, "stop"), ("anthropic", false, "end_turn"), ("ollama", false, "stop"),
    ] {
      let result = try call(
        stub, provider: provider, url: stub.url("whole=1,words=30,reasoning=1", openai: openai),
        llm: "{}")
      #expect(result.status == 0, "\(provider): \(result.err)")
      let record = try #require(objects(result.out).first)
      #expect(text(record["content"]).split(separator: " ").count == 30, "\(provider)")
      #expect(record["reasoning"] as? String == "thinking it through", "\(provider)")
      #expect(record["finish_reason"] as? String == reason, "\(provider)")
      #expect((record["usage"] as? [String: Any])?["output_tokens"] as? Int == 30, "\(provider)")
      #expect((record["usage"] as? [String: Any])?["estimated"] == nil, "\(provider)")
    }
    // Cut at the limit in a whole body: a truncated answer, never a complete one.
    let cut = try call(
      stub, provider: "anthropic", url: stub.url("whole=1,words=30,honor_max=1", openai: false),
      llm: #"{"max_tokens":10}"#)
    #expect(objects(cut.out).first?["finish_reason"] as? String == "length")
  }

  @Test func cachedInputIsReportedAndCostsItsOwnPrice() throws {
    let stub = try Stub()
    for (provider, openai) in [("openai", true), ("anthropic", false)] {
      let result = try call(
        stub, provider: provider, url: stub.url("words=100,cached=2", openai: openai),
        llm: #"{"price":{"input":3,"output":15,"cached_input":0.3}}"#)
      let record = try #require(objects(result.out).first)
      let usage = record["usage"] as? [String: Any] ?? [:]
      let input = usage["input_tokens"] as? Int ?? -1
      #expect(usage["cached_input_tokens"] as? Int == 2, "\(provider): \(usage)")
      let expected = (Double(input - 2) * 3 + 2 * 0.3 + 100 * 15) / 1_000_000
      #expect(abs((record["cost"] as? Double ?? -1) - expected) < 1e-6, "\(provider)")
    }
    // No price, no cost.
    let unpriced = try call(stub, provider: "openai", url: stub.url("words=10"), llm: "{}")
    #expect(objects(unpriced.out).first?["cost"] == nil)
  }
}
