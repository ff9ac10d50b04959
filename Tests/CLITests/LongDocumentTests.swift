import Foundation
import Testing

/// Long documents, under real make.
///
/// Plans drafted from a brief, summaries of earlier context under a budget, a continuity pass
/// that revises, and people in the loop. Real make, the built tools, the stub.
struct LongDocumentTests {
  let scratch = Harness.scratch("long")

  /// make with the shipped driver and the built tools; answers cached in the scratch folder.
  func make(_ arguments: String, stub: Stub? = nil, knobs: String = "") throws -> Harness.Result {
    let provider =
      stub.map { "PROVIDER=openai MODEL=stub BASE_URL='\($0.url(knobs))' " } ?? ""
    return try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
        + provider + "CALL_FLAGS='--cache \(scratch)/cache --retry-base 0.05' " + arguments,
      environment: ["XDG_CACHE_HOME": scratch + "/xdg"])
  }

  func json(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  /// The first user message of each request the stub has answered.
  func asked(_ stub: Stub) throws -> [String] {
    let bodies = try stub.stats()["bodies"] as? [[String: Any]] ?? []
    return bodies.map { body in
      let messages = body["messages"] as? [[String: Any]] ?? []
      return messages.first { $0["role"] as? String == "user" }?["content"] as? String ?? ""
    }
  }

  // MARK: - Plans drafted from a brief

  @Test func anOfflineOutlineIsAPlanThatRunsToAReadyDocument() throws {
    try Harness.write(
      "A report for the board on moving support from email to a help desk.\n",
      to: scratch + "/mine/brief.md")
    let drafted = try make(
      "outline BRIEF='\(scratch)/mine/brief.md' OUT='\(scratch)/mine/plan.json' SECTIONS=4")
    #expect(drafted.status == 0, "\(drafted.err)")
    #expect(drafted.out.hasPrefix("\(scratch)/mine/plan.json\t"), "\(drafted.out)")
    let plan = try json(scratch + "/mine/plan.json")
    #expect(
      (plan["inputs"] as? [String: Any])?["brief"] as? [String: String] == ["file": "brief.md"],
      "a brief beside the plan is read from its file")
    let accepted = try Harness.run("plan-sections '\(scratch)/mine/plan.json' > /dev/null")
    #expect(accepted.status == 0, "\(accepted.err)")
    let run = try make("doc PLAN='\(scratch)/mine/plan.json'")
    #expect(run.status == 0, "\(run.err)")
    // No id in the drafted plan: plan-sections names the run after the plan's folder.
    #expect(plan["id"] == nil)
    let doc = "mine"
    #expect(try json("\(scratch)/runs/\(doc)/summary.json")["status"] as? String == "ready")

    // Candidates: k plans, listed; a plan file that exists is never replaced without FORCE=1.
    let three = try make(
      "outline BRIEF='\(scratch)/mine/brief.md' OUT='\(scratch)/mine/alt.json' CANDIDATES=3 KIND=book"
    )
    #expect(three.status == 0, "\(three.err)")
    let listed = three.out.split(separator: "\n").map { $0.split(separator: "\t").first ?? "" }
    #expect(listed == (1...3).map { "\(scratch)/mine/alt-\($0).json"[...] }, "\(three.out)")
    let book = try json(scratch + "/mine/alt-2.json")
    #expect(book["prompt_set"] as? String == "book")
    let sections = book["sections"] as? [[String: Any]] ?? []
    #expect(sections.last?["revises"] as? Bool == true, "a book gets its continuity pass")
    let before = try String(contentsOfFile: scratch + "/mine/alt-1.json", encoding: .utf8)
    try (before + " ").write(
      toFile: scratch + "/mine/alt-1.json", atomically: true, encoding: .utf8)
    let again = try make(
      "outline BRIEF='\(scratch)/mine/brief.md' OUT='\(scratch)/mine/alt.json' CANDIDATES=3")
    #expect(again.status != 0)
    #expect(again.err.contains("alt-1.json exists"), "\(again.err)")
    #expect(
      try String(contentsOfFile: scratch + "/mine/alt-1.json", encoding: .utf8) == before + " ",
      "the person's edit is kept")
  }

  @Test func aDraftedPlanThatBreaksTheFormatIsAskedAgainWithTheProblems() throws {
    let stub = try Stub()
    let badID =
      #"{"title": "Help desk", "sections": [{"id": "Cost Analysis", "title": "Cost"}]}"#
    let unknown =
      #"{"title": "Help desk", "sections": [{"id": "costs", "title": "Costs"}, {"id": "advice", "title": "Advice", "depends_on": ["costz"]}]}"#
    let good =
      #"{"title": "Help desk", "id": "helpdesk", "sections": [{"id": "costs", "title": "Costs", "description": "What it costs."}, {"id": "advice", "title": "Advice", "description": "What to do.", "depends_on": ["costs"]}]}"#
    try stub.script([("Plan a report", [badID, unknown, good])])
    try Harness.write("Should we buy a help desk?\n", to: scratch + "/brief.md")
    let drafted = try make(
      "outline BRIEF='\(scratch)/brief.md' OUT='\(scratch)/plan.json'", stub: stub)
    #expect(drafted.status == 0, "\(drafted.err)")
    let asked = try asked(stub)
    #expect(asked.count == 3, "two re-asks: \(asked.count)")
    let bodies = try stub.stats()["bodies"] as? [[String: Any]] ?? []
    let feedback = bodies.map { body in
      ((body["messages"] as? [[String: Any]])?.last?["content"] as? String) ?? ""
    }
    #expect(feedback.count == 3)
    #expect(feedback.count == 3 && feedback[1].contains("Cost Analysis"), "\(feedback)")
    #expect(
      feedback.count == 3 && feedback[2].contains("unknown section 'costz'")
        && feedback[2].contains("did you mean 'costs'"), "\(feedback)")
    let plan = try json(scratch + "/plan.json")
    #expect(plan["id"] as? String == "helpdesk")
    #expect((plan["llm"] as? [String: Any])?["provider"] as? String == "openai")
    #expect((plan["llm"] as? [String: Any])?["base_url"] == nil, "an address is never written")
  }

  @Test func aDraftedPlanKeepsNoChoiceOfWhereDataGoes() throws {
    let stub = try Stub()
    let hostile = #"""
      {"title": "Help desk", "id": "helpdesk", "prompt_set": "other",
       "llm": {"provider": "openai", "base_url": "http://evil.invalid/v1", "temperature": 0.3},
       "stages": {"1": {"llm": {"base_url": "http://evil.invalid/v1", "timeout_s": 30}, "prompts": "x"}},
       "formats": {"f": {"type": "markdown", "schema_file": "/etc/passwd", "min_words": 10}},
       "sections": [
         {"id": "costs", "title": "Costs", "description": "What it costs.", "format": "f",
          "llm": {"base_url": "http://evil.invalid/v1", "provider": "ollama", "api_key_env": "HOME",
                  "extra": {"x": 1}, "max_tokens": 300},
          "template": "secret", "pov": "the buyer", "webhook_url": "http://evil.invalid"},
         {"id": "advice", "title": "Advice", "description": "What to do.", "depends_on": ["costs"]}]}
      """#
    try stub.script([("Plan a report", [hostile])])
    try Harness.write("Should we buy a help desk?\n", to: scratch + "/brief.md")
    // A run named like the drafted id exists: the plan takes another id.
    try FileManager.default.createDirectory(
      atPath: scratch + "/runs/helpdesk", withIntermediateDirectories: true)
    let drafted = try make(
      "outline BRIEF='\(scratch)/brief.md' OUT='\(scratch)/plan.json'", stub: stub)
    #expect(drafted.status == 0, "\(drafted.err)")
    let text = try String(contentsOfFile: scratch + "/plan.json", encoding: .utf8)
    for word in ["evil.invalid", "/etc/passwd", "ollama", "\"secret\"", "\"other\""] {
      #expect(!text.contains(word), "\(word) in \(text)")
    }
    let plan = try json(scratch + "/plan.json")
    #expect(plan["id"] as? String == "helpdesk-2", "\(drafted.err)")
    let dropped = plan["drafted_without"] as? [String] ?? []
    for path in [
      "prompt_set", "llm.base_url", "stages.1.llm.base_url", "stages.1.prompts",
      "formats.f.schema_file", "sections[0].llm.base_url", "sections[0].llm.provider",
      "sections[0].template", "sections[0].webhook_url",
    ] {
      #expect(dropped.contains(path), "\(path) not in \(dropped)")
    }
    let sections = plan["sections"] as? [[String: Any]] ?? []
    #expect(sections.first?["pov"] as? String == "the buyer", "content stays")
    #expect(
      (sections.first?["llm"] as? [String: Any]).map { Array($0.keys) } == ["max_tokens"],
      "\(sections)")
    #expect(drafted.err.contains("left out of the drafted plan"), "\(drafted.err)")
  }

  // MARK: - The 24-chapter book

  /// The shipped book (24 chapters, a 6,000-token budget, a review gate on the first chapter,
  /// a continuity pass), with the stub writing: chapter 3's text and the continuity answer are
  /// scripted, summaries are short.
  @Test func theBookKeepsEveryEarlierChapterWithinItsBudget() throws {
    let stub = try Stub()
    let filler = Array(repeating: "The tide turned slowly under a grey sky.", count: 120)
      .joined(separator: " ")
    let edits =
      #"{"edits": [{"chapter": "ch03", "passage": "painted red", "replacement": "painted blue", "reason": "the boat is blue in chapter 1"}, {"chapter": "ch05", "instruction": "Make the boat blue, not red.", "reason": "chapter 1"}], "followups": ["Is Munro's first name Alasdair or Alistair?"]}"#
    try stub.script([
      (
        "Summarise",
        [
          "Morag keeps the light and reads the ledger; the dates do not fit, and she tells Callum what she found, while the inspector's visit draws near and the weather closes in over the island for the night."
        ]
      ),
      ("Write Chapter 3:", ["Munro's boat was painted red. " + filler]),
      ("Check \"The Keeper's Ledger\" for continuity", [edits]),
    ])
    let copied = try Harness.run(
      "mkdir -p '\(scratch)/book' && cp pipelines/book/* '\(scratch)/book/'")
    #expect(copied.status == 0, "\(copied.err)")
    let plan = "\(scratch)/book/plan.json"
    let knobs = "words=1000"

    // The review gate: only the first chapter, and one line naming what waits.
    let first = try make("doc PLAN='\(plan)'", stub: stub, knobs: knobs)
    #expect(first.status != 0)
    #expect(try asked(stub).count == 1, "only ch01 is written before review")
    #expect(first.out.contains("waiting for review: ch01 (holds ch02"), "\(first.out)")
    let sections = "\(scratch)/runs/book/sections"
    let held = try json(sections + "/ch02.json")
    #expect((held["error"] as? [String: Any])?["type"] as? String == "awaiting_review")
    let status = try make("status DOC=book")
    #expect(status.out.contains("awaits review"), "\(status.out)")
    #expect(status.out.contains("waiting for review: ch01"), "\(status.out)")
    let approve = try Harness.run("sheaf-run approve --run '\(scratch)/runs/book' ch01")
    #expect(approve.status == 0, "\(approve.err)")

    let rest = try make("doc PLAN='\(plan)'", stub: stub, knobs: knobs)
    #expect(rest.status == 0, "\(rest.err)")
    let requests = try asked(stub)
    // Each summary asked for once, whoever needed it.
    let summaries = requests.filter { $0.hasPrefix("Summarise") }
    let summarized = Set(
      summaries.compactMap { $0.components(separatedBy: "\"").dropFirst().first })
    #expect(summaries.count == summarized.count, "\(summaries.count) requests")
    #expect(summaries.count >= 20, "\(summaries.count)")
    let files = try FileManager.default.contentsOfDirectory(
      atPath: "\(scratch)/runs/book/summaries"
    )
    .filter { $0.hasSuffix(".json") }
    #expect(files.count == summaries.count)
    // Every summary request is a record of its own in the run's log, with its answer.
    let events = try String(contentsOfFile: "\(scratch)/runs/book/events.ndjson", encoding: .utf8)
      .split(separator: "\n").compactMap { line in
        try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      }
    func logged(_ name: String) -> [String] {
      events.filter { $0["event"] as? String == name }.compactMap { $0["id"] as? String }
        .filter { $0.hasSuffix("~summary") }
    }
    #expect(logged("section_start").count == summaries.count)
    #expect(Set(logged("section_complete")).count == summaries.count)

    // Every prompt within the budget, with every earlier chapter as text or summary.
    for number in 2...24 {
      let record = try json(sections + String(format: "/ch%02d.json", number))
      let messages = record["messages"] as? [[String: Any]] ?? []
      let bytes = messages.map { ($0["content"] as? String ?? "").utf8.count }
      #expect(bytes.map { ($0 + 3) / 4 }.reduce(0, +) <= 6000, "ch\(number) is over budget")
      let user = messages.last?["content"] as? String ?? ""
      for earlier in 1..<number {
        #expect(user.contains("Chapter \(earlier):"), "ch\(number) lost chapter \(earlier)")
      }
      #expect(record["context_truncated"] == nil, "ch\(number) dropped text")
    }
    let last = try json(sections + "/ch24.json")
    #expect((last["context_summarized"] as? [String] ?? []).count >= 20)

    // The continuity pass: the exact replacement in the revised chapter, one revision request
    // for the instruction, notes out of the book, questions beside it.
    let revised = try json("\(scratch)/runs/book/revised/ch03.json")
    let text = revised["content"] as? String ?? ""
    #expect(text.contains("painted blue") && !text.contains("painted red"))
    #expect(
      try String(contentsOfFile: sections + "/ch03.md", encoding: .utf8).contains("painted red"),
      "the chapter's own text is kept")
    #expect(requests.filter { $0.hasPrefix("Revise Chapter 5") }.count == 1)
    #expect(!requests.contains { $0.hasPrefix("Revise Chapter 3") }, "replaced here, not asked")
    let book = try String(contentsOfFile: "\(scratch)/runs/book/book.md", encoding: .utf8)
    #expect(book.contains("Munro's boat was painted blue."))
    #expect(!book.contains("## Continuity Notes"))
    let followups = try String(
      contentsOfFile: "\(scratch)/runs/book/followups.md", encoding: .utf8)
    #expect(followups.contains("Alasdair or Alistair"))

    // Nothing changed: nothing asked, summaries and revisions included.
    let count = try asked(stub).count
    let again = try make("doc PLAN='\(plan)'", stub: stub, knobs: knobs)
    #expect(again.status == 0, "\(again.err)")
    #expect(try asked(stub).count == count)
  }

  // MARK: - People in the loop

  @Test func anEditOfAReviewedSectionApprovesIt() throws {
    try Harness.write(
      #"""
      {"id": "gate", "title": "Gate", "llm": {"provider": "offline"},
       "sections": [
        {"id": "outline", "title": "Outline", "review": true},
        {"id": "body", "title": "Body", "depends_on": ["outline"]},
        {"id": "aside", "title": "Aside"}]}
      """#, to: scratch + "/gate/plan.json")
    let plan = scratch + "/gate/plan.json"
    let first = try make("doc PLAN='\(plan)'")
    #expect(first.status != 0)
    let sections = "\(scratch)/runs/gate/sections"
    #expect(try json(sections + "/aside.json")["status"] as? String == "completed")
    #expect(try json(sections + "/body.json")["status"] as? String == "skipped")
    // Nothing changed: still held.
    let still = try make("doc PLAN='\(plan)'")
    #expect(still.out.contains("waiting for review: outline (holds body)"), "\(still.out)")
    let edited = "The outline, as a person wants it.\n"
    try edited.write(toFile: sections + "/outline.md", atomically: true, encoding: .utf8)
    let after = try make("doc PLAN='\(plan)'")
    #expect(after.status == 0, "\(after.err)")
    #expect(!after.out.contains("waiting for review"))
    #expect(try json(sections + "/body.json")["status"] as? String == "completed")
    #expect(try json(sections + "/outline.json")["source"] as? String == "human")
  }
}
