import Foundation
import Testing

/// `make docs BATCH=1`: every section ready to ask, across the documents of a set, goes to the
/// provider's batch API as one batch per wave (the stub's OpenAI Batch API and Anthropic Message
/// Batches), at the batch price; a killed run polls the same batches again.
@Suite(.serialized) struct BatchTests {
  let scratch = Harness.scratch("batch")

  /// Three sections (`detail` uses `pitch`: two waves), a price, and four documents.
  func writeSet() throws {
    try Harness.write(
      #"""
      {"id": "brief", "title": "Brief", "prompt_set": "brief",
       "inputs": {"product": "nothing yet"}, "llm": {"price": {"input": 2, "output": 8}},
       "sections": [
         {"id": "pitch", "title": "Pitch", "description": "Why it matters."},
         {"id": "detail", "title": "Detail", "depends_on": ["pitch"]},
         {"id": "faq", "title": "FAQ", "description": "The questions people ask."}]}
      """#, to: scratch + "/set/plan.json")
    try Harness.write(
      "You write one brief, a section at a time.\n",
      to: scratch + "/set/prompts/brief/shared_context.mustache")
    try Harness.write(
      "Write the \"{{section.title}}\" section for {{doc.inputs.product}}.{{#context}}\n\n{{content}}{{/context}}\n",
      to: scratch + "/set/prompts/brief/default.mustache")
    try Harness.write(
      "key,product\ntide,Tidewater\nlark,Larkspur\nquill,Quillon\nfern,Fernhill\n",
      to: scratch + "/set/rows.csv")
  }

  func command(
    _ base: String, provider: String, runs: String, _ extra: String = "", model: String = "stub"
  ) -> String {
    "SHEAF_BATCH_POLL=0.1 make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/\(runs)' "
      + "PROVIDER=\(provider) MODEL=\(model) BASE_URL='\(base)' CALL_FLAGS='--no-cache --retries 1' "
      + "PLAN='\(scratch)/set/plan.json' ROWS='\(scratch)/set/rows.csv' DOC_ID=key J=4 \(extra) docs"
  }

  /// Every section's record of every document of a set.
  func records(_ runs: String) throws -> [[String: Any]] {
    var out: [[String: Any]] = []
    for doc in ["tide", "lark", "quill", "fern"] {
      for id in ["pitch", "detail", "faq"] {
        let data = try Data(
          contentsOf: URL(fileURLWithPath: "\(scratch)/\(runs)/\(doc)/sections/\(id).json"))
        out.append(try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:])
      }
    }
    return out
  }

  func cost(_ records: [[String: Any]]) -> Double {
    records.compactMap { $0["cost"] as? Double }.reduce(0, +)
  }

  func batchFolder(_ runs: String) -> String { "\(scratch)/\(runs)/brief.set/all/batch" }

  /// `make docs BATCH=1` on `runs`, killed with -9 (the whole group) once a file matching
  /// `appears` is in its batch folder and `after` seconds more went by; the folder's listing.
  func killed(_ base: String, runs: String, appears: String, after: Double) throws -> String {
    let folder = batchFolder(runs)
    return try Harness.run(
      "(setsid env \(command(base, provider: "openai", runs: runs, "BATCH=1")) > '\(scratch)/\(runs).out' 2>&1 & echo $! > '\(scratch)/\(runs).pid'; wait) & "
        + "for i in $(seq 150); do sleep 0.1; ls '\(folder)/batches/'\(appears) >/dev/null 2>&1 && break; done; sleep \(after); "
        + "kill -9 -$(cat '\(scratch)/\(runs).pid'); sleep 0.3; ls '\(folder)/batches'"
    ).out
  }

  @Test(arguments: ["openai", "anthropic"])
  func everySectionGoesThroughOneBatchPerWaveAtHalfThePrice(provider: String) throws {
    try writeSet()
    let stub = try Stub()
    let base = stub.url("words=40,batch_delay=0.3", openai: provider == "openai")
    let batched = try Harness.run(
      command(base, provider: provider, runs: "b-\(provider)", "BATCH=1"))
    #expect(batched.status == 0, "\(batched.err.suffix(1500))")
    #expect(batched.err.contains("4 documents: 4 ready"), "\(batched.err)")
    let stats = try stub.stats()
    let batches = stats["batches"] as? [[String: Any]] ?? []
    // Two waves (pitch and faq of every document, then detail): one batch each, nothing live.
    #expect(batches.count == 2, "\(batches)")
    #expect(batches.map { $0["requests"] as? Int ?? 0 } == [8, 4])
    #expect(batches.allSatisfy { $0["provider"] as? String == provider })
    #expect(stats["requests"] as? Int == 0, "no request went to the provider directly")
    #expect(stats["batch_repeats"] as? Int == 0)
    let waves = try String(
      contentsOfFile: batchFolder("b-\(provider)") + "/waves.json", encoding: .utf8)
    #expect(waves.contains(#""waves":2"#) && waves.contains(#""batches":2"#), "\(waves)")
    let answered = try records("b-\(provider)")
    #expect(answered.allSatisfy { $0["status"] as? String == "completed" })
    #expect(answered.allSatisfy { ($0["batch"] as? String)?.isEmpty == false })
    // The detail was written from its pitch, which the batch answered.
    let detail = try String(
      contentsOfFile: "\(scratch)/b-\(provider)/lark/sections/pitch.md", encoding: .utf8)
    #expect(!detail.isEmpty)

    // The same set asked directly costs twice as much.
    let live = try Harness.run(command(base, provider: provider, runs: "l-\(provider)"))
    #expect(live.status == 0, "\(live.err.suffix(1500))")
    #expect(try stub.stats()["requests"] as? Int == 12)
    let full = cost(try records("l-\(provider)"))
    #expect(full > 0)
    #expect(abs(cost(answered) * 2 - full) < 0.00002, "batch \(cost(answered)), live \(full)")
  }

  /// OpenAI's batch file takes one model: a wave that asks two is sent as two batches.
  @Test func openAIGetsOneBatchPerModel() throws {
    try writeSet()
    let plan = try String(contentsOfFile: scratch + "/set/plan.json", encoding: .utf8)
    try Harness.write(
      plan.replacingOccurrences(
        of: #""llm": {"#, with: #""llm": {"model": "stub", "#
      ).replacingOccurrences(
        of: #"{"id": "faq", "title": "FAQ","#,
        with: #"{"id": "faq", "title": "FAQ", "llm": {"model": "stub-mini"},"#),
      to: scratch + "/set/plan.json")
    let stub = try Stub()
    let run = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "models", "BATCH=1", model: ""))
    #expect(run.status == 0, "\(run.err.suffix(1500))")
    let batches = try stub.stats()["batches"] as? [[String: Any]] ?? []
    #expect(batches.map { $0["requests"] as? Int ?? 0 }.sorted() == [4, 4, 4], "\(batches)")
    let waves = try String(contentsOfFile: batchFolder("models") + "/waves.json", encoding: .utf8)
    #expect(waves.contains(#""waves":2"#) && waves.contains(#""batches":3"#), "\(waves)")
  }

  @Test func anErrorInsideABatchIsAskedAgainInTheNextWave() throws {
    try writeSet()
    let stub = try Stub()
    // Larkspur's pitch fails once inside the batch (500), then succeeds.
    try stub.setKnobs("failfor=Pitch%22%20section%20for%20Larkspur:500,failfor_times=1")
    let run = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "errors", "BATCH=1"))
    #expect(run.status == 0, "\(run.err.suffix(1500))")
    let batches = try stub.stats()["batches"] as? [[String: Any]] ?? []
    // pitch+faq ×4, then detail ×3 and Larkspur's pitch again, then Larkspur's detail.
    #expect(batches.map { $0["requests"] as? Int ?? 0 } == [8, 4, 1], "\(batches)")
    #expect(try stub.stats()["batch_repeats"] as? Int == 1, "only the one that failed")
    let lark = try records("errors")[3...5]
    #expect(lark.allSatisfy { $0["status"] as? String == "completed" })
    #expect(run.err.contains("errors, asked again in the next wave"), "\(run.err)")
  }

  /// An answer that breaks its format is re-asked in the next wave, and the record counts both.
  @Test func aReAskGoesIntoTheNextWave() throws {
    try writeSet()
    let plan = try String(contentsOfFile: scratch + "/set/plan.json", encoding: .utf8)
    try Harness.write(
      plan.replacingOccurrences(
        of: #""inputs":"#,
        with: #""formats": {"body": {"type": "markdown", "min_words": 20}}, "inputs":"#
      ).replacingOccurrences(of: #""title": "#, with: #""format": "body", "title": "#),
      to: scratch + "/set/plan.json")
    let stub = try Stub()
    let run = try Harness.run(
      command(
        stub.url("first_words=5,words=40"), provider: "openai", runs: "reask", "BATCH=1 BUDGET=1"))
    #expect(run.status == 0, "\(run.err.suffix(1500))")
    let batches = try stub.stats()["batches"] as? [[String: Any]] ?? []
    // The first asks of pitch and faq, their re-asks, the details, their re-asks.
    #expect(batches.map { $0["requests"] as? Int ?? 0 } == [8, 8, 4, 4], "\(batches)")
    #expect(try stub.stats()["batch_repeats"] as? Int == 0)
    let answered = try records("reask")
    #expect(
      answered.allSatisfy { $0["attempts"] as? Int == 2 },
      "\(answered.map { $0["attempts"] ?? "-" })")
    #expect(answered.allSatisfy { ($0["repairs"] as? [Any])?.count == 1 })
    // The ledger counted each answer once, though a pass played the first asks again.
    let ledger = try String(
      contentsOfFile: "\(scratch)/reask/brief.set/all/budget.json", encoding: .utf8)
    let spent =
      (try JSONSerialization.jsonObject(with: Data(ledger.utf8)) as? [String: Any])?["spent"]
      as? Double ?? -1
    #expect(abs(spent - cost(answered)) < 0.00002, "ledger \(spent), records \(cost(answered))")
  }

  /// A request the batch always refuses fails its section, once: the waves end.
  @Test func aRefusalInsideABatchFailsTheSectionAndTheWavesEnd() throws {
    try writeSet()
    let stub = try Stub()
    try stub.setKnobs("failfor=Pitch%22%20section%20for%20Larkspur:400")
    let run = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "refused", "BATCH=1"))
    #expect(run.status != 0)
    let batches = try stub.stats()["batches"] as? [[String: Any]] ?? []
    // Larkspur's pitch is refused: its detail is skipped, the three other details asked.
    #expect(batches.map { $0["requests"] as? Int ?? 0 } == [8, 3], "\(batches)")
    #expect(try stub.stats()["batch_repeats"] as? Int == 0)
    let lark = try records("refused")[3...5]
    #expect(lark.map { $0["status"] as? String ?? "" } == ["failed", "skipped", "completed"])
    let error = lark.first?["error"] as? [String: Any] ?? [:]
    #expect(error["http_status"] as? Int == 400, "\(error)")
    #expect(
      run.err.contains("3 ready, 1 partial") || run.err.contains("1 partial, 3 ready"), "\(run.err)"
    )
  }

  /// BUDGET= bounds what the waves send: a request is queued only while its estimate fits, and
  /// the answers are paid for once, when they are read.
  @Test func theBudgetBoundsWhatTheWavesSend() throws {
    try writeSet()
    let stub = try Stub()
    let run = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "budget", "BATCH=1 BUDGET=0.02"))
    #expect(run.status == 0, "\(run.err.suffix(1500))")
    let batches = try stub.stats()["batches"] as? [[String: Any]] ?? []
    let sizes = batches.map { $0["requests"] as? Int ?? 0 }
    #expect(sizes.first ?? 99 < 8, "the first wave is held to the budget: \(sizes)")
    #expect(sizes.reduce(0, +) == 12, "\(sizes)")
    #expect(try stub.stats()["batch_repeats"] as? Int == 0)
    let spent = cost(try records("budget"))
    #expect(spent > 0 && spent <= 0.02, "\(spent)")
  }

  @Test func aKilledRunPollsTheSameBatchAndSendsNothingTwice() throws {
    try writeSet()
    let stub = try Stub()
    let base = stub.url("words=40,batch_delay=3")
    let listed = try killed(base, runs: "killed", appears: "*.json", after: 0.3)
    #expect(listed.contains("1-1-openai.json"), "\(listed)")
    #expect((try stub.stats()["batches"] as? [[String: Any]] ?? []).count == 1)
    let resumed = try Harness.run(command(base, provider: "openai", runs: "killed", "BATCH=1"))
    #expect(resumed.status == 0, "\(resumed.err.suffix(1500))")
    #expect(resumed.err.contains("openai batch batch_stub1: completed"), "\(resumed.err)")
    let stats = try stub.stats()
    #expect((stats["batches"] as? [[String: Any]] ?? []).count == 2)
    #expect(stats["batch_repeats"] as? Int == 0)
    #expect(stats["requests"] as? Int == 0)
    #expect(resumed.err.contains("4 documents: 4 ready"))
  }

  /// Killed while OpenAI creates the batch (its id never came back): the next run finds it by
  /// its file, reads it, and sends nothing twice.
  @Test func aRunKilledWhileABatchIsCreatedFindsItAgain() throws {
    try writeSet()
    let stub = try Stub()
    let base = stub.url("words=40,batch_create_delay=3")
    let listed = try killed(base, runs: "journal", appears: "*.pending", after: 1)
    #expect(listed.contains("1-1-openai.json.pending"), "\(listed)")
    #expect(!listed.contains("1-1-openai.json\n"), "the id never came back")
    #expect((try stub.stats()["batches"] as? [[String: Any]] ?? []).count == 1)
    let resumed = try Harness.run(command(base, provider: "openai", runs: "journal", "BATCH=1"))
    #expect(resumed.status == 0, "\(resumed.err.suffix(1500))")
    #expect(
      resumed.err.contains("batch_stub1 was being sent when a run stopped"), "\(resumed.err)")
    let stats = try stub.stats()
    #expect((stats["batches"] as? [[String: Any]] ?? []).count == 2)
    #expect(stats["batch_repeats"] as? Int == 0)
    #expect(resumed.err.contains("4 documents: 4 ready"))
  }

  @Test func aStopLeavesTheBatchRunningAndCancelSendsItAgain() throws {
    try writeSet()
    let stub = try Stub()
    let folder = batchFolder("stopped")
    let stopped = try Harness.run(
      "(\(command(stub.url("words=40,batch_delay=60"), provider: "openai", runs: "stopped", "BATCH=1"))) > '\(scratch)/stop.out' 2>&1 & pid=$!; "
        + "for i in $(seq 100); do sleep 0.1; ls '\(folder)/batches/'*.json >/dev/null 2>&1 && break; done; sleep 0.5; "
        + "kill -TERM $pid; wait $pid; echo \"exit $?\"")
    let said = (try? String(contentsOfFile: "\(scratch)/stop.out", encoding: .utf8)) ?? ""
    #expect(stopped.out.hasPrefix("exit 143"), "\(stopped.out) \(said)")
    #expect(said.contains("left running at the provider: openai batch_stub1"), "\(said)")
    let cancelled = try Harness.run(
      "\(Harness.products.path)/call-llm --batch-cancel '\(folder)'")
    #expect(cancelled.status == 0, "\(cancelled.err)")
    #expect(cancelled.err.contains("batch_stub1: cancelled"), "\(cancelled.err)")
    let again = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "stopped", "BATCH=1"))
    #expect(again.status == 0, "\(again.err.suffix(1500))")
    let batches = try stub.stats()["batches"] as? [[String: Any]] ?? []
    #expect(batches.map { $0["requests"] as? Int ?? 0 } == [8, 8, 4], "\(batches)")
  }

  /// Ctrl-C at a terminal while a wave waits: a question, and "c" cancels the batch.
  @Test func ctrlCAtATerminalAsksWhetherToCancelTheBatches() throws {
    try writeSet()
    let stub = try Stub()
    let session = "sheaf-\(UUID().uuidString.prefix(8))"
    let folder = batchFolder("tty")
    let make = command(
      stub.url("words=40,batch_delay=60"), provider: "openai", runs: "tty", "BATCH=1")
    let run = try Harness.run(
      """
      tmux new-session -d -s \(session) -x 160 -y 40 "cd '\(Harness.root.path)' && \(make); echo DONE=\\$?; sleep 30" || exit 9
      tmux set-option -t \(session) remain-on-exit on
      for i in $(seq 150); do sleep 0.1; ls '\(folder)/batches/'*.json >/dev/null 2>&1 && break; done; sleep 1
      tmux send-keys -t \(session) C-c
      for i in $(seq 50); do sleep 0.2; tmux capture-pane -p -t \(session) | grep -q 'or cancel' && break; done
      tmux capture-pane -p -t \(session) > '\(scratch)/asked'
      tmux send-keys -t \(session) c Enter
      for i in $(seq 60); do
        sleep 0.5; tmux capture-pane -p -t \(session) > '\(scratch)/screen'
        grep -q 'DONE=\\|Pane is dead' '\(scratch)/screen' && break
      done
      tmux kill-session -t \(session); true
      """)
    #expect(run.status == 0, "\(run.err)")
    let asked = (try? String(contentsOfFile: "\(scratch)/asked", encoding: .utf8)) ?? ""
    let screen = (try? String(contentsOfFile: "\(scratch)/screen", encoding: .utf8)) ?? ""
    #expect(asked.contains("Leave it running, or cancel? [L/c]"), "\(asked)")
    #expect(screen.contains("openai batch batch_stub1: cancelled"), "\(screen)")
    #expect(!screen.contains("DONE=0"), "\(screen)")
    let kept = try String(contentsOfFile: "\(folder)/batches/1-1-openai.json", encoding: .utf8)
    #expect(kept.contains(#""status":"cancelled""#), "\(kept)")
  }

  @Test func batchNeedsASetAndAProviderWithABatchAPI() throws {
    try writeSet()
    let single = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/one' PROVIDER=offline BATCH=1 doc PLAN='\(scratch)/set/plan.json'"
    )
    #expect(single.status == 2)
    #expect(single.err.contains("BATCH=1 works with make docs"), "\(single.err)")
    // A server without a batch API: one line that says so; what was queued stays queued.
    let stub = try Stub()
    let none = try Harness.run(
      command(stub.url("words=40,no_batch=1"), provider: "openai", runs: "none", "BATCH=1"))
    #expect(none.status != 0)
    #expect(
      none.err.contains("HTTP 404") && none.err.contains("does this server have a batch API?"),
      "\(none.err)")
    #expect(none.err.contains("requests were not sent"), "\(none.err)")
    // What the set would cost, forecast at the batch price with BATCH=1.
    let full = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "dry", "DRY=1"))
    let half = try Harness.run(
      command(stub.url("words=40"), provider: "openai", runs: "dry", "DRY=1 BATCH=1"))
    func estimate(_ text: String) -> Double {
      let found = text.range(of: #"about \$([0-9.]+)\)"#, options: .regularExpression).map {
        String(text[$0]).dropFirst(7).dropLast()
      }
      return found.flatMap { Double($0) } ?? -1
    }
    #expect(estimate(full.out + full.err) > 0, "\(full.out) \(full.err)")
    #expect(
      abs(estimate(half.out + half.err) * 2 - estimate(full.out + full.err)) < 0.0002,
      "\(half.out) \(half.err)")
    // The offline provider has no batch API: it answers directly, as without BATCH=1.
    let offline = try Harness.run(command("", provider: "offline", runs: "off", "BATCH=1"))
    #expect(offline.status == 0, "\(offline.err.suffix(800))")
    #expect(!FileManager.default.fileExists(atPath: batchFolder("off") + "/waves.json"))
  }
}
