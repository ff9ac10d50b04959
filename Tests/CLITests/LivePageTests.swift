import Foundation
import Testing

/// The live page of a run (`make serve`, sheaf-run serve, sheaf-serve): its routes over real
/// HTTP, its guard, its event stream resumed with Last-Event-ID over a whole run, its actions
/// against `make regen`, and the page itself in headless Chromium during a staged run against
/// the stub.
@Suite(.serialized) struct LivePageTests {
  let scratch = Harness.scratch("page")
  var run: String { scratch + "/runs/prd" }

  /// make with the variables a person would give (before the target).
  func make(_ stub: Stub, knobs: String = "words=300", cache: Bool = true) -> String {
    "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
      + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url(knobs))' J=4 CALL_FLAGS='\(cache ? "--cache \(scratch)/cache" : "--no-cache") --retries 0'"
  }

  /// A second run of the whole document, paced, in the background (its sections cleared first).
  func again(_ stub: Stub, knobs: String) throws -> Process {
    let again = Process()
    again.executableURL = URL(fileURLWithPath: "/bin/bash")
    again.arguments = [
      "-c",
      "rm -rf '\(run)/sections' && \(make(stub, knobs: knobs, cache: false)) doc PLAN=pipelines/prd/plan.json >'\(scratch)/again.log' 2>&1",
    ]
    again.currentDirectoryURL = Harness.root
    try again.run()
    return again
  }

  func makeDoc(_ stub: Stub, knobs: String = "words=300", _ extra: String = "") throws
    -> Harness.Result
  {
    try Harness.run("\(make(stub, knobs: knobs)) doc PLAN=pipelines/prd/plan.json \(extra)")
  }

  func record(_ id: String) throws -> [String: Any] {
    try JSONSerialization.jsonObject(
      with: Data(contentsOf: URL(fileURLWithPath: "\(run)/sections/\(id).json")))
      as? [String: Any] ?? [:]
  }

  @Test func routesAnswerOnlyTheirOwnAddressAndActionsNeedTheToken() throws {
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    // What a model wrote is shown as text, never run as HTML.
    let edit = try Harness.run(
      "jq -c '.content = \"Intro.\\n\\n<script>alert(1)</script>\\n\\nAnd <img src=x onerror=alert(2)> too.\"' '\(run)/sections/appendix.json' > '\(scratch)/a' && mv '\(scratch)/a' '\(run)/sections/appendix.json'"
    )
    #expect(edit.status == 0, "\(edit.err)")
    let server = try PageServer(make: make(stub), doc: "prd", runs: scratch + "/runs")
    let page = try server.request("GET", "/")
    #expect(page.status == 200)
    #expect(page.headers.contains("content-security-policy: default-src 'none'; script-src 'self'"))
    #expect(!page.headers.contains("access-control-allow-origin"), "no CORS, ever")
    #expect(
      page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "\(page.body.suffix(3000))")
    #expect(!page.body.contains("<script>alert"))
    #expect(!page.body.contains("<img src=x"))
    let ids = try Harness.run("jq -r .id '\(run)'/plan.ndjson | grep -v null").out.split(
      separator: "\n")
    #expect(ids.count == 12)
    for id in ids { #expect(page.body.contains("id=\"s-\(id)\""), "\(id)") }
    #expect(try server.request("GET", "/api/section/appendix").body.contains("&lt;script&gt;"))
    // No path in a URL reaches the file system.
    for path in [
      "/api/section/..%2F..%2Frun.json", "/api/section/..", "/../run.json", "/runs/prd/run.json",
      "/page.js/../run.json", "/api/affected/%2Fetc%2Fpasswd",
    ] {
      let answer = try server.request("GET", path)
      #expect([404, 400].contains(answer.status), "\(path): \(answer.status)")
      #expect(!answer.body.contains("events_offset") && !answer.body.contains("root:"), "\(path)")
    }
    // An id past the end of the log (the run directory was made again): the viewer starts over.
    let beyond = try Harness.run(
      "curl -s --max-time 1 -H 'Last-Event-ID: 99999999999' '\(server.address)/events'; true")
    #expect(beyond.out.contains("event: reset"), "\(beyond.out.prefix(200))")
    let state = try server.request("GET", "/api/state").json
    #expect((state?["sections"] as? [[String: Any]])?.count == 12)
    #expect((state?["status"] as? String) == "ready")
    let affected = try server.request("GET", "/api/affected/goals_objectives").json
    let users = ((affected?["affected"] as? [[String: Any]]) ?? []).compactMap {
      $0["id"] as? String
    }
    #expect(users.contains("executive_summary"), "\(users)")
    for svg in ["/timeline.svg", "/graph.svg"] {
      let answer = try server.request("GET", svg)
      #expect(answer.status == 200 && answer.headers.contains("image/svg+xml"), "\(svg)")
      try Harness.write(answer.body, to: scratch + "/x.svg")
      let parsed = try Harness.run(
        "python3 -c 'import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' '\(scratch)/x.svg'"
      )
      #expect(parsed.status == 0, "\(svg): \(parsed.err)")
    }
    // The graph: a box per section, an arrow per use (depends_on and context).
    let graph = try server.request("GET", "/graph.svg").body
    let uses = try Harness.run(
      "jq -s '[.[] | select(.id) | ((.depends_on // []) + (.context // [])) | length] | add' '\(run)/plan.ndjson'"
    )
    let arrows = graph.components(separatedBy: "marker-end=").count - 1
    #expect(arrows == Int(uses.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1)
    #expect(graph.components(separatedBy: "class=\"node\"").count - 1 == 12)
    // Another name for this address (DNS rebinding) gets nothing.
    let rebound = try server.request("GET", "/api/state", headers: ["Host: sheaf.example.com"])
    #expect(rebound.status == 403)
    #expect(!rebound.body.contains("sections"))
    // An action without the token, or with another, changes nothing.
    let wrong: [[String]] = [[], ["X-Sheaf-Token: 0123"], ["X-Sheaf-Token: \(server.token)x"]]
    for headers in wrong {
      let refused = try server.request("POST", "/api/pause", headers: headers, body: "{}")
      #expect(refused.status == 403, "\(headers)")
      #expect(!FileManager.default.fileExists(atPath: run + "/.paused"))
    }
    let before = try stub.requests()
    let refused = try server.request(
      "POST", "/api/regen", body: #"{"section": "appendix", "note": "shorter"}"#)
    #expect(refused.status == 403)
    #expect(!FileManager.default.fileExists(atPath: run + "/notes/appendix.txt"))
    // From another site, even with the token: refused.
    let foreign = try server.request(
      "POST", "/api/pause", headers: ["Origin: http://sheaf.example.com"], body: "{}",
      withToken: true)
    #expect(foreign.status == 403)
    #expect(try stub.requests() == before)
    // With it: the same command as at a terminal.
    let paused = try server.request("POST", "/api/pause", body: "{}", withToken: true)
    #expect(paused.status == 200, "\(paused.body)")
    #expect(FileManager.default.fileExists(atPath: run + "/.paused"))
    let unknown = try server.request(
      "POST", "/api/regen", body: #"{"section": "nope"}"#, withToken: true)
    #expect(unknown.status == 404)
    let bad = try server.request("POST", "/api/regen", body: "not json", withToken: true)
    #expect(bad.status == 400)
    let stranger = try server.request(
      "POST", "/api/regen", body: #"{"section": "appendix", "cascade": "goals_objectives"}"#,
      withToken: true)
    #expect(stranger.status == 400)
    let why = stranger.json?["error"] as? String ?? ""
    #expect(why.contains("'goals_objectives' does not use 'appendix'"), "\(why)")
    let twoLines = try server.request(
      "POST", "/api/regen", body: #"{"section": "appendix", "note": "a\nb"}"#, withToken: true)
    #expect(twoLines.status == 400)
    #expect(!FileManager.default.fileExists(atPath: run + "/notes/appendix.txt"))
  }

  @Test func eventsResumeFromTheLastIDWithNoneLostOrRepeated() throws {
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    let server = try PageServer(make: make(stub), doc: "prd", runs: scratch + "/runs")
    let events = run + "/events.ndjson"
    let start =
      ((try FileManager.default.attributesOfItem(atPath: events))[.size] as? NSNumber)?.intValue
      ?? 0
    // A second run, paced, while a viewer comes and goes every 40 events.
    let again = try again(stub, knobs: "words=120,tps=300")
    var seen: [(id: String, data: String)] = []
    var last: String?
    var rounds = 0
    while rounds < 400 {
      rounds += 1
      let client = try EventClient(
        "\(server.address)/events?from=\(start)", lastEventID: last)
      let enough = waitUntil(20) {
        client.events.count >= 40
          || client.events.contains { $0.data.contains("\"event\":\"complete\"") }
      }
      client.close()
      let got = client.events
      let taken = Array(got.prefix(40))
      seen += taken
      last = taken.last?.id ?? last
      if taken.contains(where: { $0.data.contains("\"event\":\"complete\"") }) || !enough { break }
    }
    again.waitUntilExit()
    let lines = try String(contentsOfFile: events, encoding: .utf8).utf8.dropFirst(start)
    let written = String(decoding: Array(lines), as: UTF8.self).split(separator: "\n").map(
      String.init)
    let upTo =
      written.firstIndex { $0.contains("\"event\":\"complete\"") }.map { $0 + 1 } ?? written.count
    #expect(rounds > 3, "the viewer came back \(rounds) times")
    #expect(seen.map(\.data) == Array(written.prefix(upTo)), "\(seen.count) of \(upTo) events")
    // Each id is where its line ends in the log.
    var offset = start
    for (index, event) in seen.enumerated() {
      offset += written[index].utf8.count + 1
      #expect(event.id == String(offset))
      if event.id != String(offset) { break }
    }
  }

  /// The statuses the page shows, in order, as `id=status`.
  static let statuses =
    "Array.from(document.querySelectorAll('.section')).map(s => s.dataset.id + '=' + s.dataset.status).join(' ')"

  @Test func aBrowserSeesTheDocumentWrittenAndAReloadGoesOn() throws {
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    let server = try PageServer(make: make(stub), doc: "prd", runs: scratch + "/runs")
    let browser = try Browser("\(server.address)/?token=\(server.token)")
    #expect(try browser.eval("document.querySelectorAll('.section').length") as? Int == 12)
    // A run started from a terminal shows up on the open page, its text growing as it comes.
    let again = try again(stub, knobs: "words=300,tps=100")
    let longest =
      "Math.max(0, ...Array.from(document.querySelectorAll('.section[data-status=processing] .stream')).map(p => p.textContent.length))"
    var grew = false
    var reloaded = false
    var pictured = false
    let deadline = Date().addingTimeInterval(120)
    while again.isRunning && Date() < deadline {
      let first = try browser.eval(longest) as? Int ?? 0
      usleep(1_000_000)
      let second = try browser.eval(longest) as? Int ?? 0
      if first > 0 && second > first { grew = true }
      // SHEAF_SCREENSHOT=1: the README's picture, once a few sections are done.
      if !pictured, ProcessInfo.processInfo.environment["SHEAF_SCREENSHOT"] != nil,
        try browser.eval("document.querySelectorAll('.section[data-status=completed]').length")
          as? Int ?? 0 >= 3
      {
        try browser.screenshot(Harness.root.path + "/docs/live-page.png")
        pictured = true
      }
      if grew && !reloaded {
        // A reload mid-run: the page comes back as it stands and goes on following the run.
        try browser.reload()
        reloaded = true
        #expect(try browser.eval("document.querySelectorAll('.section').length") as? Int == 12)
      }
    }
    #expect(grew, "the text being written grew between two looks a second apart")
    #expect(reloaded)
    again.waitUntilExit()
    let log = (try? String(contentsOfFile: scratch + "/again.log", encoding: .utf8)) ?? ""
    #expect(again.terminationStatus == 0, "\(log)")
    // When the run ends, the page lists every section with its final status, as the summary does.
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: run + "/summary.json"))) as? [String: Any]
    let expected = ((summary?["sections"] as? [[String: Any]]) ?? []).map {
      "\($0["id"] as? String ?? "")=\($0["status"] as? String ?? "")"
    }.joined(separator: " ")
    var shown = ""
    let settled = try waitUntil(20) {
      shown = try browser.eval(Self.statuses) as? String ?? ""
      return shown == expected
    }
    #expect(settled, "page: \(shown)\nsummary: \(expected)")
    #expect(expected.split(separator: " ").count == 12)
    #expect(
      try waitUntil(10) {
        try browser.eval("document.getElementById('document').dataset.status") as? String == "ready"
      })
    // The finished text is on the page, rendered, with no text being written left over.
    #expect(
      try browser.eval("document.querySelectorAll('.stream:not(:empty)').length") as? Int == 0)
    let words =
      try browser.eval("document.querySelector('#s-appendix .content').textContent.length") as? Int
      ?? 0
    #expect(words > 100)
  }

  /// Every request body the stub got since `before`, as JSON text of its messages, sorted.
  func bodies(_ stub: Stub, since before: Int) throws -> [String] {
    let bodies = try stub.stats()["bodies"] as? [[String: Any]] ?? []
    return try bodies.dropFirst(before).map {
      String(
        decoding: try JSONSerialization.data(
          withJSONObject: $0["messages"] ?? [], options: [.sortedKeys]), as: UTF8.self)
    }.sorted()
  }

  @Test func aRegenerationFromThePageAsksWhatMakeRegenAsks() throws {
    let stub = try Stub()
    #expect(try makeDoc(stub).status == 0)
    let server = try PageServer(make: make(stub), doc: "prd", runs: scratch + "/runs")
    let ask =
      #"{"section": "proposed_solution", "note": "name the two key screens", "cascade": "appendix"}"#
    // Without the token: refused, nothing asked, nothing written.
    var before = (try stub.stats()["bodies"] as? [Any])?.count ?? 0
    #expect(try server.request("POST", "/api/regen", body: ask).status == 403)
    #expect(try stub.requests() == 12)
    #expect(!FileManager.default.fileExists(atPath: run + "/notes/proposed_solution.txt"))
    // The estimate first (DRY=1): the list and the cost, nothing asked.
    let dry = try server.request(
      "POST", "/api/regen", body: ask.replacingOccurrences(of: "}", with: #", "dry": true}"#),
      withToken: true)
    #expect(dry.status == 200, "\(dry.body)")
    let said = dry.json?["output"] as? String ?? ""
    #expect(
      said.contains("would ask: proposed_solution") && said.contains("would ask: appendix"),
      "\(said)")
    #expect(try stub.requests() == 12)
    // While another make holds the run, an action is refused at once.
    let holder = Process()
    holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    holder.arguments = ["flock", run + "/.lock", "sleep", "3"]
    try holder.run()
    usleep(300_000)
    let busy = try server.request("POST", "/api/regen", body: ask, withToken: true)
    #expect(busy.status == 409, "\(busy.body)")
    let refusal = busy.json?["error"] as? String ?? ""
    #expect(refusal.contains("busy"), "\(refusal)")
    holder.waitUntilExit()
    // Then the regeneration, followed to its end.
    let started = try server.request("POST", "/api/regen", body: ask, withToken: true)
    #expect(started.status == 202, "\(started.body)")
    var action: [String: Any]?
    #expect(
      try waitUntil(60) {
        action = try server.request("GET", "/api/action").json
        return action?["running"] as? Bool == false
      })
    #expect(action?["status"] as? Int == 0, "\(action?["output"] ?? "")")
    let fromPage = try bodies(stub, since: before)
    #expect(fromPage.count == 2, "\(fromPage.count) requests")
    // The same at a terminal, from the same state.
    before = (try stub.stats()["bodies"] as? [Any])?.count ?? 0
    let terminal = try Harness.run(
      "\(make(stub)) regen DOC=prd SECTION=proposed_solution CASCADE=appendix NOTE='name the two key screens'"
    )
    #expect(terminal.status == 0, "\(terminal.err)")
    #expect(try bodies(stub, since: before) == fromPage)
    #expect(
      try record("proposed_solution")["instructions"] as? String == "name the two key screens")
  }

  @Test func aSectionHeldForReviewIsApprovedFromThePage() throws {
    let stub = try Stub()
    let copied = try Harness.run(
      "mkdir -p '\(scratch)/book' && cp pipelines/book/* '\(scratch)/book/'")
    #expect(copied.status == 0, "\(copied.err)")
    let first = try Harness.run(
      "\(make(stub, knobs: "words=1000")) doc PLAN='\(scratch)/book/plan.json'")
    #expect(first.out.contains("waiting for review: ch01"), "\(first.out)")
    let server = try PageServer(make: make(stub), doc: "book", runs: scratch + "/runs")
    let page = try server.request("GET", "/")
    #expect(page.body.contains("waiting for review: ch01"))
    let state = try server.request("GET", "/api/state").json
    let sections = state?["sections"] as? [[String: Any]] ?? []
    #expect(sections.first { $0["id"] as? String == "ch01" }?["awaits_review"] as? Bool == true)
    #expect(
      try server.request("POST", "/api/approve", body: #"{"section": "ch01"}"#).status == 403)
    #expect(!FileManager.default.fileExists(atPath: scratch + "/runs/book/approved/ch01.json"))
    let approved = try server.request(
      "POST", "/api/approve", body: #"{"section": "ch01"}"#, withToken: true)
    #expect(approved.status == 200, "\(approved.body)")
    #expect(FileManager.default.fileExists(atPath: scratch + "/runs/book/approved/ch01.json"))
    let after = try server.request("GET", "/api/state").json
    #expect(after?["review"] is NSNull, "\(after?["review"] ?? "")")
  }

  @Test func badServeArgumentsSayWhatInOneLine() throws {
    try Harness.write("not a folder", to: scratch + "/file")
    let cases: [(String, String)] = [
      ("sheaf-serve --run '\(scratch)/file'", "--run \(scratch)/file: not a run directory"),
      ("sheaf-serve --run '\(scratch)' --port 70000", "--port 70000: give a port from 0"),
      ("sheaf-run serve --run '\(scratch)/file'", "--run \(scratch)/file: not a run directory"),
      (
        "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= serve",
        "sheaf: usage: make serve DOC=prd"
      ),
    ]
    for (command, message) in cases {
      let result = try Harness.run(command)
      #expect(result.status == 2, "\(command): \(result.status)")
      // make adds its own line about the recipe that failed (make[1] under another make).
      let lines = result.err.split(separator: "\n").filter {
        !($0.hasPrefix("make") && $0.contains(": *** ["))
      }
      #expect(lines.count == 1 && result.err.contains(message), "\(command): \(result.err)")
    }
  }
}
