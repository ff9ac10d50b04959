import Foundation
import SheafCore
import Testing

@testable import SheafLLM

/// The batch folder of a set: what is queued, what is at the provider, what came back.
struct BatchStoreTests {
  func store() -> BatchStore {
    BatchStore(directory: NSTemporaryDirectory() + "sheaf-batch-\(UUID().uuidString)")
  }

  func request(_ text: String) -> HTTPRequest {
    HTTPRequest(
      url: "http://127.0.0.1:1/v1/chat/completions",
      headers: ["Authorization: Bearer sk-secret-key"],
      body:
        #"{"model":"m","messages":[{"role":"user","content":"\#(text)"}],"stream":true,"stream_options":{"include_usage":true}}"#
    )
  }

  func item(_ text: String) throws -> BatchItem {
    try #require(
      BatchStore.item(
        request(text), provider: "openai", baseURL: "http://127.0.0.1:1/v1",
        keyVariable: "OPENAI_API_KEY", section: "pitch", doc: "lark"))
  }

  @Test func aBatchRequestDoesNotStreamAndItsKeyIsItsContent() throws {
    let one = try item("hello")
    #expect(one.body["stream"] == nil && one.body["stream_options"] == nil)
    #expect(one.key == (try item("hello")).key)
    #expect(one.key != (try item("hello!")).key)
    #expect(one.key.count == 64)
  }

  @Test func aRequestAtTheProviderIsNotQueuedTwiceAndNoKeyIsWritten() throws {
    let store = store()
    let one = try item("hello")
    #expect(try store.enqueue(one))
    #expect(store.queued().map(\.key) == [one.key])
    try store.keep(
      JSON.object(["id": JSON("batch_1"), "provider": JSON("openai")]), name: "1-1-openai.json",
      keys: [one.key])
    #expect(store.queued().isEmpty)
    #expect(try store.enqueue(one) == false, "it is in a batch not yet read")
    #expect(store.openBatches().map(\.name) == ["1-1-openai.json"])
    try store.storeResult(one.key, status: 500, body: "{}", batch: "batch_1")
    #expect(store.result(one.key)?.errors == 1)
    #expect(try store.enqueue(one), "read: it may go into the next wave")
    let written = try FileManager.default.subpathsOfDirectory(atPath: store.directory).compactMap {
      try? String(contentsOfFile: store.directory + "/" + $0, encoding: .utf8)
    }
    #expect(!written.contains { $0.contains("sk-secret-key") })
  }

  /// A run killed between keeping a batch and marking its requests (or between reading a batch
  /// and unmarking them): the wave step makes `sent/` agree with the open batches again.
  @Test func whatIsSentIsMadeToAgreeWithTheOpenBatches() throws {
    let store = store()
    let one = try item("one")
    let two = try item("two")
    try store.keep(
      JSON.object([
        "id": JSON("batch_1"), "provider": JSON("openai"), "keys": .array([JSON(one.key)]),
      ]),
      name: "1-1-openai.json", keys: [one.key, two.key])
    unlink("\(store.directory)/sent/\(one.key)")
    #expect(try store.enqueue(one), "its mark was lost")
    #expect(try store.enqueue(two) == false)
    try store.syncSent()
    #expect(try store.enqueue(one) == false, "in an open batch")
    #expect(try store.enqueue(two), "in no open batch: its mark is gone")
  }

  @Test func theBatchPriceIsThePriceLessItsDiscount() throws {
    let price = try #require(Price(try JSON.parse(#"{"input": 3, "output": 15}"#)))
    #expect(price.batched.cost(input: 1_000_000, output: 1_000_000) == 9)
    let own = try #require(
      Price(try JSON.parse(#"{"input": 3, "output": 15, "batch_discount": 0.25}"#)))
    #expect(own.batched.cost(input: 1_000_000, output: 0) == 2.25)
    let wrong = try #require(
      Price(try JSON.parse(#"{"input": 3, "output": 15, "batch_discount": 2}"#)))
    #expect(wrong.batchDiscount == 0.5, "a discount outside 0…1 is not taken")
  }
}
