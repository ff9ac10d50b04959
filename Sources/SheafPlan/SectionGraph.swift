import SheafCore
import SheafValidate

/// A section as it runs: the plan's section with its dependencies narrowed to the selected mode,
/// its stage resolved and its place in the document set.
public struct PlannedSection {
  /// The plan's section, with `dependsOn` and `context` narrowed to the sections of the mode.
  public var section: PlanSection
  /// Position in the final document (1-based, among the sections of the mode).
  public var order: Int
  /// The stage: the plan's, or the depth in the dependency graph.
  public var stage: Int
}

/// The sections of one mode of a plan, ordered so that every section comes after everything it
/// depends on (`depends_on` and `context`), then by stage and plan order.
public struct SectionGraph {
  /// The plan.
  public let plan: Plan
  /// The selected mode, if any.
  public let mode: String?
  /// The sections of the mode in execution order.
  public let sections: [PlannedSection]

  /// Selects `mode` (the plan's default when `nil`), resolves stages and orders the sections.
  /// - Throws: `PlanProblems` for an unknown mode or a stage earlier than a dependency's.
  public init(plan: Plan, mode requested: String?) throws {
    self.plan = plan
    let mode = requested ?? plan.defaultMode
    if let mode, !plan.modes.contains(mode) {
      let known =
        plan.modes.isEmpty
        ? "the plan defines no modes" : "known: \(plan.modes.joined(separator: ", "))"
      throw PlanProblems(lines: ["unknown mode '\(mode)' (\(known))"])
    }
    self.mode = mode
    let selected = plan.sections.filter { section in
      guard let mode, let modes = section.modes else { return true }
      return modes.contains(mode)
    }
    let ids = Set(selected.map(\.id))
    var narrowed = selected
    for index in narrowed.indices {
      narrowed[index].dependsOn.removeAll { !ids.contains($0) }
      narrowed[index].context.removeAll { !ids.contains($0) }
    }

    // Kahn's algorithm; among the ready sections, the lowest (stage, plan order) goes first.
    let position = Dictionary(uniqueKeysWithValues: narrowed.enumerated().map { ($1.id, $0) })
    var remaining = narrowed.map { Set($0.dependsOn + $0.context).count }
    var dependents = [[Int]](repeating: [], count: narrowed.count)
    for (index, section) in narrowed.enumerated() {
      for dependency in Set(section.dependsOn + section.context) {
        if let at = position[dependency] { dependents[at].append(index) }
      }
    }
    var stage = [Int](repeating: 1, count: narrowed.count)
    var problems: [String] = []
    // A section's stage is known once everything it depends on is placed.
    func resolveStage(_ index: Int) {
      let section = narrowed[index]
      let dependencies = Set(section.dependsOn + section.context).compactMap { id in
        position[id].map { (id, stage[$0]) }
      }
      let latest = dependencies.max { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 > $1.0) }
      if let explicit = section.stage {
        if let latest, latest.1 > explicit {
          problems.append(
            "section '\(section.id)' is in stage \(explicit) but depends on '\(latest.0)' in stage \(latest.1)"
          )
        }
        stage[index] = explicit
      } else {
        stage[index] = (latest?.1 ?? 0) + 1
      }
    }
    // The ready sections in a binary heap on (stage, plan order): n log n for any shape.
    var ready = MinHeap<(Int, Int)>(by: <)
    for index in narrowed.indices where remaining[index] == 0 {
      resolveStage(index)
      ready.push((stage[index], index))
    }
    var ordered: [PlannedSection] = []
    ordered.reserveCapacity(narrowed.count)
    while let (_, index) = ready.pop() {
      ordered.append(
        PlannedSection(section: narrowed[index], order: index + 1, stage: stage[index]))
      for dependent in dependents[index] {
        remaining[dependent] -= 1
        if remaining[dependent] == 0 {
          resolveStage(dependent)
          ready.push((stage[dependent], dependent))
        }
      }
    }
    guard problems.isEmpty else { throw PlanProblems(lines: problems) }
    sections = ordered
  }

  /// The sections that depend on `id` through `depends_on` or `context`, directly or not, in
  /// execution order (not `id` itself).
  public func affected(by id: String) -> [PlannedSection] {
    var affected: Set<String> = [id]
    // Execution order puts every dependency first, so one pass collects the whole closure.
    for planned in sections
    where !affected.contains(planned.section.id)
      && (planned.section.dependsOn + planned.section.context).contains(where: affected.contains)
    {
      affected.insert(planned.section.id)
    }
    affected.remove(id)
    return sections.filter { affected.contains($0.section.id) }
  }

  /// A dependency cycle among the plan's sections, as ids from a section back to itself.
  ///
  /// Depth-first with an explicit stack, so a chain of a million sections needs no recursion.
  public static func findCycle(_ sections: [PlanSection]) -> [String]? {
    let position = Dictionary(
      sections.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
    let edges: [[Int]] = sections.map { ($0.dependsOn + $0.context).compactMap { position[$0] } }
    var color = [UInt8](repeating: 0, count: sections.count)  // 0 new, 1 on the path, 2 done
    var place = [Int](repeating: -1, count: sections.count)  // where a node on the path sits
    var path: [Int] = []
    var next: [Int] = []  // per path entry: the next edge to follow
    for root in sections.indices where color[root] == 0 {
      color[root] = 1
      place[root] = 0
      path = [root]
      next = [0]
      while let node = path.last {
        let edge = next[next.count - 1]
        guard edge < edges[node].count else {
          color[node] = 2
          path.removeLast()
          next.removeLast()
          continue
        }
        next[next.count - 1] += 1
        let target = edges[node][edge]
        if color[target] == 1 {
          // Print it in the direction work flows: from the dependency to its dependent.
          let cycle = (path[place[target]...].map { sections[$0].id } + [sections[target].id])
            .reversed()
          return Array(cycle)
        }
        if color[target] == 0 {
          color[target] = 1
          place[target] = path.count
          path.append(target)
          next.append(0)
        }
      }
    }
    return nil
  }

  /// A cycle for a message: `a -> b -> c -> a`, or its first and last few ids with how many stand
  /// between them when it is long.
  public static func describe(cycle: [String], keep: Int = 6) -> String {
    guard cycle.count > keep * 2 + 1 else { return cycle.joined(separator: " -> ") }
    let hidden = cycle.count - keep * 2
    return (cycle.prefix(keep) + ["… (\(hidden) more) …"] + cycle.suffix(keep)).joined(
      separator: " -> ")
  }
}

/// A binary min-heap.
struct MinHeap<Element> {
  private var items: [Element] = []
  private let less: (Element, Element) -> Bool

  init(by less: @escaping (Element, Element) -> Bool) {
    self.less = less
  }

  var isEmpty: Bool { items.isEmpty }

  mutating func push(_ item: Element) {
    items.append(item)
    var child = items.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard less(items[child], items[parent]) else { break }
      items.swapAt(child, parent)
      child = parent
    }
  }

  mutating func pop() -> Element? {
    guard !items.isEmpty else { return nil }
    items.swapAt(0, items.count - 1)
    let top = items.removeLast()
    var parent = 0
    while true {
      let left = parent * 2 + 1
      let right = left + 1
      var smallest = parent
      if left < items.count && less(items[left], items[smallest]) { smallest = left }
      if right < items.count && less(items[right], items[smallest]) { smallest = right }
      guard smallest != parent else { break }
      items.swapAt(parent, smallest)
      parent = smallest
    }
    return top
  }
}
