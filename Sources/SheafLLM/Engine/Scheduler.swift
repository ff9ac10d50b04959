import SheafCore

/// Who goes next: the queue, `-j` transfers at once, retries at their time, and the 429 rule (a
/// rate limit halves the concurrency until the cool-down ends; then it grows back by one a pass of
/// the event loop).
///
/// It reads an
/// injectable clock, so every rule is tested without waiting.
final class Scheduler<Item: AnyObject> {
  private let clock: EngineClock
  /// The `-j` the user asked for.
  let jobs: Int
  /// The concurrency in force (halved by a 429).
  private(set) var limit: Int
  /// Until when the halved concurrency holds.
  private(set) var cooldownUntil = 0.0
  private var queue: [Item] = []
  private var waiting: [(item: Item, at: Double)] = []
  /// Transfers under way.
  private(set) var active = 0

  /// A scheduler for `jobs` at once.
  init(jobs: Int, clock: EngineClock) {
    self.jobs = max(1, jobs)
    limit = self.jobs
    self.clock = clock
  }

  /// Items queued or waiting for a retry (not the active ones).
  var pending: Int { queue.count + waiting.count }

  /// Whether nothing is queued, waiting or running.
  var isIdle: Bool { queue.isEmpty && waiting.isEmpty && active == 0 }

  /// A new item, at the back of the queue.
  func add(_ item: Item) {
    queue.append(item)
  }

  /// An item whose attempt failed, to start again after `delay` seconds.
  func retry(_ item: Item, after delay: Double) {
    waiting.append((item, clock.now + max(0, delay)))
  }

  /// A 429: half as many at once, for at least 5 seconds or as long as the provider asked.
  func rateLimited(retryAfter: Double?) {
    limit = max(1, limit / 2)
    cooldownUntil = clock.now + max(retryAfter ?? 10, 5)
  }

  /// The next item to start now, if the limit allows: due retries first (they have waited
  /// already), then the queue.
  ///
  /// The caller starts it and calls `ended()` when its attempt ends.
  func next() -> Item? {
    let now = clock.now
    let due = waiting.filter { $0.at <= now }.map(\.item)
    if !due.isEmpty {
      waiting.removeAll { $0.at <= now }
      queue.insert(contentsOf: due, at: 0)
    }
    guard active < limit, !queue.isEmpty else { return nil }
    active += 1
    return queue.removeFirst()
  }

  /// An item `next()` gave that cannot start after all (a limit outside this process holds it):
  /// back at the front of the queue.
  func putBack(_ item: Item) {
    active = max(0, active - 1)
    queue.insert(item, at: 0)
  }

  /// One pass of the event loop: once the cool-down is over, the limit grows back by one.
  func tick() {
    if limit < jobs && clock.now >= cooldownUntil { limit += 1 }
  }

  /// An attempt ended (answer, failure or retry scheduled).
  func ended() {
    active = max(0, active - 1)
  }

  /// When the scheduler next has something to do: now when an item can start, else the earliest
  /// retry (or the end of the cool-down when that is what holds the queue back).
  var nextWake: Double? {
    let now = clock.now
    if !queue.isEmpty && active < limit { return now }
    var wake = waiting.map(\.at).min()
    if !queue.isEmpty && limit < jobs { wake = min(wake ?? cooldownUntil, cooldownUntil) }
    return wake
  }

  /// Every item not running (queued or waiting), in no particular order; the scheduler is left
  /// empty of them.
  func takeAll() -> [Item] {
    let all = queue + waiting.map(\.item)
    queue = []
    waiting = []
    return all
  }
}
