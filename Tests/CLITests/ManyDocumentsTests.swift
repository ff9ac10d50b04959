import Foundation
import Testing

/// `make docs PLAN= ROWS=`: one document per row of a table, each in its own run directory with
/// everything a single document has; one J, one budget and one rate limit across them all;
/// `SHARD=i/N` for many machines.
@Suite(.serialized) struct ManyDocumentsTests {
  let scratch = Harness.scratch("docs")

  /// A plan of three sections whose prompt set is its own: only `pitch` reads the row's
  /// `product`; `detail` builds on the pitch; `faq` reads no input at all.
  func writePlan(llm: String = "{}") throws {
    try Harness.write(
      #"""
      {"id": "brief", "title": "Brief", "prompt_set": "brief",
       "inputs": {"product": "nothing yet"}, "llm": \#(llm),
       "sections": [
         {"id": "pitch", "title": "Pitch", "description": "Why it matters."},
         {"id": "detail", "title": "Detail", "depends_on": ["pitch"]},
         {"id": "faq", "title": "FAQ", "description": "The questions people ask."}]}
      """#, to: scratch + "/set/plan.json")
    try Harness.write(
      "You write one brief, a section at a time.\n",
      to: scratch + "/set/prompts/brief/shared_context.mustache")
    try Harness.write(
      "Write the \"{{section.title}}\" section.{{#context}}\n\n{{content}}{{/context}}\n",
      to: scratch + "/set/prompts/brief/default.mustache")
    try Harness.write(
      "Write the pitch for {{doc.inputs.product}}.{{#section.instructions}} {{section.instructions}}{{/section.instructions}}\n",
      to: scratch + "/set/prompts/brief/pitch.mustache")
  }

  /// A table with a quoted comma, a doubled quote and a newline in a field; `key` names each
  /// document.
  func writeRows(second: String = "Larkspur") throws {
    try Harness.write(
      "key,product,title,notes\ntide,Tidewater,\"Tidewater, the brief\",\"says \"\"hi\"\"\"\nlark,\(second),\(second) brief,\"two\nlines\"\nquill,Quillon,Quillon brief,\n",
      to: scratch + "/set/rows.csv")
  }

  func make(_ stub: Stub?, _ target: String, _ extra: String = "") throws -> Harness.Result {
    let provider =
      stub.map { "PROVIDER=openai MODEL=stub BASE_URL='\($0.url("words=40"))' " }
      ?? "PROVIDER=offline "
    return try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
        + provider
        + "CALL_FLAGS='--no-cache --retries 0' PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' "
        + "DOC_ID=key \(extra) \(target)")
  }

  func bodies(_ stub: Stub) throws -> [String] {
    let bodies = try stub.stats()["bodies"] as? [[String: Any]] ?? []
    return try bodies.map {
      String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self)
    }
  }

  func summary(_ doc: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: "\(scratch)/runs/\(doc)/summary.json"))
    return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
  }

  func text(_ path: String) throws -> String {
    try String(contentsOfFile: "\(scratch)/\(path)", encoding: .utf8)
  }

  @Test func aTableBuildsOneDocumentPerRowAndAChangedRowAsksOnlyWhatItChanges() throws {
    try writePlan()
    try writeRows()
    let stub = try Stub()
    try stub.setKnobs("ttfb=0.3")
    let first = try make(stub, "docs", "J=2")
    #expect(first.status == 0, "\(first.err.suffix(1500))")
    #expect(first.err.contains("3 documents; 0 unchanged and ready, 3 to build"), "\(first.err)")
    #expect(first.err.contains("3 documents: 3 ready"), "\(first.err)")
    for doc in ["tide", "lark", "quill"] {
      #expect(try summary(doc)["status"] as? String == "ready", "\(doc)")
    }
    #expect(try stub.requests() == 9)
    // J is the sections under way across all the documents, not in each.
    #expect(try stub.stats()["max_in_flight"] as? Int ?? 99 <= 2)
    // The row's fields are the document's inputs, its title the document's.
    #expect(try text("runs/lark/lark.md").hasPrefix("# Larkspur brief"))
    #expect(try text("runs/tide/tide.md").hasPrefix("# Tidewater, the brief"))
    #expect(try bodies(stub).contains { $0.contains("Write the pitch for Larkspur.") })
    #expect(try text("runs/lark/row.json").contains(#""notes":"two\nlines""#))

    // Unchanged: nothing is asked, no document is started.
    let again = try make(stub, "docs", "J=2")
    #expect(again.status == 0, "\(again.err.suffix(800))")
    #expect(again.err.contains("3 unchanged and ready, 0 to build"), "\(again.err)")
    #expect(try stub.requests() == 9)

    // One row changed: that document's pitch, and the detail that builds on it; not its FAQ,
    // not the other documents.
    let before = try stub.requests()
    try writeRows(second: "Larkspur Pro")
    let status = try make(stub, "status")
    #expect(status.status == 0, "\(status.err)")
    #expect(status.out.contains("lark"), "\(status.out)")
    #expect(status.out.contains("the next make docs asks 1 request"), "\(status.out)")
    let changed = try make(stub, "docs", "J=2")
    #expect(changed.status == 0, "\(changed.err.suffix(800))")
    #expect(changed.err.contains("2 unchanged and ready, 1 to build"), "\(changed.err)")
    let asked = try bodies(stub).suffix(try stub.requests() - before)
    #expect(asked.count == 2, "\(asked)")
    #expect(asked.contains { $0.contains("Write the pitch for Larkspur Pro.") })
    #expect(asked.contains { $0.contains("Write the \\\"Detail\\\" section") }, "\(asked)")
    #expect(try text("runs/lark/lark.md").hasPrefix("# Larkspur Pro brief"))

    // Everything a single document has: a regeneration of one section of one row's document.
    let regen = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=40"))' CALL_FLAGS='--no-cache' regen DOC=quill SECTION=pitch CASCADE=no NOTE='shorter'"
    )
    #expect(regen.status == 0, "\(regen.err.suffix(800))")
    let last = try bodies(stub).last ?? ""
    #expect(last.contains("Write the pitch for Quillon."), "\(last)")
    #expect(last.contains("shorter"), "\(last)")
    // A regenerated document is built again by the next make docs, once (its stamp is gone).
    let after = try make(stub, "docs", "J=2")
    #expect(after.err.contains("2 unchanged and ready, 1 to build"), "\(after.err)")
  }

  /// Two machines' shards, here at once on one machine: every row built once, none twice.
  @Test func twoShardsTogetherBuildEveryRowOnce() throws {
    try writePlan()
    var rows = "key,product\n"
    for index in 1...8 { rows += "p\(index),Product \(index)\n" }
    try Harness.write(rows, to: scratch + "/set/rows.csv")
    let stub = try Stub()
    let both = try Harness.run(
      "(\(command(stub, "SHARD=1/2")) 2>'\(scratch)/one.err' & \(command(stub, "SHARD=2/2")) 2>'\(scratch)/two.err'; wait)"
    )
    #expect(both.status == 0)
    let one = try text("one.err")
    let two = try text("two.err")
    #expect(one.contains("shard 1/2"), "\(one)")
    var shares: [Int] = []
    for output in [one, two] {
      let match = output.firstMatch(of: /\(shard \d\/2: (\d+)\)/)
      shares.append(match.flatMap { Int($0.1) } ?? -1)
    }
    #expect(shares[0] + shares[1] == 8, "\(shares)")
    #expect(shares[0] > 0 && shares[1] > 0, "\(shares)")
    for index in 1...8 {
      #expect(try summary("p\(index)")["status"] as? String == "ready", "p\(index)")
    }
    // Each document's three sections asked once: no row was built by both.
    #expect(try stub.requests() == 24)
    let asked = try bodies(stub)
    for index in 1...8 {
      #expect(asked.filter { $0.contains("Write the pitch for Product \(index).") }.count == 1)
    }
  }

  func command(_ stub: Stub, _ extra: String) -> String {
    "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
      + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=40"))' CALL_FLAGS='--no-cache --retries 0' "
      + "PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' DOC_ID=key J=3 \(extra) docs"
  }

  /// One BUDGET= for the set: what all the documents spend together stays within it (each
  /// alone would have had room for all its sections).
  @Test func oneBudgetAndOneRateLimitForTheWholeSet() throws {
    try writePlan(llm: #"{"price": {"input": 3, "output": 150}, "max_tokens": 200}"#)
    var rows = "key,product\n"
    for index in 1...4 { rows += "p\(index),Product \(index)\n" }
    try Harness.write(rows, to: scratch + "/set/rows.csv")
    let stub = try Stub()
    // $0.03 reserved a request (its max_tokens), under a cent spent: one document alone would
    // build its three sections within $0.05, the four together not.
    let run = try make(stub, "docs", "J=4 BUDGET=0.05")
    #expect(run.status != 0)
    var spent = 0.0
    var completed = 0
    for index in 1...4 {
      let totals = try summary("p\(index)")["totals"] as? [String: Any] ?? [:]
      spent += totals["cost"] as? Double ?? 0
      completed += totals["completed"] as? Int ?? 0
    }
    #expect(spent <= 0.05, "\(spent)")
    #expect(completed > 0 && completed < 12, "\(completed)")
    #expect(try stub.requests() == completed)
    // The end of the run names what did not come out ready, and where its make doc said why.
    #expect(
      run.err.contains(" is not ready (partial) · see \(scratch)/runs/brief.set/all/logs/"),
      "\(run.err)")

    // The documents share the provider's window: 12 requests at 4 a 2 s window, no 429.
    let limited = try Stub()
    let paced = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/paced' "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(limited.url("limit=4:2,words=40"))' CALL_FLAGS='--no-cache --retries 0' "
        + "PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' DOC_ID=key J=8 docs")
    #expect(paced.status == 0, "\(paced.err.suffix(1500))")
    #expect(try limited.stats()["limited"] as? Int == 0, "no 429 across the documents")
    #expect(try limited.requests() == 12)
  }

  /// A bad table says where in one line, exit 2, and writes nothing.
  @Test func aBadTableSaysWhereInOneLine() throws {
    try writePlan()
    let cases: [(rows: String, extra: String, says: String)] = [
      (
        "key,product\na,One\nb,Two\na,Three\n", "",
        "rows 1 (line 2) and 3 (line 4) both give the document id 'a'"
      ),
      ("key,product\na,\"One\n", "", "rows.csv:2: a quoted field is not closed"),
      ("key,product\na,One,extra\n", "", "rows.csv:2: 3 fields, the header has 2"),
      ("key,product\na,One\n", "DOC_ID=name", "DOC_ID=name: "),
      ("key,product\na,One\n", "DOC_ID='{{row.nope}}'", "no 'row.nope' in"),
      ("key,product\na,One\n", "SHARD=3/2", "SHARD=3/2: give i/N"),
      ("key,key\na,One\n", "", "the header names 'key' twice"),
      ("key,product\n", "", "no rows"),
      ("key,product\n!!!,One\n", "", "gives an empty document id"),
    ]
    for item in cases {
      try? FileManager.default.removeItem(atPath: scratch + "/runs")
      try Harness.write(item.rows, to: scratch + "/set/rows.csv")
      let run = try make(nil, "docs", item.extra)
      #expect(run.status == 2, "\(item.says): \(run.err)")
      let lines = run.err.split(separator: "\n").filter { !$0.hasPrefix("make") }
      #expect(lines.count == 1, "\(run.err)")
      #expect(run.err.contains(item.says), "\(run.err)")
      #expect(!FileManager.default.fileExists(atPath: scratch + "/runs"), "\(item.says)")
    }
    let missing = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= docs PLAN=x.json"
    )
    #expect(missing.status == 2)
    #expect(missing.err.contains("usage: make docs PLAN="), "\(missing.err)")
    // A plan whose templates read an input only the rows give: make doctor checks its prompts
    // with the first row's fields when ROWS= is given.
    try Harness.write(
      #"{"id": "brief", "title": "Brief", "prompt_set": "brief", "sections": [{"id": "pitch", "title": "Pitch"}]}"#,
      to: scratch + "/set/bare.json")
    try Harness.write("key,product\na,One\n", to: scratch + "/set/rows.csv")
    let doctor =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= PROVIDER=offline doctor PLAN='\(scratch)/set/bare.json'"
    let alone = try Harness.run(doctor)
    #expect(alone.status != 0)
    #expect(alone.out.contains("no variable 'doc.inputs.product'"), "\(alone.out)")
    let withRows = try Harness.run("\(doctor) ROWS='\(scratch)/set/rows.csv'")
    #expect(withRows.status == 0, "\(withRows.out) \(withRows.err)")
    #expect(withRows.out.contains("✓ prompts: every section's prompt renders"), "\(withRows.out)")
  }

  /// A stop reaches every document: the sections in flight are written cancelled and each
  /// document merged before make docs ends; the next make docs goes on where it stopped.
  @Test func aStopCancelsEveryDocumentAndTheNextRunGoesOn() throws {
    try writePlan()
    try writeRows()
    let stub = try Stub()
    let marker = "docs-\(UUID().uuidString)"
    let command =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
      + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("ttfb=4,words=40"))' CALL_FLAGS='--retries 0 --cache \(scratch)/\(marker)' "
      + "PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' DOC_ID=key J=3 docs"
    let ours =
      "for p in $(pgrep -x call-llm; pgrep -x make); do tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q \(marker) && echo $p; done"
    let stopped = try Harness.run(
      "(\(command)) > '\(scratch)/make.out' 2>&1 & pid=$!; for i in $(seq 100); do sleep 0.1; [ -n \"$(\(ours))\" ] && break; done; sleep 1.5; kill -TERM $pid; wait $pid; echo \"exit $?\"; sleep 0.3; \(ours)"
    )
    let said = (try? text("make.out")) ?? ""
    #expect(stopped.out.hasPrefix("exit 143"), "\(stopped.out) \(said)")
    #expect(
      stopped.out.split(separator: "\n").count == 1, "nothing of the run is left: \(stopped.out)")
    var cancelled = 0
    for doc in ["tide", "lark", "quill"] {
      let summary = try summary(doc)
      let sections = summary["sections"] as? [[String: Any]] ?? []
      #expect(!sections.contains { $0["status"] as? String == "processing" }, "\(doc)")
      cancelled += sections.filter { $0["status"] as? String == "cancelled" }.count
    }
    #expect(cancelled >= 3, "the three in flight: \(said)")
    let resumed = try Harness.run(command.replacingOccurrences(of: "ttfb=4,", with: ""))
    #expect(resumed.status == 0, "\(resumed.err.suffix(800))")
    #expect(resumed.err.contains("3 documents: 3 ready"), "\(resumed.err)")
  }

  /// `make serve PLAN= ROWS=`: the set's page lists every document, each opening its own page
  /// (with its actions) at /d/<id>/; an id not of the set is not a path.
  @Test func theSetsPageListsTheDocumentsAndOpensEach() throws {
    try writePlan()
    try writeRows()
    #expect(try make(nil, "docs").status == 0)
    let make =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=offline"
    let server = try PageServer(
      make: make,
      serve: "PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' DOC_ID=key",
      marker: "sheaf-serve --plan \(scratch)/set/plan.json ")
    let index = try server.request("GET", "/?token=\(server.token)")
    #expect(index.status == 200)
    for doc in ["tide", "lark", "quill"] {
      #expect(index.body.contains("href=\"d/\(doc)/?token=\(server.token)\""), "\(index.body)")
    }
    #expect(index.body.contains("3 documents: 3 ready"), "\(index.body)")
    let set = try server.request("GET", "/api/set").json
    let documents = set?["documents"] as? [[String: Any]] ?? []
    #expect(documents.map { $0["status"] as? String ?? "" } == ["ready", "ready", "ready"])
    // A document's page, its state and its actions, as at /.
    let moved = try server.request("GET", "/d/lark?token=\(server.token)")
    #expect(moved.status == 301)
    #expect(moved.headers.contains("location: lark/?token="), "\(moved.headers)")
    // Never a redirect to another host, whatever slashes the path starts with.
    let slashes = try server.request("GET", "//d/lark")
    #expect(!slashes.headers.contains("location: //"), "\(slashes.headers)")
    let page = try server.request("GET", "/d/lark/")
    #expect(page.body.contains("href=\"../../\""), "a link back to the set")
    #expect(page.body.contains("src=\"page.js\""))
    #expect(try server.request("GET", "/d/lark/page.js").status == 200)
    let state = try server.request("GET", "/d/lark/api/state").json
    #expect(state?["doc"] as? String == "lark")
    let paused = try server.request("POST", "/d/lark/api/pause", body: "{}", withToken: true)
    #expect(paused.status == 200, "\(paused.body)")
    #expect(FileManager.default.fileExists(atPath: "\(scratch)/runs/lark/.paused"))
    #expect(!FileManager.default.fileExists(atPath: "\(scratch)/runs/tide/.paused"))
    for path in ["/d/nope/api/state", "/d/..%2F..%2Fetc/api/state", "/d/lark%2F..%2Ftide/"] {
      #expect(try server.request("GET", path).status == 404, "\(path)")
    }
  }

  /// A section someone edited, or a run of another plan: what a document of a set is not
  /// skipped over, nor built over.
  @Test func anEditedDocumentIsStartedAgainAndAnotherPlansRunIsNotBuiltOver() throws {
    try writePlan()
    try writeRows()
    #expect(try make(nil, "docs").status == 0)
    try Harness.write("A pitch a person wrote.\n", to: scratch + "/runs/lark/sections/pitch.md")
    let again = try make(nil, "docs")
    #expect(again.status == 0, "\(again.err.suffix(800))")
    #expect(again.err.contains("2 unchanged and ready, 1 to build"), "\(again.err)")
    #expect(try text("runs/lark/lark.md").contains("A pitch a person wrote."))
    // The set, live (not a terminal: the totals; nothing is being built, so it ends).
    let watched = try make(nil, "watch")
    #expect(watched.status == 0, "\(watched.err)")
    #expect(watched.out.hasPrefix("brief: 3 documents: 3 ready · 0:0"), "\(watched.out)")
    // The PRD's plan given a document id of this set's: refused, nothing changed.
    let other = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=offline doc PLAN=pipelines/prd/plan.json DOC=lark"
    )
    #expect(other.status == 2)
    #expect(other.err.contains("is a document of the plan 'brief', not of 'prd'"), "\(other.err)")
    #expect(try text("runs/lark/lark.md").contains("A pitch a person wrote."))
    // The same as a set: refused before anything is written (its row stays the brief's).
    let row = try text("runs/lark/row.json")
    let otherSet = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=offline docs PLAN=pipelines/prd/plan.json ROWS='\(scratch)/set/rows.csv' DOC_ID=key"
    )
    #expect(otherSet.status == 2)
    #expect(
      otherSet.err.contains("is a document of the plan 'brief', not of 'prd'"), "\(otherSet.err)")
    #expect(try text("runs/lark/row.json") == row)
    // One make docs of a set at a time: a second one says so and stops.
    let busy = try Harness.run(
      "flock '\(scratch)/runs/brief.set/all/.lock' sleep 3 & sleep 0.5; "
        + "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' PROVIDER=offline docs PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' DOC_ID=key; echo \"exit $?\"; wait"
    )
    #expect(busy.out.contains("exit 2"), "\(busy.out)")
    #expect(
      busy.err.contains("another make docs of this set (and shard) is under way"), "\(busy.err)")
  }
}
