import Foundation

/// How long the rest of a run will take: the one answer the live block, the `progress` events and
/// `make status` all give.
///
/// The sections left are scheduled as make would run them: a section starts when every section
/// it uses is done and one of the `jobs` slots is free, in plan order; each takes the mean time a
/// section has taken so far (in this run, else in earlier runs of the document), and one already
/// running takes what is left of that mean (at least a tenth of it). The answer is when the last
/// one ends.
public enum ETA {
  /// A section of the plan: its id and the sections it uses (`depends_on` and `context`).
  public typealias Section = (id: String, uses: [String])

  /// Seconds until every section not `done` is done, when `running` sections have been under way
  /// for the seconds given and a section takes `mean` seconds, `jobs` at a time.
  public static func seconds(
    sections: [Section], done: Set<String>, running: [String: Double], mean: Double, jobs: Int
  ) -> Double {
    let count = sections.count
    var index: [String: Int] = [:]
    index.reserveCapacity(count)
    for (position, section) in sections.enumerated() { index[section.id] = position }
    var finished = sections.map { done.contains($0.id) }
    var waiting = [Int](repeating: 0, count: count)
    var dependents = [[Int]](repeating: [], count: count)
    for (position, section) in sections.enumerated() where !finished[position] {
      for used in section.uses {
        guard let other = index[used], !finished[other], other != position else { continue }
        waiting[position] += 1
        dependents[other].append(position)
      }
    }
    var queue = EndQueue()
    var inFlight = 0
    var ready: [Int] = []
    for (position, section) in sections.enumerated() where !finished[position] {
      if let elapsed = running[section.id] {
        queue.push(max(mean - elapsed, mean / 10), position)
        inFlight += 1
      } else if waiting[position] == 0 {
        ready.append(position)
      }
    }
    var next = 0
    var now = 0.0
    let slots = max(1, jobs)
    while true {
      while inFlight < slots, next < ready.count {
        queue.push(now + mean, ready[next])
        next += 1
        inFlight += 1
      }
      guard let (end, position) = queue.pop() else { break }
      now = end
      inFlight -= 1
      finished[position] = true
      for dependent in dependents[position] {
        waiting[dependent] -= 1
        if waiting[dependent] == 0 && running[sections[dependent].id] == nil {
          ready.append(dependent)
        }
      }
    }
    return now
  }
}

/// The sections under way by the time each ends: the earliest first (a binary heap).
private struct EndQueue {
  private var items: [(end: Double, position: Int)] = []

  mutating func push(_ end: Double, _ position: Int) {
    items.append((end, position))
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard items[child].end < items[parent].end else { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> (Double, Int)? {
    guard let first = items.first else { return nil }
    let last = items.removeLast()
    if !items.isEmpty {
      items[0] = last
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var smallest = parent
        if left < items.count, items[left].end < items[smallest].end { smallest = left }
        if right < items.count, items[right].end < items[smallest].end { smallest = right }
        guard smallest != parent else { break }
        items.swapAt(parent, smallest)
        parent = smallest
      }
    }
    return (first.end, first.position)
  }
}
