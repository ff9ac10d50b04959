import Foundation
import Testing

/// A run that tells the truth (issue 23): against the stub, with real make and the built tools.
struct TruthfulRunTests {
  let scratch = Harness.scratch("truthful")

  /// `make …` with the stub as the provider.
  func make(_ target: String, url: String, j: Int = 4, _ extra: String = "") throws
    -> Harness.Result
  {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(url)' J=\(j) CALL_FLAGS='--no-cache --retries 0' \(target) \(extra)"
    )
  }

  /// The events of the PRD's run.
  func events() throws -> [[String: Any]] {
    lines(try String(contentsOfFile: "\(scratch)/runs/prd/events.ndjson", encoding: .utf8))
  }

  @Test func theETAAfterAQuarterOfTheRunIsWithinThirtyPercentOfTheTimeLeft() throws {
    let stub = try Stub()
    let result = try make(
      "doc PLAN=pipelines/prd/plan.json", url: stub.url("ttfb=1,tps=150,words=300"))
    #expect(result.status == 0, "\(result.err)")
    let events = try events()
    func time(_ event: [String: Any]) -> Double? {
      (event["ts"] as? String).flatMap { ISO8601DateFormatter.withFraction.date(from: $0) }?
        .timeIntervalSince1970
    }
    guard
      let start = events.first(where: { $0["phase"] as? String == "INIT" }).flatMap(time),
      let end = events.last(where: { $0["event"] as? String == "section_complete" }).flatMap(time)
    else {
      Issue.record("no start or end in the events")
      return
    }
    let quarter = start + (end - start) / 4
    let estimate = events.first { event in
      event["event"] as? String == "progress" && event["eta_s"] is Double
        && (time(event) ?? 0) >= quarter
    }
    guard let estimate, let at = time(estimate), let eta = estimate["eta_s"] as? Double else {
      Issue.record("no ETA after a quarter of the run")
      return
    }
    let left = end - at
    #expect(abs(eta - left) <= 0.3 * left, "ETA \(eta) s with \(left) s left")
  }
}

/// The cause where people look, and every request in the books (issue 23).
struct CauseAndBooksTests {
  let scratch = Harness.scratch("cause")

  /// A plan whose template for the second section misspells a name it reaches only with
  /// context (so the checks before the run cannot see it): one section fails at run time.
  func writeTiny() throws {
    try Harness.write(
      """
      {"id": "tiny", "title": "Tiny", "prompt_set": "mine", "llm": {"provider": "offline"},
       "sections": [{"id": "a", "title": "A", "description": "The first."},
                    {"id": "b", "title": "B", "description": "The second.", "depends_on": ["a"]}]}
      """, to: "\(scratch)/tiny/plan.json")
    try Harness.write(
      "You write {{doc.title}}.\n", to: "\(scratch)/tiny/prompts/mine/shared_context.mustache")
    try Harness.write(
      "Write the section {{section.title}}.\n\nBefore it:\n{{#context}}{{titel}}{{/context}}\n",
      to: "\(scratch)/tiny/prompts/mine/default.mustache")
  }

  @Test func aTemplatesMistakeIsNamedWithItsFileAndLineEverywhere() throws {
    try writeTiny()
    let made = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs doc PLAN=\(scratch)/tiny/plan.json"
    )
    #expect(made.status != 0)
    let cause = "default.mustache:4: no variable 'titel'"
    #expect(made.err.contains(cause), "make doc's end: \(made.err)")
    let status = try Harness.run("sheaf-run status --run \(scratch)/runs/tiny")
    #expect(status.out.contains(cause), "status: \(status.out)")
    let document = try String(contentsOfFile: "\(scratch)/runs/tiny/tiny.md", encoding: .utf8)
    #expect(document.contains(cause), "the placeholder: \(document)")
  }

  @Test func aMistakeTheChecksSeeStopsTheRunBeforeItAsks() throws {
    try writeTiny()
    try Harness.write(
      "Write {{section.titel}}.\n", to: "\(scratch)/tiny/prompts/mine/default.mustache")
    let made = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs doc PLAN=\(scratch)/tiny/plan.json"
    )
    #expect(made.status == 2)
    #expect(made.err.contains("default.mustache:1: no variable 'section.titel'"), "\(made.err)")
    #expect(made.err.contains("nothing was asked"))
    #expect(!FileManager.default.fileExists(atPath: "\(scratch)/runs/tiny/sections/a.json"))
  }

  @Test func cachedAndWrittenTokensAreSummedInTheSummaryAndStatus() throws {
    let stub = try Stub()
    let made = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs PROVIDER=anthropic MODEL=stub ANTHROPIC_API_KEY=k BASE_URL='\(stub.url("cached=100,written=7,words=300", openai: false))' J=4 CALL_FLAGS='--no-cache' doc PLAN=pipelines/prd/plan.json"
    )
    #expect(made.status == 0, "\(made.err)")
    let summary = objects(
      try String(contentsOfFile: "\(scratch)/runs/prd/summary.json", encoding: .utf8)
    ).first
    let totals = summary?["totals"] as? [String: Any]
    #expect(totals?["cached_input_tokens"] as? Int == 1_200, "\(totals ?? [:])")
    #expect(totals?["cache_write_tokens"] as? Int == 84)
    let status = try Harness.run("sheaf-run status --run \(scratch)/runs/prd")
    #expect(status.out.contains("(1200 of them cached, 84 written to the cache)"), "\(status.out)")
  }

  @Test func everyRequestTheStubAnsweredIsAnAttemptEvent() throws {
    let stub = try Stub()
    // First asks too short for the PRD's formats: every section is asked again.
    let made = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("first_words=20,words=300"))' J=4 CALL_FLAGS='--no-cache --retries 0' doc PLAN=pipelines/prd/plan.json"
    )
    #expect(made.status == 0, "\(made.err)")
    let events = lines(
      try String(contentsOfFile: "\(scratch)/runs/prd/events.ndjson", encoding: .utf8))
    let attempts = events.filter { $0["event"] as? String == "attempt" }
    #expect(attempts.count == (try stub.requests()), "one attempt event per request")
    #expect(attempts.count >= 24, "each section asked twice: \(attempts.count)")
    #expect(attempts.allSatisfy { $0["http_status"] as? Int == 200 && $0["seconds"] is Double })
    // Where the time went, for a terminal user: valid SVG, a bar per request.
    let timeline = try Harness.run(
      "sheaf-run timeline --run \(scratch)/runs/prd > \(scratch)/timeline.svg && python3 -c \"import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(sum(1 for e in r.iter() if e.tag.endswith('rect') and e.get('class') == 'attempt'))\" \(scratch)/timeline.svg"
    )
    #expect(timeline.status == 0, "\(timeline.err)")
    #expect(Int(timeline.out.trimmingCharacters(in: .whitespacesAndNewlines)) == attempts.count)
    let svg = try String(contentsOfFile: "\(scratch)/timeline.svg", encoding: .utf8)
    #expect(svg.contains("#e90"), "an answer asked again is amber")
  }
}

/// Overlap judged the same way whatever J is (issue 23).
struct DeterministicOverlapTests {
  let scratch = Harness.scratch("overlap")

  /// The PRD against the stub with two parallel sections that always answer the same text: the
  /// status of each section.
  func statuses(j: Int, run: String) throws -> [String: String] {
    let stub = try Stub()
    let same = (0..<300).map { "point\($0)" }.joined(separator: " ")
    try stub.script([
      ("How we will know the release worked", [same]),
      ("The six months as milestones", [same]),
    ])
    let made = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/\(run) PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("ttfb=0.3,words=300"))' J=\(j) CALL_FLAGS='--no-cache --retries 0' doc PLAN=pipelines/prd/plan.json"
    )
    var found: [String: String] = [:]
    let folder = "\(scratch)/\(run)/prd/sections"
    for name in try FileManager.default.contentsOfDirectory(atPath: folder)
    where name.hasSuffix(".json") {
      let record = objects(try String(contentsOfFile: "\(folder)/\(name)", encoding: .utf8)).first
      found[record?["id"] as? String ?? name] = record?["status"] as? String
    }
    #expect(found.count == 12, "\(made.err)")
    return found
  }

  @Test func theSameAnswersGiveTheSameVerdictsAtJ1AndJ8() throws {
    let serial = try statuses(j: 1, run: "j1")
    #expect(serial["success_metrics"] == "completed", "the first of the two is judged first")
    #expect(serial["timeline_milestones"] == "failed", "the second repeats the first")
    for round in 1...2 {
      #expect(try statuses(j: 8, run: "j8-\(round)") == serial, "J=8, round \(round)")
    }
  }
}

/// Words that mean what they say (issue 23), with the offline provider.
struct ExactWordsTests {
  let scratch = Harness.scratch("words")

  func make(_ target: String, _ extra: String = "") throws -> Harness.Result {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs PROVIDER=offline \(target) \(extra)"
    )
  }

  @Test func statusCountsWhatCompletedAndWatchSaysWhatItSees() throws {
    let built = try make("doc PLAN=pipelines/prd/plan.json ONLY=problem_statement")
    #expect(built.status == 0, "\(built.err)")
    let status = try make("status DOC=prd")
    #expect(status.out.contains("1/12 completed, 11 pending"), "\(status.out)")
    #expect(!status.out.contains("%)"), "no percentage that counts what did not complete")
    let json = try Harness.run(
      "sheaf-run watch --run \(scratch)/runs/prd --json --timeout 1")
    let lines = objects(json.out)
    #expect(!lines.isEmpty)
    #expect(lines.allSatisfy { ($0["type"] as? String) != nil && ($0["ts"] as? String) != nil })
    #expect(lines.filter { $0["type"] as? String == "section" }.count == 12)
    let typo = try make("watch DOC=prdd")
    #expect(typo.status != 0)
    #expect(
      typo.err.contains("no run named 'prdd'") && typo.err.contains("there are: prd"), "\(typo.err)"
    )
  }

  @Test func theForecastCountsTheContinuityPassesRevisionRequests() throws {
    let dry = try make("doc PLAN=pipelines/book/plan.json", "DRY=1")
    #expect(dry.status == 0, "\(dry.err)")
    #expect(
      dry.out.contains("then the continuity pass of harmonize: up to 24 revision requests"),
      "\(dry.out.suffix(400))")
  }

  @Test func anEmptyOnlyIsAnErrorEverywhere() throws {
    let planned = try Harness.run("plan-sections --only '' pipelines/prd/plan.json")
    #expect(planned.status == 2)
    #expect(planned.err.contains("--only"), "\(planned.err)")
    let prepared = try Harness.run(
      "sheaf-run prepare --plan pipelines/prd/plan.json --runs \(scratch)/runs --only ','")
    #expect(prepared.status == 2, "\(prepared.err)")
    let made = try make("doc PLAN=pipelines/prd/plan.json", "ONLY=")
    #expect(made.status == 2, "\(made.err)")
  }

  @Test func aPlanNamedLikeACheckoutSetGetsTheDefaultSet() throws {
    try Harness.write(
      "# A guide\n\n## First\n\nAbout the first.\n\n## Second\n\nAbout the second.\n",
      to: "\(scratch)/outline.md")
    let built = try Harness.run("plan-sections \(scratch)/outline.md | build-prompt")
    #expect(built.status == 0, "\(built.err)")
    let records = objects(built.out).filter { $0["id"] != nil }
    #expect(records.count == 2)
    for record in records {
      let files = record["template_files"] as? [String] ?? []
      #expect(files.allSatisfy { !$0.contains("prompts/outline") }, "\(files)")
    }
  }

  @Test func aVersionSaysTheNoteItWasWrittenWith() throws {
    #expect(try make("doc PLAN=pipelines/prd/plan.json").status == 0)
    let regen = try make(
      "regen DOC=prd SECTION=goals_objectives", "NOTE='name the owners' CASCADE=no")
    #expect(regen.status == 0, "\(regen.err)")
    let versions = try Harness.run(
      "sheaf-run versions --run \(scratch)/runs/prd goals_objectives")
    let current = versions.out.split(separator: "\n").first { $0.hasPrefix("current") } ?? ""
    #expect(current.contains("note: \"name the owners\""), "\(versions.out)")
    #expect(
      versions.out.split(separator: "\n").first?.hasPrefix("1  20") == true, "\(versions.out)")
  }
}

extension ISO8601DateFormatter {
  /// The events' time format (milliseconds, UTC).
  nonisolated(unsafe) static let withFraction: ISO8601DateFormatter = {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter
  }()
}
