import Foundation
import Testing

/// A document that stays right and never pays twice.
///
/// What each kind of change asks for, modes, one run at a time, the budget, cost: real make, the
/// built tools, the stub counting requests.
struct RebuildTests {
  let scratch = Harness.scratch("rebuild")

  var plan: String { scratch + "/prd/plan.json" }
  var prompts: String { scratch + "/prd/prompts/prd" }
  var sections: String { scratch + "/runs/prd/sections" }

  /// A copy of the shipped PRD, its requirements and its prompt set, to edit.
  func copyPRD() throws {
    let root = Harness.root.path
    let result = try Harness.run(
      "mkdir -p '\(scratch)/prd/prompts' && cp pipelines/prd/plan.json pipelines/prd/requirements.md '\(scratch)/prd/' && cp -r prompts/prd '\(scratch)/prd/prompts/'"
    )
    #expect(result.status == 0, "\(root): \(result.err)")
  }

  func makeDoc(_ stub: Stub, _ extra: String = "", knobs: String = "words=300") throws
    -> Harness.Result
  {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url(knobs))' J=4 CALL_FLAGS='--cache \(scratch)/cache --retries 0' doc PLAN='\(plan)' \(extra)"
    )
  }

  /// The section titles asked for since `before` requests.
  func asked(_ stub: Stub, since before: Int) throws -> Set<String> {
    let spans = try stub.stats()["spans"] as? [[Any]] ?? []
    return Set(
      spans.dropFirst(before).compactMap { span in
        (span[2] as? String)?.components(separatedBy: "\"").dropFirst().first
      })
  }

  func edit(_ path: String, _ change: (String) -> String) throws {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let changed = change(text)
    #expect(changed != text, "the edit of \(path) changed nothing")
    try changed.write(toFile: path, atomically: true, encoding: .utf8)
  }

  static let all: Set<String> = [
    "Problem Statement", "Goals and Objectives", "Target Users", "Proposed Solution",
    "Functional Requirements", "Non-Functional Requirements", "Technical Considerations",
    "Success Metrics", "Timeline and Milestones", "Risks and Mitigations", "Appendix",
    "Executive Summary",
  ]
  static let stage2: Set<String> = [
    "Functional Requirements", "Non-Functional Requirements", "Technical Considerations",
    "Success Metrics", "Timeline and Milestones", "Risks and Mitigations", "Appendix",
  ]

  @Test func eachKindOfChangeAsksForExactlyWhatItAffects() throws {
    try copyPRD()
    let stub = try Stub()
    // Each row: a change, then the sections the next `make doc` must ask for, no more, no fewer.
    let rows: [(String, () throws -> Void, Set<String>)] = [
      ("the first run", {}, Self.all),
      ("nothing", {}, []),
      (
        "one section's template",
        {
          try edit(prompts + "/appendix.mustache") { $0 + "\nList the glossary first.\n" }
        }, ["Appendix", "Executive Summary"]
      ),
      (
        "one section's description",
        {
          try edit(plan) {
            $0.replacingOccurrences(
              of: "How we will know the release worked", with: "How we will know that it worked")
          }
        }, ["Success Metrics", "Executive Summary"]
      ),
      (
        "an llm setting of stage 2 (the answers come out the same: the cascade stops)",
        {
          try edit(plan) {
            $0.replacingOccurrences(of: #""temperature": 0.6"#, with: #""temperature": 0.5"#)
          }
        }, Self.stage2
      ),
      (
        "the summary's format rule",
        {
          try edit(plan) {
            $0.replacingOccurrences(of: #""max_words": 350"#, with: #""max_words": 380"#)
          }
        }, ["Executive Summary"]
      ),
      (
        "an input file",
        {
          try edit(scratch + "/prd/requirements.md") { $0 + "\nThe budget is two engineers.\n" }
        }, Self.all
      ),
      (
        "the shared context",
        {
          try edit(prompts + "/shared_context.mustache") { $0 + "\nWrite in British English.\n" }
        }, Self.all
      ),
      (
        "a partial every section uses",
        {
          try edit(prompts + "/section_frame.mustache") { $0 + "\nNo tables.\n" }
        }, Self.all
      ),
      (
        "a touch that changes no content",
        {
          let result = try Harness.run(
            "touch '\(plan)' '\(scratch)/prd/requirements.md' '\(prompts)'/*")
          #expect(result.status == 0)
        }, []
      ),
      (
        "a person edits the appendix",
        {
          try "A glossary written by a person.\n".write(
            toFile: sections + "/appendix.md", atomically: true, encoding: .utf8)
        }, ["Executive Summary"]
      ),
    ]
    for (change, apply, expected) in rows {
      try apply()
      let before = try stub.requests()
      let run = try makeDoc(stub)
      #expect(run.status == 0, "\(change): \(run.err)")
      let got = try asked(stub, since: before)
      #expect(
        got == expected, "\(change): asked for \(got.sorted()), expected \(expected.sorted())")
      #expect(try stub.requests() - before == expected.count, "\(change): a section asked twice")
    }
    // The appendix stays the person's, and the next run asks nothing.
    let before = try stub.requests()
    #expect(try makeDoc(stub).status == 0)
    #expect(try stub.requests() == before)
  }

  @Test func aModelGivenInCallFlagsIsPartOfWhatASectionIsBuiltFrom() throws {
    try copyPRD()
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    let other = "CALL_FLAGS='--model other --cache \(scratch)/cache --retries 0'"
    // Status judges by the flags given now: every section would be asked of another model.
    let status = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' status DOC=prd \(other)"
    )
    #expect(status.status == 0, "\(status.err)")
    let stale = status.out.split(separator: "\n").filter { $0.contains("stale: the llm settings") }
    #expect(stale.count == 12, "\(status.out)")
    #expect(status.out.contains("next make doc: 12 requests"), "\(status.out)")
    // Without them, the run's own settings: nothing is stale.
    let same = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' status DOC=prd"
    )
    #expect(same.out.contains("next make doc: 0 requests"), "\(same.out)")
    // make doc with the other model asks for every section, once; then nothing.
    var before = try stub.requests()
    let run = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300"))' J=4 \(other) doc PLAN='\(plan)'"
    )
    #expect(run.status == 0, "\(run.err)")
    #expect(try asked(stub, since: before) == Self.all)
    #expect(try stub.requests() - before == 12)
    let record = try String(contentsOfFile: sections + "/appendix.json", encoding: .utf8)
    #expect(record.contains(#""model":"other""#), "\(record)")
    before = try stub.requests()
    #expect(
      try Harness.run(
        "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
          + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300"))' J=4 \(other) doc PLAN='\(plan)'"
      ).status == 0)
    #expect(try stub.requests() == before)
  }

  @Test func aContextSectionThatFailedAndCompletesLaterRedoesItsUsers() throws {
    try copyPRD()
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    // The appendix fails on its next build (its template changed; the server faults).
    try stub.setKnobs("failfor=Write%20the%20%22Appendix%22:500")
    try edit(prompts + "/appendix.mustache") { $0 + "\nKeep it short.\n" }
    var before = try stub.requests()
    let broken = try makeDoc(stub)
    #expect(broken.status != 0)
    // The summary is written from what exists (without the appendix).
    #expect(try asked(stub, since: before) == ["Appendix", "Executive Summary"])
    let status = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' status DOC=prd"
    )
    #expect(status.out.contains("✗ appendix"), "\(status.out)")
    #expect(status.out.contains("next make doc: 1 request"), "\(status.out)")
    // The fault is gone: the appendix, and the summary that can now use it.
    try stub.setKnobs("")
    before = try stub.requests()
    #expect(try makeDoc(stub).status == 0)
    #expect(try asked(stub, since: before) == ["Appendix", "Executive Summary"])
  }

  @Test func statusSaysWhatIsStaleAndWhyAndWhatTheNextRunCosts() throws {
    try copyPRD()
    let stub = try Stub()
    try Harness.write(
      #"{"stub": {"input": 3, "output": 15, "cached_input": 0.3}}"#, to: scratch + "/prices.json")
    #expect(try makeDoc(stub, "PRICES='\(scratch)/prices.json'").status == 0)
    try edit(prompts + "/appendix.mustache") { $0 + "\nOne more rule.\n" }
    let status = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PRICES='\(scratch)/prices.json' status DOC=prd"
    )
    #expect(status.status == 0, "\(status.err)")
    let appendix = try #require(status.out.split(separator: "\n").first { $0.contains("appendix") })
    #expect(appendix.contains("stale: template"), "\(appendix)")
    #expect(appendix.contains("appendix.mustache changed"), "\(appendix)")
    #expect(status.out.contains("next make doc: 1 request, about $"), "\(status.out)")
    #expect(
      status.out.contains("then, if their content changes: executive_summary"), "\(status.out)")
    // The summary has the cost of every section.
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: scratch + "/runs/prd/summary.json")))
      as? [String: Any]
    let totals = summary?["totals"] as? [String: Any]
    let sections = summary?["sections"] as? [[String: Any]] ?? []
    let sum = sections.compactMap { $0["cost"] as? Double }.reduce(0, +)
    #expect(sections.allSatisfy { $0["cost"] is Double })
    #expect(abs((totals?["cost"] as? Double ?? -1) - sum) < 1e-6)
    // Checking asked for nothing.
    #expect(try stub.requests() == 12)
  }

  @Test func bothModesInOneRunDirectory() throws {
    try copyPRD()
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    var before = try stub.requests()
    #expect(try makeDoc(stub, "MODE=draft").status == 0)
    let draft = try String(contentsOfFile: scratch + "/runs/prd/prd.md", encoding: .utf8)
    let headings = draft.split(separator: "\n").filter { $0.hasPrefix("## ") }
    #expect(headings.count == 7, "only the draft's sections: \(headings)")
    #expect(!draft.contains("## Appendix"))
    let summary = try String(contentsOfFile: scratch + "/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""sections":7"#), "\(summary)")
    #expect(try stub.requests() > before)
    // Back to detailed, then to draft again: every answer is there already.
    before = try stub.requests()
    #expect(try makeDoc(stub, "MODE=detailed").status == 0)
    #expect(try makeDoc(stub, "MODE=draft").status == 0)
    #expect(try stub.requests() == before, "switching back pays nothing")
    #expect(FileManager.default.fileExists(atPath: sections + "/appendix.json"), "kept")
  }

  @Test func twoRunsOfOneDocumentTakeTurns() throws {
    try copyPRD()
    let stub = try Stub()
    let command =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300,ttfb=0.1"))' J=4 CALL_FLAGS='--cache \(scratch)/cache' doc PLAN='\(plan)'"
    let both = try Harness.run(
      "(\(command) > '\(scratch)/a.log' 2>&1; echo $? > '\(scratch)/a.rc') & (\(command) > '\(scratch)/b.log' 2>&1; echo $? > '\(scratch)/b.rc') & wait"
    )
    #expect(both.status == 0)
    let logs = try ["a", "b"].map {
      try String(contentsOfFile: "\(scratch)/\($0).log", encoding: .utf8)
    }
    for name in ["a", "b"] {
      let code = try String(contentsOfFile: "\(scratch)/\(name).rc", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
      #expect(code == "0", "\(name): \(logs)")
    }
    #expect(try stub.requests() == 12, "never two requests for one section")
    #expect(logs.contains { $0.contains("is in use by another run") && $0.contains("waiting") })
  }

  @Test func theLockDiesWithItsHolder() throws {
    try copyPRD()
    let stub = try Stub()
    // A run killed with -9 while it works: the next one starts at once and finishes the document.
    let started = try Harness.run(
      "setsid make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300,ttfb=3"))' J=4 CALL_FLAGS='--cache \(scratch)/cache' doc PLAN='\(plan)' > /dev/null 2>&1 & pid=$!; sleep 1; kill -9 -- -$pid; wait; echo killed"
    )
    #expect(started.out.contains("killed"))
    let begin = Date()
    let run = try makeDoc(stub)
    #expect(run.status == 0, "\(run.err)")
    #expect(!run.err.contains("in use by another run"), "\(run.err)")
    #expect(Date().timeIntervalSince(begin) < 60)
  }

  @Test func aBudgetStopsNewRequestsAndSaysWhich() throws {
    try copyPRD()
    let stub = try Stub()
    try Harness.write(#"{"stub": {"input": 3, "output": 15}}"#, to: scratch + "/prices.json")
    // Each request costs about a cent and is reserved at three (its max_tokens): ten cents.
    let run = try makeDoc(stub, "PRICES='\(scratch)/prices.json' BUDGET=0.1 J=1")
    #expect(run.status != 0)
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: scratch + "/runs/prd/summary.json")))
      as? [String: Any]
    let totals = summary?["totals"] as? [String: Any]
    #expect((totals?["cost"] as? Double ?? 1) <= 0.1)
    #expect((totals?["completed"] as? Int ?? 0) >= 3)
    let sections = summary?["sections"] as? [[String: Any]] ?? []
    let skipped = sections.filter {
      ($0["error"] as? [String: Any])?["type"] as? String == "quota"
    }
    #expect(!skipped.isEmpty)
    #expect(skipped.allSatisfy { $0["status"] as? String == "skipped" })
    let hint = (skipped.first?["error"] as? [String: Any])?["hint"] as? String ?? ""
    #expect(hint.contains("BUDGET"), "\(hint)")
    #expect(try stub.requests() == sections.filter { $0["status"] as? String == "completed" }.count)
    // The summary of the document is not paid for when what it summarises was not written.
    let executive = sections.first { $0["id"] as? String == "executive_summary" }
    #expect(executive?["status"] as? String == "skipped")
    #expect((executive?["error"] as? [String: Any])?["type"] as? String == "dependency_failed")
  }

  @Test func regenerateKeepsTheNoteTheChoiceAndThePreviousVersion() throws {
    try copyPRD()
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    let regen =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300"))' J=4 CALL_FLAGS='--cache \(scratch)/cache' regen DOC=prd"
    // DRY=1 lists and asks nothing.
    var before = try stub.requests()
    let dry = try Harness.run("\(regen) SECTION=proposed_solution CASCADE=appendix DRY=1")
    #expect(dry.status == 0, "\(dry.err)")
    #expect(dry.out.contains("would ask: proposed_solution"), "\(dry.out)")
    #expect(dry.out.contains("would ask: appendix"), "\(dry.out)")
    #expect(dry.out.contains("next make doc: 2 requests"), "\(dry.out)")
    #expect(try stub.requests() == before)
    // The chosen sections only; the note stays through a later cascade from upstream.
    let chosen = try Harness.run(
      "\(regen) SECTION=proposed_solution CASCADE=appendix NOTE='name the two key screens'")
    #expect(chosen.status == 0, "\(chosen.err)")
    // Exactly the chosen ones: every other section that uses the proposed solution, directly or
    // not (the summary included), keeps its text.
    let asked = try self.asked(stub, since: before)
    #expect(asked == ["Proposed Solution", "Appendix"], "\(asked)")
    let record =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: sections + "/proposed_solution.json")))
      as? [String: Any]
    #expect(record?["instructions"] as? String == "name the two key screens")
    before = try stub.requests()
    try edit(prompts + "/section_frame.mustache") { $0 + "\nBe brief.\n" }
    #expect(try makeDoc(stub).status == 0)
    let again =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: sections + "/proposed_solution.json")))
      as? [String: Any]
    #expect(again?["instructions"] as? String == "name the two key screens", "the note stays")
    // The versions it replaced are kept and can be restored.
    let versions = try Harness.run(
      "\(Harness.products.path)/sheaf-run versions --run '\(scratch)/runs/prd' proposed_solution")
    #expect(versions.out.split(separator: "\n").count == 3, "\(versions.out)")
    let restore = try Harness.run(
      "\(Harness.products.path)/sheaf-run restore --run '\(scratch)/runs/prd' proposed_solution 1")
    #expect(restore.status == 0, "\(restore.err)")
    let first = try Harness.run("cat '\(scratch)/runs/prd/versions/proposed_solution/1.md'")
    let now = try String(contentsOfFile: sections + "/proposed_solution.md", encoding: .utf8)
    #expect(
      now.trimmingCharacters(in: .whitespacesAndNewlines)
        == first.out.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  @Test func onlyBuildsTheSelectionAndWhatItNeeds() throws {
    try copyPRD()
    let stub = try Stub()
    let run = try makeDoc(stub, "ONLY=goals_objectives")
    // What was asked completed: success, and the rest of the document is said not ready.
    #expect(run.status == 0, "\(run.err)")
    #expect(run.out.contains("the rest of the document is not ready (partial)"), "\(run.out)")
    #expect(try asked(stub, since: 0) == ["Problem Statement", "Goals and Objectives"])
    let empty = try makeDoc(stub, "ONLY=")
    #expect(empty.status != 0)
    #expect(empty.err.contains("ONLY: the selection is empty"), "\(empty.err)")
    let unknown = try makeDoc(stub, "ONLY=goals")
    #expect(unknown.err.contains("ONLY: unknown section 'goals'"), "\(unknown.err)")
    #expect(try stub.requests() == 2, "a refused selection asks nothing")
    // A selection leaves the rest of the document as it is, even what is stale.
    #expect(try makeDoc(stub).status == 0)
    try edit(prompts + "/appendix.mustache") { $0 + "\nOne more rule.\n" }
    let before = try stub.requests()
    let selected = try makeDoc(stub, "ONLY=problem_statement")
    #expect(selected.status == 0, "\(selected.err)")
    #expect(try stub.requests() == before, "the selection is up to date")
    #expect(FileManager.default.fileExists(atPath: sections + "/appendix.json"), "not cleared")
    #expect(try asked(stub, since: before).isEmpty)
  }

  @Test func pauseThenResumeAndNotify() throws {
    try copyPRD()
    let stub = try Stub()
    // A slow run, paused while its first section is being written.
    let command =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300,ttfb=1.5"))' J=1 CALL_FLAGS='--cache \(scratch)/cache' doc PLAN='\(plan)'"
    let paused = try Harness.run(
      "(\(command) > '\(scratch)/run.log' 2>&1; echo $? > '\(scratch)/run.rc') & sleep 1; \(Harness.products.path)/sheaf-run pause --run '\(scratch)/runs/prd'; wait"
    )
    #expect(paused.err.contains("paused"), "\(paused.err)")
    let statuses = try FileManager.default
      .contentsOfDirectory(atPath: sections).filter { $0.hasSuffix(".json") }.map { name in
        let data = try Data(contentsOf: URL(fileURLWithPath: sections + "/" + name))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["status"]
          as? String
          ?? "?"
      }
    #expect(statuses.contains("completed"), "the section under way finished: \(statuses)")
    #expect(statuses.contains("paused"), "no new section started: \(statuses)")
    #expect(!statuses.contains("cancelled"), "a pause is not a cancel: \(statuses)")
    let summary = try String(contentsOfFile: "\(scratch)/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains("\"status\":\"paused\""), "\(summary.prefix(200))")
    let status = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' status DOC=prd"
    )
    #expect(status.out.contains("stage 1 of 3"), "\(status.out)")
    #expect(status.out.contains(" paused"), "\(status.out)")
    // make doc resumes, pays nothing twice, and says how it ended.
    let before = try stub.requests()
    let resumed = try Harness.run(
      command + " NOTIFY='echo \"$SHEAF_DOC $SHEAF_DOC_STATUS\" > \(scratch)/notified'")
    #expect(resumed.status == 0, "\(resumed.err)")
    #expect(try stub.requests() - before == 12 - statuses.filter { $0 == "completed" }.count)
    let notified = try String(contentsOfFile: scratch + "/notified", encoding: .utf8)
    #expect(notified == "prd ready\n")
  }
}
