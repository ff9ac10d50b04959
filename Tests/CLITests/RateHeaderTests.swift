import Foundation
import Testing

/// call-llm paces itself by the provider's rate-limit headers (the stub's `limit` knob sends
/// OpenAI's and Anthropic's, and enforces the limit with 429s): no 429 is earned, alone or
/// across the processes of a staged run.
@Suite(.serialized) struct RateHeaderTests {
  let scratch = Harness.scratch("rate")

  @Test(arguments: [true, false])
  func oneCallLLMStaysUnderTheLimitItIsTold(openai: Bool) throws {
    let stub = try Stub()
    try records(24).write(to: URL(fileURLWithPath: scratch + "/in.ndjson"))
    let provider = openai ? "openai" : "anthropic"
    let started = Date()
    let result = try Harness.run(
      "call-llm --no-cache --retries 0 --provider \(provider) --model m -j 8 --base-url '\(stub.url("limit=8:2,words=5", openai: openai))' < '\(scratch)/in.ndjson'",
      environment: ["ANTHROPIC_API_KEY": "k", "OPENAI_API_KEY": "k"])
    let took = Date().timeIntervalSince(started)
    #expect(result.status == 0, "\(result.err.suffix(800))")
    let done = objects(result.out).filter { $0["status"] as? String == "completed" }
    #expect(done.count == 24)
    #expect(try stub.stats()["limited"] as? Int == 0, "no 429 earned")
    // 8 a window of 2 s: the third window is the earliest the last 8 can start.
    #expect(took >= 3.5, "\(took) s")
    #expect(took < 12, "\(took) s: held no longer than the windows")
  }

  /// The PRD's second stage runs six sections four at a time against 3 a window: each new
  /// window starts with the limit the headers said, not a burst.
  @Test func theSectionsOfAStagedRunShareWhatTheHeadersSay() throws {
    let stub = try Stub()
    let run = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' "
        + "PROVIDER=openai MODEL=stub BASE_URL='\(stub.url("limit=3:2,words=300"))' J=4 CALL_FLAGS='--no-cache --retries 0' doc PLAN=pipelines/prd/plan.json"
    )
    #expect(run.status == 0, "\(run.err.suffix(1500))")
    #expect(try stub.stats()["limited"] as? Int == 0, "no 429 across the run's processes")
    #expect(try stub.requests() == 12)
  }
}
