import Foundation
import Testing

/// build-prompt, the real binary, over the example plans and the shipped prompt sets.
struct BuildPromptTests {
  let scratch: String = {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "bp-\(UUID().uuidString)"
    ).path
    try? FileManager.default.createDirectory(
      atPath: path + "/sections", withIntermediateDirectories: true)
    return path
  }()

  func write(_ text: String, to name: String) throws {
    try Harness.write(text, to: "\(scratch)/\(name)")
  }

  /// Every section of the detailed PRD completed, each with content that names it.
  func completeEverySection() throws {
    let planned = try Harness.run("plan-sections pipelines/prd/plan.json")
    for record in objects(planned.out) {
      let id = try #require(record["id"] as? String)
      try write(
        #"{"id":"\#(id)","title":"\#(record["title"] as? String ?? id)","order":\#(record["order"] as? Int ?? 0),"status":"completed","content":"CONTENT-OF-\#(id) {{doc.title}}"}"#,
        to: "sections/\(id).json")
    }
  }

  @Test func noSectionSeesContentOutsideItsDependencies() throws {
    try completeEverySection()
    let result = try Harness.run(
      "plan-sections pipelines/prd/plan.json | build-prompt --context \(scratch)/sections")
    #expect(result.status == 0, "\(result.err)")
    let records = objects(result.out)
    #expect(records.count == 12)
    for record in records {
      let id = try #require(record["id"] as? String)
      let allowed = Set(
        (record["depends_on"] as? [String] ?? []) + (record["context"] as? [String] ?? []))
      let prompt = (record["messages"] as? [[String: Any]] ?? []).compactMap {
        $0["content"] as? String
      }.joined(separator: "\n")
      for other in records.compactMap({ $0["id"] as? String }) {
        let shown = prompt.contains("CONTENT-OF-\(other) ")
        #expect(
          shown == allowed.contains(other),
          "\(id): content of \(other) \(shown ? "leaked into" : "missing from") the prompt")
      }
      #expect(Set(record["context_ids"] as? [String] ?? []) == allowed)
    }
  }

  @Test func theDefaultSetAsksAJSONSectionForJSONAndBooleansNeverSayFalse() throws {
    let json =
      #"{"doc":"d","id":"a","title":"A","status":"pending","format":{"type":"json","schema":{"type":"array"}}}"#
    let result = try Harness.run("build-prompt", stdin: Data((json + "\n").utf8))
    let messages = try #require(objects(result.out).first?["messages"] as? [[String: Any]])
    let user = messages[1]["content"] as? String ?? ""
    #expect(user.contains("Answer with JSON only"), "\(user)")
    #expect(user.contains(#"{"type":"array"}"#))
    #expect(!user.contains("starting with its first sentence"), "no prose for a JSON section")
    let prose = try Harness.run(
      "build-prompt",
      stdin: Data((#"{"doc":"d","id":"b","title":"B","status":"pending"}"# + "\n").utf8))
    let plain = try #require(objects(prose.out).first?["messages"] as? [[String: Any]])
    #expect((plain[1]["content"] as? String)?.contains("starting with its first sentence") == true)
    // A flag that is not there renders as nothing, never as `false`.
    let folder = "\(scratch)/flags"
    try Harness.write("System.", to: "\(folder)/flags/shared_context.mustache")
    try Harness.write(
      "[{{has_feedback}}][{{has_context}}][{{has_outline}}]", to: "\(folder)/flags/default.mustache"
    )
    let flags = try Harness.run(
      "build-prompt --prompts \(folder) --set flags",
      stdin: Data((#"{"doc":"d","id":"c","title":"C","status":"pending"}"# + "\n").utf8))
    let rendered = try #require(objects(flags.out).first?["messages"] as? [[String: Any]])
    #expect(rendered[1]["content"] as? String == "[][][]", "\(flags.err)")
  }

  @Test func contentIsInertData() throws {
    try completeEverySection()
    let result = try Harness.run(
      "plan-sections --only goals_objectives --input audience='{{section.id}} & <b>' pipelines/prd/plan.json | build-prompt --context \(scratch)/sections"
    )
    let messages = try #require(objects(result.out).first?["messages"] as? [[String: Any]])
    #expect(
      (messages[0]["content"] as? String)?.contains("Audience: {{section.id}} & <b>.") == true)
    #expect(
      (messages[1]["content"] as? String)?.contains("CONTENT-OF-problem_statement {{doc.title}}")
        == true)
  }

  @Test func aMissingNameFailsTheRecordWithFileLineAndName() throws {
    try write("System for {{doc.title}}.", to: "p/t/shared_context.mustache")
    try write(
      "Line one.\n{{#context}}{{title}}{{/context}}\nTitle: {{section.titel}}\n",
      to: "p/t/default.mustache")
    let input = #"{"doc":"d","id":"a","title":"A","status":"pending"}"# + "\n"
    let strict = try Harness.run(
      "build-prompt --prompts \(scratch)/p --set t", stdin: Data(input.utf8))
    #expect(strict.status == 1)
    let error = try #require(objects(strict.out).first?["error"] as? [String: Any])
    #expect(error["type"] as? String == "template")
    #expect(
      error["message"] as? String
        == "\(scratch)/p/t/default.mustache:3: no variable 'section.titel' (here: context, doc, feedback, has_context, has_feedback, has_outline, outline, outline_more, previous_answer, section)"
    )
    let lax = try Harness.run(
      "build-prompt --lax --prompts \(scratch)/p --set t", stdin: Data(input.utf8))
    #expect(lax.status == 0)
    #expect(
      ((objects(lax.out).first?["messages"] as? [[String: Any]])?.last?["content"] as? String)
        == "Line one.\n\nTitle:")
  }

  @Test func aTemplateThatDoesNotParseFailsOnlyTheRecordsThatUseIt() throws {
    try write("S", to: "p/t/shared_context.mustache")
    try write("Hi\n{{#context}}\nnever closed\n", to: "p/t/default.mustache")
    try write("Fine: {{section.title}}", to: "p/t/good.mustache")
    let input =
      #"{"doc":"d","id":"a","status":"pending"}"# + "\n"
      + #"{"doc":"d","id":"b","template":"good","status":"pending"}"# + "\n"
      + #"{"doc":"d","id":"c","status":"pending"}"# + "\n"
    let result = try Harness.run(
      "build-prompt --prompts \(scratch)/p --set t", stdin: Data(input.utf8))
    #expect(result.status == 1, "the stream is complete, some records failed")
    let records = objects(result.out)
    #expect(
      records.map { $0["status"] as? String } == ["failed", "pending", "failed"],
      "records after the broken one are written too")
    let error = try #require(records.first?["error"] as? [String: Any])
    #expect(error["type"] as? String == "template")
    #expect(
      error["message"] as? String
        == "\(scratch)/p/t/default.mustache:2: section 'context' is never closed")
  }

  @Test func aMissingTemplateFailsWithAHint() throws {
    try write("S", to: "p/t/shared_context.mustache")
    let result = try Harness.run(
      "build-prompt --prompts \(scratch)/p --set t",
      stdin: Data(#"{"doc":"d","id":"a","status":"pending"}"#.utf8))
    let error = try #require(objects(result.out).first?["error"] as? [String: Any])
    #expect(
      (error["message"] as? String)?.hasPrefix(
        "no template 'a.mustache' or 'default.mustache' for section 'a' in prompt set 't'") == true)
    #expect(
      error["hint"] as? String
        == "add prompts/t/a.mustache, or set the section's template in the plan")
  }

  @Test func feedbackFromAFailedValidationReachesThePrompt() throws {
    let planned = try Harness.run("plan-sections --only problem_statement pipelines/prd/plan.json")
    var record = try #require(objects(planned.out).first)
    record["status"] = "failed"
    record["content"] = "Sure, here is the problem statement. It is short."
    record["error"] = ["type": "validation", "message": "2 violations", "retryable": true]
    record["violations"] = [
      ["rule": "min_words", "message": "the answer has 9 words; write 250–700"],
      ["rule": "forbid_phrases", "message": "remove the preamble 'Sure, here is'"],
    ]
    let input = try JSONSerialization.data(withJSONObject: record) + Data("\n".utf8)
    let result = try Harness.run("build-prompt", stdin: input)
    let out = try #require(objects(result.out).first)
    #expect(
      out["status"] as? String == "pending" && out["error"] == nil && out["violations"] == nil
        && out["content"] == nil)
    let prompt = try #require((out["messages"] as? [[String: Any]])?.last?["content"] as? String)
    #expect(
      prompt.contains(
        "Your previous answer was rejected for these reasons; fix every one:\n- the answer has 9 words; write 250–700\n- remove the preamble 'Sure, here is'"
      ))
    #expect(
      prompt.contains(
        "<previous_answer>\nSure, here is the problem statement. It is short.\n</previous_answer>"))
  }

  @Test func aPersonsEditWinsOverTheRecord() throws {
    try completeEverySection()
    try write("A person rewrote the problem statement.\n", to: "sections/problem_statement.md")
    try write("CONTENT-OF-goals_objectives {{doc.title}}\n", to: "sections/goals_objectives.md")
    let result = try Harness.run(
      "plan-sections --only target_users pipelines/prd/plan.json | build-prompt --context \(scratch)/sections"
    )
    let prompt = try #require(
      (objects(result.out).first?["messages"] as? [[String: Any]])?.last?["content"] as? String)
    #expect(prompt.contains("A person rewrote the problem statement."))
    #expect(!prompt.contains("CONTENT-OF-problem_statement"))
    #expect(
      prompt.contains("CONTENT-OF-goals_objectives"), "an unchanged .md is the record's own content"
    )
  }

  @Test func sectionsThatDidNotCompleteAreNotContext() throws {
    try completeEverySection()
    try write(
      #"{"id":"goals_objectives","title":"Goals","order":3,"status":"failed","content":"CONTENT-OF-goals_objectives x"}"#,
      to: "sections/goals_objectives.json")
    let result = try Harness.run(
      "plan-sections --only target_users pipelines/prd/plan.json | build-prompt --context \(scratch)/sections"
    )
    #expect(objects(result.out).first?["context_ids"] as? [String] == ["problem_statement"])
  }

  @Test func theBudgetEmptiesTheOldestContextFirstAndSaysSo() throws {
    try completeEverySection()
    let long = String(repeating: "word ", count: 2_000)
    try write(
      #"{"id":"problem_statement","title":"Problem Statement","order":2,"status":"completed","content":"\#(long)"}"#,
      to: "sections/problem_statement.json")
    try write(
      #"{"id":"goals_objectives","title":"Goals and Objectives","order":3,"status":"completed","content":"\#(long)"}"#,
      to: "sections/goals_objectives.json")
    let plan =
      "plan-sections --only target_users pipelines/prd/plan.json | build-prompt --context \(scratch)/sections"
    let fits = try Harness.run("\(plan) --max-input-tokens 5000")
    let record = try #require(objects(fits.out).first)
    #expect(record["status"] as? String == "pending")
    #expect(record["context_truncated"] as? [String] == ["problem_statement"])
    let prompt = try #require((record["messages"] as? [[String: Any]])?.last?["content"] as? String)
    #expect(
      prompt.contains(
        #"<section title="Problem Statement" note="content left out to fit the prompt budget">"#))
    #expect(prompt.components(separatedBy: "word word").count > 100, "the newer context stays")
    let tooSmall = try Harness.run("\(plan) --max-input-tokens 100")
    let error = try #require(objects(tooSmall.out).first?["error"] as? [String: Any])
    #expect(error["type"] as? String == "context_length")
    #expect(tooSmall.status == 1)
  }

  @Test(arguments: [
    "pipelines/prd/plan.json", "--mode draft pipelines/prd/plan.json", "pipelines/book/plan.json",
    "pipelines/blog/plan.md", "pipelines/episode/plan.json",
  ])
  func everyShippedTemplateRendersAgainstItsPlan(_ plan: String) throws {
    // Bare, then with every section completed as context and a violation as feedback, so every
    // branch of every template is checked for names.
    let bare = try Harness.run("plan-sections \(plan) | build-prompt")
    #expect(bare.status == 0, "\(bare.out.prefix(600))")
    let planned = objects(try Harness.run("plan-sections \(plan)").out)
    for record in planned {
      let id = try #require(record["id"] as? String)
      try write(
        #"{"id":"\#(id)","title":"T","order":\#(record["order"] as? Int ?? 0),"status":"completed","content":"Text."}"#,
        to: "sections/\(id).json")
    }
    let withFeedback = try Harness.run(
      "plan-sections \(plan) | sed 's/\"status\":\"pending\"/\"status\":\"failed\",\"instructions\":\"Shorter.\",\"content\":\"Old.\",\"violations\":[{\"rule\":\"r\",\"message\":\"m\"}]/' | build-prompt --context \(scratch)/sections"
    )
    #expect(withFeedback.status == 0, "\(withFeedback.out.prefix(600))")
    #expect(
      objects(withFeedback.out).allSatisfy {
        ($0["messages"] as? [[String: Any]])?.last?["content"] as? String != nil
      })
  }

  @Test func finishedRecordsAndEventsPassThrough() throws {
    let input =
      #"{"event":"stage","stage":1}"# + "\n"
      + #"{"id":"a","status":"completed","content":"x","n":1.50}"# + "\n"
      + #"{"id":"b","status":"skipped","error":{"type":"dependency_failed","message":"m","retryable":false}}"#
      + "\n"
    let result = try Harness.run("build-prompt", stdin: Data(input.utf8))
    #expect(result.out == input)
  }
}

/// The loop the README shows: a failed validation, fed back through build-prompt, reaches the
/// next prompt as feedback, and a passing answer then completes.
struct FeedbackLoopTests {
  @Test func violationsBecomeTheNextPromptsFeedback() throws {
    let cache = FileManager.default.temporaryDirectory.appendingPathComponent(
      "loop-\(UUID().uuidString)"
    ).path
    // A format the offline answer cannot meet on the first try: at most 40 words.
    let first = try Harness.run(
      "plan-sections --only problem_statement pipelines/prd/plan.json | sed 's/\"max_words\":700/\"max_words\":40/' | build-prompt | call-llm --cache \(cache) | validate-format"
    )
    #expect(first.status == 1)
    let failed = try #require(objects(first.out).first)
    #expect((failed["error"] as? [String: Any])?["type"] as? String == "validation")
    let message = try #require(
      (failed["violations"] as? [[String: Any]])?.first?["message"] as? String)
    #expect(message.hasPrefix("the answer has ") && message.hasSuffix("words; write 250–40"))
    let again = try Harness.run("build-prompt", stdin: first.stdout)
    let prompt = try #require(
      (objects(again.out).first?["messages"] as? [[String: Any]])?.last?["content"] as? String)
    #expect(
      prompt.contains(
        "Your previous answer was rejected for these reasons; fix every one:\n- \(message)"))
    #expect(prompt.contains("<previous_answer>"))
    #expect(objects(again.out).first?["status"] as? String == "pending")
  }
}

extension BuildPromptTests {
  /// The outline travels once, as plan-sections' first line, and still reaches every prompt.
  @Test func theOutlineEventReachesThePrompts() throws {
    let result = try Harness.run("plan-sections pipelines/blog/plan.md | build-prompt")
    #expect(result.status == 0, "\(result.err)")
    let all = lines(result.out)
    #expect(all.first?["event"] as? String == "outline", "the event passes through")
    let intro = try #require(objects(result.out).first { $0["id"] as? String == "introduction" })
    #expect(intro["outline"] == nil, "records do not carry the outline")
    let prompt = (intro["messages"] as? [[String: Any]])?.last?["content"] as? String ?? ""
    #expect(prompt.contains("- Running One in 45 Minutes\n"))
    #expect(!prompt.contains("The agenda minute by minute"), "titles only, never descriptions")
    #expect(!prompt.contains("- Introduction\n"), "a section is not its own sibling")
  }
}
