import Foundation
import Testing

@testable import SheafLLM

/// The rate limit the call-llm processes of one run share (two instances stand for two
/// processes: slots are `flock`s on separate open files, so they conflict as processes do).
struct SharedRateLimitTests {
  let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
    "rate-\(UUID().uuidString)"
  ).path

  @Test func aCooldownHoldsEveryProcessAndEndsOnTime() throws {
    let first = try SharedRateLimit(directory: folder)
    let second = try SharedRateLimit(directory: folder)
    let key = "openai http://127.0.0.1:1/v1"
    #expect(second.acquire(key) != nil)
    first.rateLimited(key, for: 0.5)
    #expect(second.acquire(key) == nil, "the other process waits out the cool-down")
    #expect(first.acquire("anthropic https://api.anthropic.com") != nil, "per provider and URL")
    Thread.sleep(forTimeInterval: 0.6)
    #expect(second.acquire(key) != nil)
  }

  @Test func a429HalvesTheSlotsInUseAndAnswersGrowThemBack() throws {
    let first = try SharedRateLimit(directory: folder)
    let second = try SharedRateLimit(directory: folder)
    let key = "ollama http://localhost:11434"
    let held = (0..<4).compactMap { _ in first.acquire(key) }
    #expect(held.count == 4)
    second.rateLimited(key, for: 0.05)
    Thread.sleep(forTimeInterval: 0.1)
    for slot in held { slot.release() }
    // Four were in flight: two may run now.
    let now = (0..<4).compactMap { _ in second.acquire(key) }
    #expect(now.count == 2)
    first.answered(key)
    let third = second.acquire(key)
    #expect(third != nil, "one more after an answer")
    #expect(second.acquire(key) == nil)
    withExtendedLifetime((now, third)) {}
  }

  @Test func aSlotDiesWithItsHolder() throws {
    let limit = try SharedRateLimit(directory: folder)
    let key = "openai http://x"
    limit.rateLimited(key, for: 0)
    var slot = limit.acquire(key)
    #expect(slot != nil)
    #expect(limit.acquire(key) == nil, "the limit is one")
    slot = nil
    #expect(limit.acquire(key) != nil, "released when its holder goes")
  }
}
