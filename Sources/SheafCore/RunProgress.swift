import Foundation

/// The `progress` event of one section of a staged run, at one phase of its pipeline (`PREP` in
/// `sheaf-run deps`, `AI_CALL` and `PARSE` in call-llm, `SAVE` and `DONE` in `sheaf-run save`),
/// with the document's counts and an ETA that follows the stages: the sections left in each
/// stage run `J` at a time (`SHEAF_JOBS`), one stage after another, at the mean time a section
/// has taken so far.
public enum RunProgress {
  /// The phases, in order.
  public static let phases = ["INIT", "PREP", "AI_CALL", "PARSE", "SAVE", "DONE"]

  /// The event for section `id` at `phase`, for the run in `runPath`.
  public static func event(runPath: String, id: String, phase: String, doc: String?) -> JSON {
    let sectionsPath = runPath + "/sections"
    var stages: [String: Int] = [:]
    if let data = FileManager.default.contents(atPath: runPath + "/plan.ndjson") {
      for line in data.split(separator: 0x0A) {
        guard let record = try? line.withUnsafeBytes({ try JSON.parse($0) }),
          record["event"] == nil, let section = record["id"]?.string
        else { continue }
        stages[section] = record["stage"]?.int ?? 1
      }
    }
    // Done: the sections with a text (.md); their mean time from their records.
    var done = Set<String>()
    var seconds: [Double] = []
    for name in (try? FileManager.default.contentsOfDirectory(atPath: sectionsPath)) ?? []
    where name.hasSuffix(".md") && !name.hasPrefix(".") {
      let section = String(name.dropLast(3))
      guard stages[section] != nil else { continue }
      done.insert(section)
      if let data = FileManager.default.contents(atPath: "\(sectionsPath)/\(section).json"),
        let record = try? data.withUnsafeBytes({ try JSON.parse($0) }),
        let time = record["timing"]?["seconds"]?.double, time > 0
      {
        seconds.append(time)
      }
    }
    if phase == "DONE" { done.insert(id) }
    let jobs = max(1, Int(ProcessInfo.processInfo.environment["SHEAF_JOBS"] ?? "") ?? 4)
    var left: [Int: Int] = [:]
    for (section, stage) in stages where !done.contains(section) { left[stage, default: 0] += 1 }
    let mean = seconds.isEmpty ? nil : seconds.reduce(0, +) / Double(seconds.count)
    let rounds = left.values.reduce(0) { $0 + ($1 + jobs - 1) / jobs }
    return Event.make(
      .progress, doc: doc,
      fields: [
        "id": JSON(id), "phase": JSON(phase), "items_total": JSON(stages.count),
        "items_processed": JSON(done.count), "current_item": JSON(id),
        "eta_s": mean.map { JSON((Double(rounds) * $0 * 10).rounded() / 10) } ?? .null,
      ])
  }
}
