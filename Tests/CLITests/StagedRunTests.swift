import Foundation
import Testing

/// Staged runs as people run them: real make over pipelines/sheaf.mk, the built tools, and the
/// stub server as the provider.
struct StagedRunTests {
  let scratch = Harness.scratch("staged")

  static let stage1 = [
    "Problem Statement", "Goals and Objectives", "Target Users", "Proposed Solution",
  ]
  static let stage2 = [
    "Functional Requirements", "Non-Functional Requirements", "Technical Considerations",
    "Success Metrics",
    "Timeline and Milestones", "Risks and Mitigations", "Appendix",
  ]

  /// `make …` with the stub as the provider; `target` and extra variables after it.
  func make(_ target: String, url: String, _ extra: String = "", runs: String? = nil, j: Int = 8)
    throws -> Harness.Result
  {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(runs ?? scratch + "/runs") "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(url)' J=\(j) CALL_FLAGS='--cache \(scratch)/cache --retry-base 0.05 --retries 0' \(target) \(extra)"
    )
  }

  /// The section title of each request the stub answered, with its start and end.
  func requests(_ stub: Stub) throws -> [(title: String, start: Double, end: Double)] {
    (try stub.stats()["spans"] as? [[Any]] ?? []).compactMap { span in
      guard let start = span[0] as? Double, let end = span[1] as? Double,
        let line = span[2] as? String
      else { return nil }
      let title = line.components(separatedBy: "\"").dropFirst().first ?? line
      return (title, start, end)
    }.sorted { $0.start < $1.start }
  }

  func record(_ id: String, runs: String? = nil) throws -> [String: Any] {
    let data = try Data(
      contentsOf: URL(fileURLWithPath: "\(runs ?? scratch + "/runs")/prd/sections/\(id).json"))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  @Test func sectionsStartAsSoonAsTheirDependenciesAreDone() throws {
    let stub = try Stub()
    let result = try make("doc PLAN=pipelines/prd/plan.json", url: stub.url("ttfb=0.4,words=300"))
    #expect(result.status == 0, "\(result.err)")
    let spans = try requests(stub)
    #expect(spans.count == 12)
    func span(_ title: String) throws -> (title: String, start: Double, end: Double) {
      try #require(spans.first { $0.title == title }, "no request for \(title)")
    }
    // Stage 1 runs in sequence, each after the one before.
    for (earlier, later) in zip(Self.stage1, Self.stage1.dropFirst()) {
      #expect(try span(later).start >= span(earlier).end, "\(later) overlapped \(earlier)")
    }
    // Stage 2 starts after the proposed solution, and its sections overlap each other.
    let second = try Self.stage2.map(span)
    #expect(try second.allSatisfy { try $0.start >= span("Proposed Solution").end })
    let overlapping = second.filter { a in
      second.contains { b in b.title != a.title && b.start < a.end && a.start < b.end }
    }
    #expect(overlapping.count >= 2, "stage 2 ran in sequence")
    // The executive summary sees everything, so it starts last.
    #expect(
      try spans.filter { $0.title != "Executive Summary" }.allSatisfy {
        try $0.end <= span("Executive Summary").start
      })
    let summary = try String(contentsOfFile: "\(scratch)/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""status":"ready""#))
  }

  /// The shipped PRD plan with `on_dependency_failure` set to `policy` for the whole plan.
  func prdPlan(policy: String) throws -> String {
    let folder = scratch + "/prd-\(policy)"
    let plan = try String(
      contentsOfFile: Harness.root.appendingPathComponent("pipelines/prd/plan.json").path,
      encoding: .utf8)
    try Harness.write(
      plan.replacingOccurrences(
        of: #""on_dependency_failure": "continue""#, with: #""on_dependency_failure": "\#(policy)""#
      ),
      to: folder + "/plan.json")
    try Harness.write(
      try String(
        contentsOfFile: Harness.root.appendingPathComponent("pipelines/prd/requirements.md").path,
        encoding: .utf8),
      to: folder + "/requirements.md")
    return folder + "/plan.json"
  }

  @Test func aFailingSectionSkipsItsDependentsAndARerunRetriesExactlyThose() throws {
    let stub = try Stub()
    let plan = try prdPlan(policy: "skip")
    // The fault is injected without changing the base URL (which is part of what a section is
    // built from).
    try stub.setKnobs("failfor=Goals%20and%20Objectives:400")
    let broken = try make("doc PLAN=\(plan)", url: stub.url("words=300"))
    #expect(broken.status != 0, "make fails when the document is not ready")
    #expect(try record("problem_statement")["status"] as? String == "completed")
    #expect(try record("goals_objectives")["status"] as? String == "failed")
    let skipped = [
      "target_users", "proposed_solution", "functional_requirements", "non_functional_requirements",
      "technical_considerations", "success_metrics", "timeline_milestones", "risks_mitigations",
      "appendix",
    ]
    for id in skipped {
      let saved = try record(id)
      #expect(saved["status"] as? String == "skipped", "\(id)")
      #expect((saved["error"] as? [String: Any])?["type"] as? String == "dependency_failed")
    }
    #expect(
      try record("executive_summary")["status"] as? String == "completed",
      "a context dependency goes on without it")
    let summary = try String(contentsOfFile: "\(scratch)/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""status":"partial""#))
    let document = try String(contentsOfFile: "\(scratch)/runs/prd/prd.md", encoding: .utf8)
    #expect(document.contains("> **Not generated** (failed, bad_request)"))
    let status = try make("status DOC=prd", url: "")
    #expect(
      status.out.contains("✗ goals_objectives") && status.out.contains("⊘ target_users")
        && status.out.contains("document partial"))

    // The fault is fixed: only the failed and skipped sections are asked for.
    let before = try requests(stub).count
    try stub.setKnobs("")
    let fixed = try make("doc PLAN=\(plan)", url: stub.url("words=300"))
    #expect(fixed.status == 0, "\(fixed.err)")
    let asked = Set(try requests(stub).dropFirst(before).map(\.title))
    // The summary was written without them: now that they exist, it is written again.
    #expect(
      asked
        == Set(
          ["Goals and Objectives"] + Self.stage1.dropFirst(2) + Self.stage2 + ["Executive Summary"])
    )
  }

  @Test func regenerateWithAndWithoutCascade() throws {
    let stub = try Stub()
    let url = stub.url("words=300")
    #expect(try make("doc PLAN=pipelines/prd/plan.json", url: url).status == 0)
    let untouched = "\(scratch)/runs/prd/sections/problem_statement.json"
    let stamp =
      try FileManager.default.attributesOfItem(atPath: untouched)[.modificationDate] as? Date
    var before = try requests(stub).count
    let cascade = try make(
      "regen DOC=prd SECTION=proposed_solution", url: url, "NOTE='focus on scalability'")
    #expect(cascade.status == 0, "\(cascade.err)")
    #expect(
      Set(try requests(stub).dropFirst(before).map(\.title))
        == Set(["Proposed Solution"] + Self.stage2 + ["Executive Summary"]))
    #expect(
      cascade.err.contains(
        "regenerating proposed_solution and functional_requirements"))
    let messages = try record("proposed_solution")["messages"] as? [[String: Any]]
    #expect(
      (messages?.last?["content"] as? String)?.contains(
        "Extra instructions for this version: focus on scalability") == true)
    #expect(
      try FileManager.default.attributesOfItem(atPath: untouched)[.modificationDate] as? Date
        == stamp)
    before = try requests(stub).count
    let alone = try make("regen DOC=prd SECTION=target_users", url: url, "CASCADE=no")
    #expect(alone.status == 0)
    #expect(
      try requests(stub).dropFirst(before).map(\.title) == ["Target Users"], "\(alone.err)")
  }

  @Test func aPersonsEditSurvivesIsMarkedAndReachesItsDependents() throws {
    let stub = try Stub()
    let url = stub.url("words=300")
    #expect(try make("doc PLAN=pipelines/prd/plan.json", url: url).status == 0)
    try "A person wrote the goals: cut replanning time in half by Q3.\n".write(
      toFile: "\(scratch)/runs/prd/sections/goals_objectives.md", atomically: true, encoding: .utf8)
    let before = try requests(stub).count
    let again = try make("doc PLAN=pipelines/prd/plan.json", url: url)
    #expect(again.status == 0, "\(again.err)")
    let goals = try record("goals_objectives")
    #expect(goals["source"] as? String == "human")
    #expect(
      goals["content"] as? String == "A person wrote the goals: cut replanning time in half by Q3.")
    let asked = try requests(stub).dropFirst(before).map(\.title)
    #expect(
      !asked.contains("Goals and Objectives") && asked.contains("Target Users")
        && !asked.contains("Problem Statement"))
    let users = try record("target_users")["messages"] as? [[String: Any]]
    #expect(
      (users?.last?["content"] as? String)?.contains("cut replanning time in half by Q3") == true)
    let document = try String(contentsOfFile: "\(scratch)/runs/prd/prd.md", encoding: .utf8)
    #expect(document.contains("A person wrote the goals"))
    // A later run keeps it too, and asks for nothing.
    let count = try requests(stub).count
    #expect(try make("doc PLAN=pipelines/prd/plan.json", url: url).status == 0)
    #expect(try requests(stub).count == count)
    #expect(
      try String(
        contentsOfFile: "\(scratch)/runs/prd/sections/goals_objectives.md", encoding: .utf8
      ).hasPrefix("A person wrote"))
  }

  @Test func killedAtAnyMomentAResumeGivesTheSameDocumentAndPaysForNothingTwice() throws {
    let reference = try Stub()
    let knobs = "ttfb=0.3,words=300"
    #expect(
      try make(
        "doc PLAN=pipelines/prd/plan.json", url: reference.url(knobs), runs: "\(scratch)/a", j: 4
      ).status == 0)
    let expected = try String(contentsOfFile: "\(scratch)/a/prd/prd.md", encoding: .utf8)

    let stub = try Stub()
    let runs = "\(scratch)/b"
    var finishedBefore: [Set<String>] = []
    var requestsBefore: [Int] = []
    for delay in ["0.8", "1.9", "3.1"] {
      // make and every child in one process group, killed with SIGKILL mid-run.
      let command =
        "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(runs) PROVIDER=openai MODEL=stub BASE_URL='\(stub.url(knobs))' J=4 CALL_FLAGS='--cache \(scratch)/cache-b --retries 0' doc PLAN=pipelines/prd/plan.json"
      _ = try Harness.run(
        "set -m; (\(command)) >/dev/null 2>&1 & pid=$!; sleep \(delay); kill -9 -- -$pid; wait $pid 2>/dev/null; sleep 0.3; true"
      )
      let sections =
        (try? FileManager.default.contentsOfDirectory(atPath: "\(runs)/prd/sections")) ?? []
      for name in sections where name.hasSuffix(".json") {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(runs)/prd/sections/\(name)"))
        #expect((try? JSONSerialization.jsonObject(with: data)) != nil, "\(name) is whole")
      }
      let done = Set(
        try sections.filter { $0.hasSuffix(".json") }.compactMap { name -> String? in
          let saved =
            try JSONSerialization.jsonObject(
              with: Data(contentsOf: URL(fileURLWithPath: "\(runs)/prd/sections/\(name)")))
            as? [String: Any]
          return saved?["status"] as? String == "completed" ? saved?["title"] as? String : nil
        })
      finishedBefore.append(done)
      requestsBefore.append(try requests(stub).count)
    }
    let resumed = try make(
      "doc PLAN=pipelines/prd/plan.json", url: stub.url(knobs), runs: runs, j: 4)
    #expect(resumed.status == 0, "\(resumed.err)")
    #expect(
      try String(contentsOfFile: "\(runs)/prd/prd.md", encoding: .utf8) == expected,
      "the resumed document is the uninterrupted one")
    let all = try requests(stub)
    for (index, finished) in finishedBefore.enumerated() {
      let later = all.dropFirst(requestsBefore[index]).map(\.title)
      #expect(
        Set(later).isDisjoint(with: finished),
        "asked again for a finished section: \(Set(later).intersection(finished))")
    }
    #expect(finishedBefore.last?.isEmpty == false, "the kills came after some sections finished")
  }
}
