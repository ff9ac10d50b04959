import Foundation
import Testing

/// sheaf attacked as a hostile plan author, a hostile server, a full disk, a kill and a large
/// user would (issue 9): real make, the built tools, the stub server.
struct SafetyTests {
  let scratch = Harness.scratch("safety")

  func write(_ text: String, to name: String) throws {
    try Harness.write(text, to: "\(scratch)/\(name)")
  }

  func read(_ name: String) throws -> String {
    try String(contentsOfFile: "\(scratch)/\(name)", encoding: .utf8)
  }

  /// make with the built tools; `vars` are passed as they are (quote them for bash).
  func make(_ target: String, _ vars: String, environment: [String: String] = [:]) throws
    -> Harness.Result
  {
    try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= \(target) \(vars)",
      environment: environment)
  }

  // MARK: - A plan is data

  @Test(arguments: [
    (
      "prompt_set",
      #"{"id":"inj","title":"T","prompt_set":"blog$(shell id > PWNED)","llm":{"provider":"offline"},"sections":[{"id":"intro","title":"Intro"}]}"#,
      "plan.json"
    ),
    (
      "template",
      #"{"id":"inj","title":"T","llm":{"provider":"offline"},"sections":[{"id":"intro","title":"Intro","template":"x$(shell id > PWNED)"}]}"#,
      "plan.json"
    ),
    (
      "mode",
      #"{"id":"inj","title":"T","modes":{"a$(shell id > PWNED)":{}},"llm":{"provider":"offline"},"sections":[{"id":"intro","title":"Intro"}]}"#,
      "plan.json"
    ),
    (
      "front matter",
      "---\nid: inj\nprompt_set: blog$(shell id > PWNED)\nllm.provider: offline\n---\n# T\n\n## Intro\nSay hello.\n",
      "plan.md"
    ),
    (
      "input file",
      #"{"id":"inj","title":"T","inputs":{"x":{"file":"$(shell id > PWNED).md"}},"llm":{"provider":"offline"},"sections":[{"id":"intro","title":"Intro"}]}"#,
      "plan.json"
    ),
    (
      "section mode",
      #"{"id":"inj","title":"T","default_mode":"a$(shell id > PWNED)","llm":{"provider":"offline"},"sections":[{"id":"intro","title":"Intro","modes":["a$(shell id > PWNED)"]}]}"#,
      "plan.json"
    ),
  ])
  func nothingAPlanSaysIsExecuted(_ field: String, _ plan: String, _ name: String) throws {
    let pwned = plan.replacingOccurrences(of: "PWNED", with: "\(scratch)/pwned")
    try write(pwned, to: "inj/\(name)")
    let result = try make("doc", "PLAN=\(scratch)/inj/\(name) RUNS=\(scratch)/runs")
    #expect(result.status != 0, "\(field): the plan was accepted")
    #expect(
      !FileManager.default.fileExists(atPath: "\(scratch)/pwned"),
      "\(field): a plan ran a shell command")
    #expect(!FileManager.default.fileExists(atPath: "\(Harness.root.path)/PWNED"))
    #expect(
      result.err.contains("plan-sections") || result.err.contains("sheaf-run"),
      "\(field): \(result.err)")
    #expect(!result.err.contains("uid="), "\(field): \(result.err)")
  }

  @Test func pathsWithSpacesAndNotesWithDollarsArriveAsTyped() throws {
    let folder = "\(scratch)/my plans/a $HOME b"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    for file in ["plan.md"] {
      try FileManager.default.copyItem(
        atPath: "\(Harness.root.path)/pipelines/blog/\(file)", toPath: "\(folder)/\(file)")
    }
    // The blog's prompt set lives in ./prompts/blog, looked up from the folder make runs in.
    let runs = "\(scratch)/my runs"
    let built = try make("doc", "PLAN='\(folder)/plan.md' RUNS='\(runs)' CALL_FLAGS=--no-cache")
    #expect(built.status == 0, "\(built.err)")
    #expect(FileManager.default.fileExists(atPath: "\(runs)/blog/blog.md"))
    let note = #"keep $HOME, $(shell id) and `date` exactly as typed"#
    let regen = try make(
      "regen", "DOC=blog SECTION=introduction NOTE='\(note)' RUNS='\(runs)' CALL_FLAGS=--no-cache")
    #expect(regen.status == 0, "\(regen.err)")
    let record =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(runs)/blog/sections/introduction.json")))
      as? [String: Any]
    #expect(record?["instructions"] as? String == note)
  }

  // MARK: - Nothing outside the plan's folder, no key elsewhere

  @Test func aPlanCannotReadOutsideItsFolder() throws {
    try write(
      #"{"id":"t","inputs":{"loot":{"file":"/etc/passwd"}},"sections":[{"id":"a"}]}"#,
      to: "p1/plan.json")
    let absolute = try Harness.run("plan-sections \(scratch)/p1/plan.json")
    #expect(absolute.status == 2)
    #expect(
      absolute.err.contains("inputs.loot.file: '/etc/passwd' is outside the plan's folder")
        && absolute.err.contains("--allow-outside"))
    #expect(!absolute.out.contains("root:"))
    let allowed = try Harness.run("plan-sections --allow-outside \(scratch)/p1/plan.json")
    #expect(allowed.status == 0, "\(allowed.err)")
    try write(
      #"{"id":"t","inputs":{"loot":{"file":"../../../../../../etc/passwd"}},"sections":[{"id":"a"}]}"#,
      to: "p2/plan.json")
    #expect(try Harness.run("plan-sections \(scratch)/p2/plan.json").status == 2)
    #expect(
      try Harness.run(
        "plan-sections \(scratch)/p2/plan.json", environment: ["SHEAF_ALLOW_OUTSIDE": "1"]
      ).status == 0)
    // A record cannot point build-prompt at other folders, nor validate-format at other files.
    let record =
      #"{"doc":"t","id":"a","title":"A","prompt_set":"../../../etc","template":"../x","status":"pending"}"#
    let prompt = try Harness.run("build-prompt", stdin: Data((record + "\n").utf8))
    let failed = try #require(objects(prompt.out).first)
    #expect((failed["error"] as? [String: Any])?["type"] as? String == "template")
    let answer =
      #"{"doc":"t","id":"a","title":"A","status":"completed","content":"{}","plan_dir":".","format":{"type":"json","schema_file":"/etc/passwd"}}"#
    let checked = try Harness.run("validate-format", stdin: Data((answer + "\n").utf8))
    let verdict = try #require(objects(checked.out).first)
    let error = try #require(verdict["error"] as? [String: Any])
    #expect(error["type"] as? String == "plan")
    #expect(!checked.out.contains("root:") && (verdict["violations"] == nil))
  }

  @Test func contextFolderThatDoesNotExistIsAUsageError() throws {
    let result = try Harness.run(
      "plan-sections pipelines/prd/plan.json | build-prompt --context /nonexistent/sections")
    #expect(result.status == 2)
    #expect(
      result.err.contains("build-prompt: --context /nonexistent/sections: no such folder\n"),
      "\(result.err)")
  }

  func messageRecord(_ llm: String) -> Data {
    Data(
      (#"{"doc":"t","id":"a","title":"A","status":"pending","llm":\#(llm),"messages":[{"role":"user","content":"Write."}]}"#
        + "\n").utf8)
  }

  @Test func aKeyGoesOnlyWhereTheUserSaid() throws {
    let stub = try Stub()
    let key = "sk-test-\(UUID().uuidString)"
    let planned = messageRecord(#"{"provider":"openai","model":"m","base_url":"\#(stub.url())"}"#)
    let refused = try Harness.run(
      "call-llm --no-cache --retries 0", stdin: planned,
      environment: ["OPENAI_API_KEY": key, "SHEAF_BASE_URL": ""])
    let record = try #require(objects(refused.out).first)
    let error = try #require(record["error"] as? [String: Any])
    #expect(error["type"] as? String == "plan")
    #expect(
      (error["message"] as? String)?.contains(
        "OPENAI_API_KEY is sent only to an address you choose") == true)
    #expect((error["hint"] as? String)?.contains("--base-url") == true)
    #expect(try stub.requests() == 0, "nothing was sent")
    // The user chose it: the key goes there.
    let chosen = try Harness.run(
      "call-llm --no-cache --retries 0 --base-url \(stub.url())", stdin: planned,
      environment: ["OPENAI_API_KEY": key])
    #expect(objects(chosen.out).first?["status"] as? String == "completed", "\(chosen.err)")
    #expect((try stub.stats()["auth"] as? [String])?.contains("Bearer \(key)") == true)
    // No key to send: the plan's server is used.
    let keyless = try Harness.run(
      "env -u OPENAI_API_KEY call-llm --no-cache --retries 0", stdin: planned)
    #expect(objects(keyless.out).first?["status"] as? String == "completed", "\(keyless.err)")
  }

  @Test func aKeyAProviderEchoesIsRedactedEverywhere() throws {
    let stub = try Stub()
    let key = "sk-echo-\(UUID().uuidString)"
    let runs = "\(scratch)/runs"
    let result = try make(
      "doc",
      "PLAN=pipelines/blog/plan.md RUNS=\(runs) PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("echo_key=401"))' CALL_FLAGS='--cache \(scratch)/cache --retries 0 --log \(scratch)/calls.ndjson'",
      environment: ["OPENAI_API_KEY": key])
    #expect(result.status != 0)
    #expect(try stub.requests() > 0)
    let everything = try Harness.run(
      "cat \(runs)/blog/*.* \(runs)/blog/sections/* \(scratch)/calls.ndjson; find \(scratch)/cache -type f -exec cat {} + 2>/dev/null; true"
    )
    for text in [everything.out, result.out, result.err] {
      #expect(!text.contains(key), "the key leaked")
    }
    let intro = try read("runs/blog/sections/introduction.json")
    #expect(
      intro.contains("[redacted OPENAI_API_KEY]"), "the provider's message is kept, without the key"
    )
  }

  // MARK: - Scale

  @Test func tenThousandSectionsStayLinear() throws {
    try write("", to: "big/.keep")
    let generate = """
      import json, sys
      n = 10000
      sections = [{"id": f"s{i}", "title": f"Section {i}", "description": "d" * 40,
                   "depends_on": [f"s{i-1}"] if i % 100 else []} for i in range(n)]
      json.dump({"id": "big", "title": "Big", "llm": {"provider": "offline"}, "sections": sections}, open(sys.argv[1], "w"))
      """
    try write(generate, to: "big/gen.py")
    #expect(try Harness.run("python3 \(scratch)/big/gen.py \(scratch)/big/plan.json").status == 0)
    let measure = """
      import resource, subprocess, sys
      out = open(sys.argv[1], "wb")
      code = subprocess.call(sys.argv[2:], stdout=out)
      print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
      """
    try write(measure, to: "big/measure.py")
    let planned = try Harness.run(
      "python3 \(scratch)/big/measure.py \(scratch)/big/out.ndjson plan-sections \(scratch)/big/plan.json"
    )
    let parts = planned.out.split(separator: " ").compactMap {
      Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    #expect(parts.first == 0, "\(planned.err)")
    #expect((parts.last ?? .max) < 300_000, "plan-sections peak memory \(parts.last ?? -1) KiB")
    let size =
      try FileManager.default.attributesOfItem(atPath: "\(scratch)/big/out.ndjson")[.size] as? Int
      ?? 0
    #expect(size < 15_000_000, "output of \(size) bytes: every record carries the plan again")
    let lines = try read("big/out.ndjson").split(separator: "\n")
    #expect(lines.count == 10_001, "an outline event, then a record a section")
    let prepared = try Harness.run(
      "python3 \(scratch)/big/measure.py /dev/null sheaf-run prepare --plan \(scratch)/big/plan.json --runs \(scratch)/big/runs"
    )
    let prepareParts = prepared.out.split(separator: " ").compactMap {
      Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    #expect(prepareParts.first == 0, "\(prepared.err)")
    #expect(
      (prepareParts.last ?? .max) < 300_000, "prepare peak memory \(prepareParts.last ?? -1) KiB")
    let status = try Harness.run("sheaf-run status --run \(scratch)/big/runs/big | grep '^0/'")
    #expect(status.out.hasPrefix("0/10000"), "\(status.out)")
  }

  @Test func unknownDependenciesAreRejectedQuickly() throws {
    let generate = """
      import json, sys
      sections = [{"id": f"s{i}", "depends_on": [f"missing{i}"]} for i in range(10000)]
      json.dump({"id": "bad", "sections": sections}, open(sys.argv[1], "w"))
      """
    try write(generate, to: "gen.py")
    #expect(try Harness.run("python3 \(scratch)/gen.py \(scratch)/bad.json").status == 0)
    let result = try Harness.run("timeout 30 plan-sections \(scratch)/bad.json")
    #expect(
      result.status == 2, "exit \(result.status): rejecting 10,000 unknown names must not take long"
    )
    #expect(result.err.split(separator: "\n").count == 10_000)
  }

  /// A million sections are checked in-process (PlanTests); through the whole tool, 200,000 (four
  /// times the depth that used to overflow the stack) keep the debug build's test time down.
  @Test func aLongCycleIsOneLine() throws {
    let generate = """
      import json, sys
      n = 200000
      sections = [{"id": f"s{i}", "depends_on": [f"s{(i - 1) % n}"]} for i in range(n)]
      json.dump({"id": "ring", "sections": sections}, open(sys.argv[1], "w"))
      """
    try write(generate, to: "ring.py")
    #expect(try Harness.run("python3 \(scratch)/ring.py \(scratch)/ring.json").status == 0)
    let result = try Harness.run("plan-sections \(scratch)/ring.json")
    #expect(result.status == 2, "exit \(result.status): \(result.err.prefix(300))")
    #expect(result.err.hasPrefix("plan-sections: \(scratch)/ring.json: dependency cycle: "))
    #expect(result.err.contains("more) …") && result.err.count < 400)
  }

  // MARK: - Files that survive anything

  @Test func aTornEventsLineStaysOneBadLine() throws {
    try write("{\"event\":\"chunk\",\"id\":\"cut-off-mid", to: "events.ndjson")
    let result = try Harness.run(
      "plan-sections pipelines/blog/plan.md | build-prompt | call-llm --no-cache --events-file \(scratch)/events.ndjson > /dev/null"
    )
    #expect(result.status == 0, "\(result.err)")
    let lines = try read("events.ndjson").split(separator: "\n", omittingEmptySubsequences: false)
      .dropLast()
    #expect(
      lines.first == "{\"event\":\"chunk\",\"id\":\"cut-off-mid",
      "the torn line is left alone, on its own")
    let parsed = lines.dropFirst().map {
      (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil
    }
    #expect(!parsed.isEmpty && parsed.allSatisfy { $0 }, "every later line is whole")
  }

  @Test func aFullDiskForTheEventsFileCostsNoAnswer() throws {
    let result = try Harness.run(
      "plan-sections pipelines/blog/plan.md | build-prompt | call-llm --no-cache --events-file /dev/full"
    )
    #expect(result.status == 0, "\(result.err)")
    #expect(
      objects(result.out).count == 5
        && objects(result.out).allSatisfy { $0["status"] as? String == "completed" })
    #expect(
      result.err.contains("warning: /dev/full: write failed")
        && result.err.contains("the answers are kept"))
    #expect(result.err.components(separatedBy: "warning").count == 2, "said once")
  }

  @Test func aKillBetweenTheTwoRenamesLeavesAWholePair() throws {
    let runs = "\(scratch)/runs"
    #expect(
      try make("doc", "PLAN=pipelines/blog/plan.md RUNS=\(runs) CALL_FLAGS=--no-cache").status == 0)
    let sections = "\(runs)/blog/sections"
    // As a killed save leaves it: the new .json renamed, the new .md not yet.
    var record =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(sections)/conclusion.json")))
      as! [String: Any]
    record["content"] = "The new conclusion."
    try JSONSerialization.data(withJSONObject: record).write(
      to: URL(fileURLWithPath: "\(sections)/conclusion.json"))
    try "The new conclusion.\n".write(
      toFile: "\(sections)/.conclusion.md.new", atomically: true, encoding: .utf8)
    // A record cut short, its .md intact.
    let whole = try Data(contentsOf: URL(fileURLWithPath: "\(sections)/what-it-is.json"))
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: "\(sections)/what-it-is.json"))
    let status = try make("status", "DOC=blog RUNS=\(runs)")
    #expect(status.out.contains("! what-it-is") && status.out.contains("damaged"), "\(status.out)")
    let again = try make("doc", "PLAN=pipelines/blog/plan.md RUNS=\(runs) CALL_FLAGS=--no-cache")
    #expect(again.status == 0, "\(again.err)")
    #expect(
      try String(contentsOfFile: "\(sections)/conclusion.md", encoding: .utf8)
        == "The new conclusion.\n")
    #expect(again.err.contains("conclusion: finished saving it"))
    #expect(again.err.contains("what-it-is: \(sections)/what-it-is.json is damaged"))
    let rebuilt =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(sections)/what-it-is.json")))
      as? [String: Any]
    #expect(
      rebuilt?["source"] as? String == "llm",
      "a damaged record is rebuilt, not taken as a person's edit")
    #expect(
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(sections)/conclusion.json")))
        as? [String: Any] != nil)
  }

  @Test func anEditThatIsNotUTF8IsAClearError() throws {
    let runs = "\(scratch)/runs"
    #expect(
      try make("doc", "PLAN=pipelines/blog/plan.md RUNS=\(runs) CALL_FLAGS=--no-cache").status == 0)
    try Data([0x48, 0x69, 0xFF, 0xFE, 0x0A]).write(
      to: URL(fileURLWithPath: "\(runs)/blog/sections/introduction.md"))
    let again = try make("doc", "PLAN=pipelines/blog/plan.md RUNS=\(runs) CALL_FLAGS=--no-cache")
    #expect(again.status == 2)
    #expect(
      again.err.contains("sheaf-run: \(runs)/blog/sections/introduction.md: not UTF-8 text"),
      "\(again.err)")
  }

  // MARK: - Hostile responses

  @Test(arguments: [
    ("html", "not an event stream: got text/html"),
    ("empty", "the server answered with an empty body"),
    ("done_only", "the event stream held no answer"),
    ("no_data", "the event stream held no events"),
    ("bigline:100", "longer than 8388608 bytes"),
    ("bigheader:300", "response headers could not be read"),
  ])
  func aResponseThatIsNotAStreamSaysSo(_ kind: String, _ message: String) throws {
    let stub = try Stub()
    let result = try Harness.run(
      "timeout 60 call-llm --no-cache --retries 0 --provider openai --model m --base-url \(stub.url("hostile=\(kind)"))",
      stdin: messageRecord("{}"))
    let record = try #require(objects(result.out).first, "exit \(result.status): \(result.err)")
    let error = try #require(record["error"] as? [String: Any])
    #expect(error["type"] as? String == "provider", "\(kind): \(error)")
    #expect((error["message"] as? String)?.contains(message) == true, "\(kind): \(error)")
    #expect(error["hint"] != nil)
  }

  // MARK: - Signals

  @Test func sighupCancelsLikeSigterm() throws {
    let stub = try Stub()
    try messageRecord("{}").write(to: URL(fileURLWithPath: "\(scratch)/in.ndjson"))
    let result = try Harness.run(
      "call-llm --no-cache --provider openai --model m --base-url \(stub.url("ttfb=20")) < \(scratch)/in.ndjson > \(scratch)/out.ndjson & pid=$!; sleep 1; kill -HUP $pid; wait $pid; echo \"exit $?\""
    )
    #expect(result.out.contains("exit 130"), "\(result.out) \(result.err)")
    let record = try #require(objects(try read("out.ndjson")).first)
    #expect(record["status"] as? String == "cancelled")
  }

  @Test func anInterruptedSectionStopsTheRunEvenWhenMakeGoesOn() throws {
    let stub = try Stub()
    let marker = "cache-\(UUID().uuidString)"
    let runs = "\(scratch)/runs"
    // make does not see the signal: only the call-llm of one section is told to stop.
    let command =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(runs) PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("words=300,slowfor=Goals%20and%20Objectives:20"))' J=4 CALL_FLAGS='--cache \(scratch)/\(marker) --retries 0' doc PLAN=pipelines/prd/plan.json"
    // Our call-llm processes: named call-llm, with our cache folder on their command line.
    let ours =
      "for p in $(pgrep -x call-llm); do tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q \(marker) && echo $p; done"
    let result = try Harness.run(
      "(\(command)) > \(scratch)/make.out 2>&1 & pid=$!; for i in $(seq 150); do sleep 0.1; [ -e \(runs)/prd/sections/problem_statement.json ] && [ -n \"$(\(ours))\" ] && break; done; sleep 0.5; kill -TERM $(\(ours)); wait $pid; echo \"exit $?\""
    )
    let made = (try? read("make.out")) ?? ""
    #expect(result.out.contains("exit 2") || result.out.contains("exit 1"), "\(result.out) \(made)")
    let goals =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(runs)/prd/sections/goals_objectives.json")))
      as? [String: Any]
    #expect(goals?["status"] as? String == "cancelled")
    let summary =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: "\(runs)/prd/sections/executive_summary.json")))
      as? [String: Any]
    #expect(
      summary?["status"] as? String == "cancelled",
      "the summary is not written from partial context")
    let titles = (try stub.stats()["spans"] as? [[Any]] ?? []).compactMap { $0[2] as? String }
    #expect(
      !titles.contains { $0.contains("Executive Summary") }, "nothing new was started: \(titles)")
    #expect(try read("runs/prd/summary.json").contains(#""status":"cancelled""#))
    // The next run goes on where it stopped.
    let resumed = try Harness.run(
      command.replacingOccurrences(of: ",slowfor=Goals%20and%20Objectives:20", with: ""))
    #expect(resumed.status == 0, "\(resumed.err)")
  }
}

extension SafetyTests {
  @Test func aTemplateLinkOutOfItsFolderIsNotFollowed() throws {
    try write("S", to: "p/t/shared_context.mustache")
    try "SECRET-CONTENT".write(toFile: "\(scratch)/secret.txt", atomically: true, encoding: .utf8)
    try FileManager.default.createSymbolicLink(
      atPath: "\(scratch)/p/t/default.mustache", withDestinationPath: "\(scratch)/secret.txt")
    let result = try Harness.run(
      "build-prompt --prompts \(scratch)/p --set t",
      stdin: Data(#"{"doc":"d","id":"a","status":"pending"}"#.utf8))
    #expect(!result.out.contains("SECRET-CONTENT"))
    #expect(
      (objects(result.out).first?["error"] as? [String: Any])?["type"] as? String == "template")
  }

  @Test func onlyHTTPIsSpoken() throws {
    let result = try Harness.run(
      "env -u OPENAI_API_KEY call-llm --no-cache --retries 0 --provider openai --model m --base-url file:///etc",
      stdin: messageRecord("{}"))
    let record = try #require(objects(result.out).first)
    #expect(record["status"] as? String == "failed")
    #expect(!result.out.contains("root:"))
  }

  @Test func aRecordWithoutItsMarkdownGetsItBack() throws {
    let runs = "\(scratch)/runs"
    #expect(
      try make("doc", "PLAN=pipelines/blog/plan.md RUNS=\(runs) CALL_FLAGS=--no-cache").status == 0)
    let sections = "\(runs)/blog/sections"
    let before = try String(contentsOfFile: "\(sections)/conclusion.md", encoding: .utf8)
    try FileManager.default.removeItem(atPath: "\(sections)/conclusion.md")
    let again = try make("doc", "PLAN=pipelines/blog/plan.md RUNS=\(runs) CALL_FLAGS=--no-cache")
    #expect(again.status == 0, "\(again.err)")
    #expect(try String(contentsOfFile: "\(sections)/conclusion.md", encoding: .utf8) == before)
    #expect(!again.err.contains("✓ conclusion"), "written back from the record, not asked again")
  }

  @Test func everyMakeVariableIsAValue() throws {
    let scratch = Harness.scratch("makevars")
    let mark = "\(scratch)/PWNED"
    let payload = "$(shell touch \(mark))"
    // From the scratch folder, so that a value taken as a path (RUNS, OUT) lands there.
    let root = Harness.root.path
    let make =
      "cd '\(scratch)' && make --no-print-directory -f '\(root)/pipelines/sheaf.mk' SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= "
    let prd = "\(root)/pipelines/prd/plan.json"
    let first = try Harness.run(
      make + "RUNS='\(scratch)/runs' CALL_FLAGS='--cache \(scratch)/cache' doc PLAN=\(prd)")
    #expect(first.status == 0, "\(first.err)")
    try Harness.write("A brief.\n", to: "\(scratch)/brief.md")
    let base: [String: String] = [
      "doc": "RUNS='\(scratch)/runs' DRY=1 doc PLAN=\(prd)",
      "regen": "RUNS='\(scratch)/runs' DRY=1 regen DOC=prd SECTION=appendix",
      "status": "RUNS='\(scratch)/runs' status DOC=prd",
      "outline":
        "RUNS='\(scratch)/runs' outline BRIEF='\(scratch)/brief.md' OUT='\(scratch)/o.json'",
    ]
    let variables: [(String, String)] = [
      ("PLAN", "doc"), ("RUNS", "doc"), ("J", "doc"), ("MODE", "doc"), ("PROVIDER", "doc"),
      ("MODEL", "doc"), ("BASE_URL", "doc"), ("FORCE", "doc"), ("ALLOW_OUTSIDE", "doc"),
      ("ONLY", "doc"), ("DRY", "doc"), ("PRICES", "doc"), ("BUDGET", "doc"), ("WARN", "doc"),
      ("MAX_TOKENS", "doc"), ("TIMEOUT", "doc"), ("RETRIES", "doc"), ("NOTES", "doc"),
      ("NOTIFY", "doc"), ("FORMAT", "doc"), ("CALL_FLAGS", "doc"), ("PROMPT_FLAGS", "doc"),
      ("VALIDATE_FLAGS", "doc"), ("DOC", "regen"), ("SECTION", "regen"), ("NOTE", "regen"),
      ("CASCADE", "regen"), ("CLEAR_NOTE", "regen"), ("DOC", "status"), ("BRIEF", "outline"),
      ("OUT", "outline"), ("KIND", "outline"), ("SECTIONS", "outline"),
      ("CANDIDATES", "outline"),
    ]
    for (variable, target) in variables {
      _ = try Harness.run(make + (base[target] ?? "") + " \(variable)='\(payload)'")
      #expect(!FileManager.default.fileExists(atPath: mark), "\(variable) ran as make text")
      try? FileManager.default.removeItem(atPath: mark)
    }
    for variable in ["PREFIX", "DESTDIR"] {
      _ = try Harness.run(
        "make --no-print-directory -C '\(root)' -n uninstall \(variable)='\(payload)'")
      #expect(!FileManager.default.fileExists(atPath: mark), "\(variable) ran as make text")
    }
    // The driver works however it is reached: from another folder, with make -f.
    let driver = Harness.root.appendingPathComponent("pipelines/sheaf.mk").path
    let elsewhere =
      "cd '\(scratch)' && make --no-print-directory -f '\(driver)' SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
    let regen = try Harness.run(
      elsewhere + "CALL_FLAGS='--cache \(scratch)/cache' regen DOC=prd SECTION=appendix CASCADE=no")
    #expect(regen.status == 0, "\(regen.err)")
    let status = try Harness.run(elsewhere + "status DOC=prd")
    #expect(status.status == 0 && status.out.contains("appendix"), "\(status.err)")
    let watch = try Harness.run(elsewhere + "watch DOC=prd")
    #expect(watch.status == 0, "\(watch.err)")
    // A flag is 1 or 0, a number a number: said before anything runs.
    let flag = try Harness.run(make + (base["doc"] ?? "") + " FORCE=yes")
    #expect(flag.status != 0 && flag.err.contains("FORCE=yes: give 1 (or 0)"), "\(flag.err)")
    let jobs = try Harness.run(
      make + "RUNS='\(scratch)/runs' doc PLAN=\(prd) J=many")
    #expect(jobs.status == 2 && jobs.err.contains("J=many: give the number"), "\(jobs.err)")
  }

  @Test func aPromptSetFolderLinkedOutOfThePlanFolderIsNotFollowed() throws {
    let scratch = Harness.scratch("linked")
    try Harness.write(
      "OUTSIDE-SECRET {{doc.title}}", to: "\(scratch)/elsewhere/shared_context.mustache")
    try Harness.write("Write {{section.title}}.", to: "\(scratch)/elsewhere/default.mustache")
    try Harness.write(
      #"{"id":"linked","title":"T","prompt_set":"mine","sections":[{"id":"a","title":"A"}]}"#,
      to: "\(scratch)/plan/plan.json")
    try FileManager.default.createDirectory(
      atPath: "\(scratch)/plan/prompts", withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(
      atPath: "\(scratch)/plan/prompts/mine", withDestinationPath: "\(scratch)/elsewhere")
    let refused = try Harness.run("plan-sections '\(scratch)/plan/plan.json' | build-prompt")
    #expect(!refused.out.contains("OUTSIDE-SECRET"), "\(refused.out)")
    #expect(refused.err.contains("leads out of the plan's folder"), "\(refused.err)")
    // Given on the command line, it is the user's choice.
    let given = try Harness.run(
      "plan-sections '\(scratch)/plan/plan.json' | build-prompt --prompts '\(scratch)/elsewhere/..' --set elsewhere"
    )
    #expect(given.out.contains("OUTSIDE-SECRET"), "\(given.err)")
  }

  @Test(arguments: [("TERM", "make", 143), ("HUP", "group", 129)])
  func aStopSignalEndsTheRunWithItsRecordsAndDocument(
    _ signal: String, _ to: String, _ status: Int
  ) throws {
    let scratch = Harness.scratch("signal")
    let runs = "\(scratch)/runs"
    try Harness.write(
      "exec make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(runs) J=2 CALL_FLAGS='--no-cache --offline-delay 0.2 --offline-tps 40' doc PLAN=pipelines/prd/plan.json > \(scratch)/out 2>&1\n",
      to: "\(scratch)/run.sh")
    let target = to == "make" ? "$pid" : "-- -$pid"
    try Harness.write(
      "setsid bash \(scratch)/run.sh & pid=$!; for i in $(seq 100); do sleep 0.1; [ -e \(runs)/prd/events.ndjson ] && grep -q section_start \(runs)/prd/events.ndjson && break; done; sleep 1; kill -\(signal) \(target); wait $pid; echo \"exit $?\"; sleep 0.5; pgrep -f -- \(runs)/prd | wc -l\n",
      to: "\(scratch)/check.sh")
    let result = try Harness.run("bash \(scratch)/check.sh")
    let lines = result.out.split(separator: "\n")
    #expect(
      lines.first == "exit \(status)",
      "\(result.out) \((try? String(contentsOfFile: "\(scratch)/out", encoding: .utf8)) ?? "")")
    #expect(lines.last == "0", "no process of the run goes on: \(result.out)")
    let sections = try FileManager.default.contentsOfDirectory(atPath: "\(runs)/prd/sections")
      .filter { $0.hasSuffix(".json") }
    let statuses = try sections.map { name -> String in
      let data = try Data(contentsOf: URL(fileURLWithPath: "\(runs)/prd/sections/\(name)"))
      return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["status"] as? String
        ?? "?"
    }
    #expect(statuses.contains("cancelled"), "the section in flight is written: \(statuses)")
    let summary = try String(contentsOfFile: "\(runs)/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""status":"cancelled""#))
    #expect(FileManager.default.fileExists(atPath: "\(runs)/prd/prd.md"))
  }

  @Test func newSettingsRefuseBadValuesInOneLine() throws {
    let scratch = Harness.scratch("badvalues")
    let input = Data(
      #"{"id":"a","status":"pending","messages":[{"role":"user","content":"x"}]}"#.utf8)
    for (command, environment, words) in [
      ("call-llm --provider offline --max-tokens 0", [:], "--max-tokens must be 1 or more (got 0)"),
      (
        "call-llm --provider offline", ["SHEAF_MAX_TOKENS": "many"],
        "MAX_TOKENS=many: give a whole number"
      ),
      ("call-llm --provider offline", ["SHEAF_RETRIES": "-1"], "RETRIES=-1: give a whole number"),
    ] {
      let result = try Harness.run(command, stdin: input, environment: environment)
      #expect(result.status == 2, "\(command): \(result.err)")
      #expect(result.err.contains(words), "\(result.err)")
      #expect(result.err.split(separator: "\n").count == 1, "one line: \(result.err)")
      #expect(result.out.isEmpty)
    }
    try Harness.write("A brief.\n", to: "\(scratch)/brief.md")
    let outline =
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= outline BRIEF='\(scratch)/brief.md' OUT='\(scratch)/plan.json'"
    for (arguments, words) in [
      ("CANDIDATES=x", "CANDIDATES=x: give a number from 1 to 9"),
      ("CANDIDATES=12", "CANDIDATES=12: give a number from 1 to 9"),
      ("SECTIONS=some", "SECTIONS=some: give a number"),
      ("KIND=novel", "KIND=novel: use report, prd, book or blog"),
    ] {
      let result = try Harness.run(outline + " " + arguments)
      #expect(result.status != 0)
      #expect(result.err.contains(words), "\(arguments): \(result.err)")
      #expect(!FileManager.default.fileExists(atPath: "\(scratch)/plan.json"), "nothing written")
    }
  }
}
