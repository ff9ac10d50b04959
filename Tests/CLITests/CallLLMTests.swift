import Foundation
import Testing

/// call-llm, the real binary and real libcurl, against the stub server on 127.0.0.1.
struct CallLLMTests {
  let cache = FileManager.default.temporaryDirectory.appendingPathComponent(
    "sheaf-cache-\(UUID().uuidString)"
  ).path

  func run(_ arguments: String, input: Data, env: [String: String] = [:]) throws -> Harness.Result {
    try Harness.run(
      "call-llm --cache \(cache) --retry-base 0.05 \(arguments)", stdin: input, environment: env)
  }

  @Test(arguments: [
    ("openai", ""), ("anthropic", ""), ("ollama", ""), ("openai", "bytewise=1,think=1"),
    ("anthropic", "bytewise=1,reasoning=1"), ("ollama", "bytewise=1,reasoning=1"),
    ("openai", "reasoning=1"),
  ])
  func eachProviderCompletes(_ provider: String, _ knobs: String) throws {
    let stub = try Stub()
    let result = try run(
      "--provider \(provider) --model m -j 2 --base-url \(stub.url(knobs, openai: provider == "openai"))",
      input: records(3))
    #expect(result.status == 0, "\(result.err)")
    let out = objects(result.out)
    #expect(out.count == 3)
    for record in out {
      #expect(record["status"] as? String == "completed")
      #expect(record["provider"] as? String == provider)
      let content = try #require(record["content"] as? String)
      #expect(content.split(separator: " ").count == 12, "\(content)")
      #expect(
        !content.contains("<think>") && !content.contains("</think>") && !content.contains("thi"))
      #expect((record["usage"] as? [String: Any])?["output_tokens"] as? Int != nil)
      #expect(record["cache"] as? String == "miss" && record["attempts"] as? Int == 1)
      if knobs.contains("think") {
        #expect(record["reasoning"] as? String == "planning the answer")
      }
      if knobs.contains("reasoning") {
        #expect(record["reasoning"] as? String == "thinking it through")
      }
    }
  }

  /// The waits themselves are unit tests on a fake clock (EngineTests); here, the real headers
  /// over real HTTP lead to a second attempt that completes.
  @Test(arguments: ["retry_after=1", "retry_after_ms=400", "retry_date=2"])
  func retryAfterIsHonoured(_ knob: String) throws {
    let stub = try Stub()
    let result = try run(
      "--provider openai --model m --base-url \(stub.url("fail=429:1,\(knob)"))", input: records(1))
    let record = try #require(objects(result.out).first)
    #expect(record["status"] as? String == "completed", "\(result.out)")
    #expect(record["attempts"] as? Int == 2)
    #expect(try stub.requests() == 2)
  }

  @Test(arguments: [(401, "auth"), (400, "bad_request")])
  func clientErrorsAreNotRetried(_ status: Int, _ type: String) throws {
    let stub = try Stub()
    let result = try run(
      "--provider openai --model m --retries 5 --base-url \(stub.url("fail=\(status)"))",
      input: records(1))
    #expect(result.status == 1)
    let record = try #require(objects(result.out).first)
    let error = try #require(record["error"] as? [String: Any])
    #expect(
      error["type"] as? String == type && error["retryable"] as? Bool == false
        && error["http_status"] as? Int == status)
    #expect(record["attempts"] as? Int == 1)
    #expect(try stub.requests() == 1)
  }

  @Test(arguments: [(500, 2, 3, "completed"), (529, 9, 3, "failed"), (503, 1, 2, "completed")])
  func serverErrorsAreRetriedUpToTheLimit(
    _ status: Int, _ failures: Int, _ expectedAttempts: Int, _ outcome: String
  ) throws {
    let stub = try Stub()
    let result = try run(
      "--provider anthropic --model m --retries 2 --base-url \(stub.url("fail=\(status):\(failures)", openai: false))",
      input: records(1))
    let record = try #require(objects(result.out).first)
    #expect(record["status"] as? String == outcome, "\(result.out)")
    #expect(record["attempts"] as? Int == expectedAttempts)
    #expect(try stub.requests() == expectedAttempts)
    if outcome == "failed" {
      #expect((record["error"] as? [String: Any])?["retryable"] as? Bool == true)
    }
  }

  @Test(arguments: [
    ("ttfb=3", "--first-byte-timeout 0.5", "first-byte timeout"),
    ("stall=3,tps=50", "--idle-timeout 0.5", "idle timeout"),
  ])
  func eachTimeoutSaysWhich(_ knobs: String, _ flag: String, _ words: String) throws {
    let stub = try Stub()
    let result = try run(
      "--provider openai --model m --retries 0 \(flag) --base-url \(stub.url(knobs))",
      input: records(1))
    let record = try #require(objects(result.out).first)
    let error = try #require(record["error"] as? [String: Any])
    #expect(error["type"] as? String == "timeout")
    #expect((error["message"] as? String)?.hasPrefix(words) == true, "\(error)")
    #expect(result.status == 1)
  }

  @Test func aTotalTimeoutKeepsWhatArrivedAsAnAnswerCutShort() throws {
    // Two words a second under a floor of three: the stream is cut at its 1.5 s, its words
    // kept and counted, and validate-format says it was cut when its time ran out.
    let stub = try Stub()
    let input =
      #"{"id":"s","title":"S","status":"pending","llm":{"min_tokens_per_s":3},"messages":[{"role":"user","content":"Write."}]}"#
    let result = try run(
      "--provider openai --model m --retries 0 --repair-attempts 0 --timeout 1.5 --base-url \(stub.url("tps=2,words=40"))",
      input: Data((input + "\n").utf8))
    let record = try #require(objects(result.out).first)
    #expect(record["finish_reason"] as? String == "timeout", "\(record)")
    #expect(!(record["content"] as? String ?? "").isEmpty)
    #expect(((record["usage"] as? [String: Any])?["output_tokens"] as? Int ?? 0) > 0)
    #expect(result.err.contains("are kept as an answer cut short"), "\(result.err)")
    let checked = try Harness.run("validate-format", stdin: Data(result.out.utf8))
    let judged = try #require(objects(checked.out).first)
    #expect(judged["status"] as? String == "failed")
    let message = text((judged["error"] as? [String: Any])?["message"])
    #expect(message.contains("cut off when its time ran out"), "\(message)")
  }

  @Test func anAnswerPastItsCapFailsAndTheEventsHoldNoMore() throws {
    let stub = try Stub()
    let events = cache + "-events.ndjson"
    let input =
      #"{"id":"s","title":"S","status":"pending","llm":{"max_answer_bytes":4096},"messages":[{"role":"user","content":"Write."}]}"#
    let result = try run(
      "--provider openai --model m --retries 0 --events-file \(events) --base-url \(stub.url("words=200000"))",
      input: Data((input + "\n").utf8))
    #expect(result.status == 1)
    let record = try #require(objects(result.out).first)
    let error = try #require(record["error"] as? [String: Any])
    #expect(error["type"] as? String == "provider")
    #expect(text(error["message"]).contains("passed 4096 bytes (llm.max_answer_bytes)"), "\(error)")
    #expect(record["content"] == nil, "what came is dropped")
    let streamed = objects(try String(contentsOfFile: events, encoding: .utf8))
      .filter { $0["event"] as? String == "chunk" }.map { text($0["text"]) }.joined()
    #expect(streamed.utf8.count <= 4096, "\(streamed.utf8.count)")
  }

  @Test func aBodyThatStopsMidStreamIsRetried() throws {
    let stub = try Stub()
    let result = try run(
      "--provider ollama --model m --base-url \(stub.url("cut=4:1", openai: false))",
      input: records(1))
    let record = try #require(objects(result.out).first)
    #expect(record["status"] as? String == "completed" && record["attempts"] as? Int == 2)
    let failing = try run(
      "--provider openai --model m2 --retries 0 --base-url \(stub.url("cut=4"))", input: records(1))
    let failed = try #require(objects(failing.out).first)
    #expect((failed["error"] as? [String: Any])?["type"] as? String == "network", "\(failing.out)")
  }

  @Test func aMidStreamErrorEventFailsTheAttempt() throws {
    let stub = try Stub()
    let result = try run(
      "--provider anthropic --model m --retries 1 --base-url \(stub.url("stream_error=1", openai: false))",
      input: records(1))
    let record = try #require(objects(result.out).first)
    let error = try #require(record["error"] as? [String: Any])
    #expect((error["message"] as? String)?.contains("overloaded_error") == true)
    #expect(record["attempts"] as? Int == 2 && record["content"] == nil)
  }

  @Test func emptyAnswersAndMissingModelsFail() throws {
    let stub = try Stub()
    let empty = try run(
      "--provider openai --model m --retries 0 --base-url \(stub.url("empty=1"))", input: records(1)
    )
    #expect(
      ((objects(empty.out).first?["error"] as? [String: Any])?["message"] as? String)?.contains(
        "empty answer") == true)
    let missing = try run(
      "--provider ollama --model llama9 --base-url \(stub.url("model_missing=1", openai: false))",
      input: records(1))
    let error = try #require(objects(missing.out).first?["error"] as? [String: Any])
    #expect(
      error["type"] as? String == "bad_request" && error["hint"] as? String == "ollama pull llama9")
  }

  @Test func aRefusedConnectionIsANetworkErrorWithAHint() throws {
    let result = try run(
      "--provider ollama --model m --retries 1 --base-url http://127.0.0.1:9", input: records(1))
    let record = try #require(objects(result.out).first)
    let error = try #require(record["error"] as? [String: Any])
    #expect(error["type"] as? String == "network" && error["retryable"] as? Bool == true)
    #expect(
      (error["hint"] as? String)?.contains("is `ollama serve` running at http://127.0.0.1:9?")
        == true)
    #expect(record["attempts"] as? Int == 2)
  }

  @Test func theCacheAnswersTheSecondRunAndReplaysExactly() throws {
    let stub = try Stub()
    let flags = "--provider openai --model m -j 4 --base-url \(stub.url("tps=100"))"
    let first = try run(flags, input: records(5))
    #expect(first.status == 0)
    #expect(try stub.requests() == 5)
    let second = try run(flags, input: records(5))
    #expect(try stub.requests() == 5, "a cached answer is never asked for again")
    #expect(
      objects(second.out).allSatisfy {
        // Replayed, with how it was asked for: one request, not none.
        $0["cache"] as? String == "hit" && $0["attempts"] as? Int == 1
      })
    let replay = try run("\(flags) --cache-only --keep-order", input: records(5))
    let original = objects(first.out).sorted {
      ($0["id"] as? String ?? "") < ($1["id"] as? String ?? "")
    }
    #expect(
      objects(replay.out).map { $0["content"] as? String }
        == original.map { $0["content"] as? String })
    #expect(
      objects(replay.out).map { $0["request_key"] as? String }
        == original.map { $0["request_key"] as? String })
    #expect(try stub.requests() == 5)
    let refresh = try run("\(flags) --refresh s2", input: records(5))
    #expect(try stub.requests() == 6)
    #expect(
      objects(refresh.out).filter { $0["cache"] as? String == "miss" }.map { $0["id"] as? String }
        == ["s2"])
  }

  @Test func twoProcessesWritingTheSameKeysLeaveAValidCache() throws {
    let stub = try Stub()
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "race-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    try records(20).write(to: URL(fileURLWithPath: "\(scratch)/in.ndjson"))
    let command =
      "call-llm --cache \(cache) --provider openai --model m -j 8 --base-url \(stub.url("tps=400")) < \(scratch)/in.ndjson"
    let both = try Harness.run(
      "(\(command) > \(scratch)/a.ndjson) & (\(command) > \(scratch)/b.ndjson); wait")
    #expect(both.status == 0)
    let replay = try run(
      "--provider openai --model m --cache-only --base-url \(stub.url("tps=400"))",
      input: records(20))
    #expect(replay.status == 0, "every key is readable: \(replay.out.prefix(300))")
    let files =
      FileManager.default.enumerator(atPath: cache)?.compactMap { $0 as? String }.filter {
        $0.hasSuffix(".json")
      } ?? []
    #expect(files.count == 20)
    #expect(
      !(FileManager.default.enumerator(atPath: cache)?.compactMap { $0 as? String }.contains {
        $0.hasSuffix(".tmp")
      } ?? true))
  }

  @Test func theLogHasOneLinePerAttemptAndNoPromptUnlessAsked() throws {
    let stub = try Stub()
    let log = FileManager.default.temporaryDirectory.appendingPathComponent(
      "log-\(UUID().uuidString).ndjson"
    ).path
    _ = try run(
      "--provider openai --model m --log \(log) --base-url \(stub.url("fail=500:1"))",
      input: records(2))
    let lines = objects(try String(contentsOfFile: log, encoding: .utf8))
    #expect(lines.count == 4)
    #expect(lines.filter { $0["http_status"] as? Int == 500 }.count == 2)
    #expect(lines.filter { $0["error_type"] as? String == "provider" }.count == 2)
    #expect(
      lines.allSatisfy { $0["messages"] == nil && $0["id"] is String && $0["seconds"] is Double })
    _ = try run(
      "--provider openai --model m2 --log \(log) --log-prompts --base-url \(stub.url())",
      input: records(1))
    let last = try #require(objects(try String(contentsOfFile: log, encoding: .utf8)).last)
    #expect(
      (last["messages"] as? [[String: Any]])?.last?["content"] as? String == "Write section s1.")
  }

  @Test func cacheOnlyMissFailsWithoutAsking() throws {
    let stub = try Stub()
    let result = try run(
      "--provider openai --model m --cache-only --base-url \(stub.url())", input: records(2))
    #expect(result.status == 1)
    #expect(
      objects(result.out).allSatisfy {
        ($0["error"] as? [String: Any])?["hint"] as? String
          == "run without --cache-only to ask the provider"
      })
    #expect(try stub.requests() == 0)
  }

  @Test func theConcurrencyLimitIsRespected() throws {
    let stub = try Stub()
    let result = try run(
      "--provider openai --model m -j 3 --base-url \(stub.url("ttfb=0.3"))", input: records(10))
    #expect(objects(result.out).count == 10)
    #expect(try stub.stats()["max_in_flight"] as? Int == 3)
  }

  @Test func rateLimitsLowerTheConcurrencyForAWhile() throws {
    let stub = try Stub()
    // Every request is refused once with 429; the retries must not come back six at a time.
    let result = try run(
      "--provider openai --model m -j 6 --base-url \(stub.url("ttfb=0.2,fail=429:1,retry_after=0.1"))",
      input: records(6))
    #expect(
      objects(result.out).allSatisfy {
        $0["status"] as? String == "completed" && $0["attempts"] as? Int == 2
      })
    let spans = (try stub.stats()["spans"] as? [[Any]] ?? []).compactMap { span -> [Double]? in
      guard let start = span[0] as? Double, let end = span[1] as? Double else { return nil }
      return [start, end]
    }.sorted { $0[0] < $1[0] }
    #expect(spans.count == 12)
    let retries = Array(spans.suffix(6))
    let overlap =
      retries.map { span in retries.filter { $0[0] < span[1] && span[0] < $0[1] }.count }.max() ?? 0
    #expect(overlap <= 3, "retries overlapped \(overlap) at once after a 429")
  }

  @Test func progressLineWhenAsked() throws {
    let result = try run("--provider offline --progress", input: records(3))
    #expect(result.err.contains("call-llm: 3/3 done · 0 in flight · 0 failed"), "\(result.err)")
    #expect(result.err.hasSuffix("\n"))
  }

  @Test func keepOrderWritesInInputOrder() throws {
    let stub = try Stub()
    let result = try run(
      "--provider openai --model m -j 8 --keep-order --base-url \(stub.url("tps=300"))",
      input: records(8))
    #expect(objects(result.out).map { $0["id"] as? String } == (1...8).map { "s\($0)" })
  }

  @Test func eventsStreamBetweenRecords() throws {
    let stub = try Stub()
    let events = FileManager.default.temporaryDirectory.appendingPathComponent(
      "events-\(UUID().uuidString).ndjson"
    ).path
    let result = try run(
      "--provider openai --model m --events --events-file \(events) --base-url \(stub.url("words=5"))",
      input: records(1))
    let kinds = lines(result.out).map { $0["event"] as? String ?? "record" }
    #expect(
      kinds == [
        "section_start", "chunk", "chunk", "chunk", "chunk", "chunk", "attempt",
        "section_complete", "record",
      ])
    let chunks = lines(result.out).filter { $0["event"] as? String == "chunk" }.compactMap {
      $0["text"] as? String
    }.joined()
    #expect(
      chunks.trimmingCharacters(in: .whitespaces)
        == (objects(result.out).last?["content"] as? String))
    let fileEvents = lines(try String(contentsOfFile: events, encoding: .utf8))
    #expect(
      fileEvents.count == 8
        && fileEvents.allSatisfy { $0["ts"] is String && $0["doc"] as? String == "t" })
  }

  @Test func upstreamFailuresAndEventsPassThroughUnchanged() throws {
    let input =
      #"{"event":"stage","ts":"2026-11-21T08:00:00.000Z","stage":1,"sections":["a"]}"# + "\n"
      + #"{"id":"a","status":"failed","error":{"type":"template","message":"prompts/a.mustache:3: no variable 'x'","retryable":false},"custom":1.50}"#
      + "\n"
    let result = try run("--provider offline", input: Data(input.utf8))
    #expect(result.out == input)
    #expect(result.status == 1)
  }

  @Test func recordsThatCannotBeSentFailWithAHint() throws {
    let input =
      #"{"id":"a","title":"A","status":"pending"}"# + "\n"
      + #"{"id":"b","status":"pending","llm":{"provider":"opena"},"messages":[{"role":"user","content":"x"}]}"#
      + "\n"
    let result = try Harness.run(
      "call-llm --no-cache", stdin: Data(input.utf8), environment: ["SHEAF_PROVIDER": ""])
    let out = objects(result.out)
    #expect(
      (out[0]["error"] as? [String: Any])?["hint"] as? String
        == "put build-prompt before call-llm: plan-sections plan.json | build-prompt | call-llm")
    #expect(
      (out[1]["error"] as? [String: Any])?["message"] as? String
        == "unknown provider 'opena' (known: openai, anthropic, ollama, offline)")
    #expect(result.status == 1)
    let usage = try Harness.run("call-llm --provider opena < /dev/null")
    #expect(usage.status == 2)
    #expect(
      usage.err
        == "call-llm: unknown provider 'opena' (known: openai, anthropic, ollama, offline) (see 'call-llm --help')\n"
    )
  }

  @Test func settingsComeFromFlagThenEnvironmentThenRecord() throws {
    let stub = try Stub()
    let input = records(
      1,
      extra:
        #""llm":{"provider":"anthropic","model":"from-record","base_url":"http://127.0.0.1:9"},"#)
    let fromEnv = try run(
      "", input: input,
      env: ["SHEAF_PROVIDER": "openai", "SHEAF_MODEL": "from-env", "SHEAF_BASE_URL": stub.url()])
    #expect(objects(fromEnv.out).first?["model"] as? String == "from-env")
    #expect(objects(fromEnv.out).first?["provider"] as? String == "openai")
    let fromFlag = try run(
      "--model from-flag", input: input,
      env: ["SHEAF_PROVIDER": "openai", "SHEAF_MODEL": "from-env", "SHEAF_BASE_URL": stub.url()])
    #expect(objects(fromFlag.out).first?["model"] as? String == "from-flag")
  }

  @Test func theKeyNeverAppearsInAnyOutput() throws {
    let stub = try Stub()
    let key = "sk-test-\(UUID().uuidString)"
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "keycheck-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    for knobs in ["", "fail=401", "fail=500:1"] {
      let result = try run(
        "--provider openai --model m-\(knobs.isEmpty ? "ok" : knobs) --events --events-file \(dir)/events.ndjson --log \(dir)/log.ndjson --log-prompts --base-url \(stub.url(knobs))",
        input: records(2), env: ["OPENAI_API_KEY": key])
      #expect(!result.out.contains(key) && !result.err.contains(key))
    }
    let auth = try stub.stats()["auth"] as? [String?] ?? []
    #expect(auth.contains("Bearer \(key)"), "the key was sent to the provider")
    for folder in [dir, cache] {
      let files = FileManager.default.enumerator(atPath: folder)?.compactMap { $0 as? String } ?? []
      #expect(!files.isEmpty)
      for file in files {
        let text = (try? String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8)) ?? ""
        #expect(!text.contains(key), "\(file) holds the key")
      }
    }
  }

  @Test func ctrlCCancelsInFlightKeepsCompletedAndTheCache() throws {
    let stub = try Stub()
    let url = stub.url("tps=8,words=8")
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "cancel-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    try records(3).write(to: URL(fileURLWithPath: "\(scratch)/in.ndjson"))
    // About 1 s per record at -j 1: interrupt during the second.
    let script = """
      call-llm --cache \(cache) --provider openai --model m -j 1 --base-url \(url) < \(scratch)/in.ndjson > \(scratch)/out.ndjson &
      pid=$!; sleep 1.6; start=$(date +%s.%N); kill -INT $pid; wait $pid; status=$?; end=$(date +%s.%N)
      echo "$status $(echo "$end - $start" | bc)"
      """
    let result = try Harness.run(script)
    let parts = result.out.split(separator: " ")
    #expect(parts.first == "130", "\(result.out) \(result.err)")
    #expect(
      (Double(parts.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "9") ?? 9) < 1.0,
      "stopped in \(parts.last ?? "?") s")
    let out = objects(try String(contentsOfFile: "\(scratch)/out.ndjson", encoding: .utf8))
    #expect(out.map { $0["status"] as? String } == ["completed", "cancelled", "cancelled"])
    #expect((out[1]["error"] as? [String: Any])?["type"] as? String == "cancelled")
    let again = try run("--provider openai --model m -j 1 --base-url \(url)", input: records(3))
    #expect(objects(again.out).first?["cache"] as? String == "hit")
    #expect(try stub.requests() == 4, "the completed answer was not asked for again")
  }
}
