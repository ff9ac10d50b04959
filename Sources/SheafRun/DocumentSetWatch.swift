import Foundation
import SheafCore

extension DocumentSet {
  /// The set live: `make watch PLAN= ROWS=`, and the live view of `make docs` in a terminal.
  ///
  /// The documents being built (a run holds its lock), each with its sections done, then the
  /// set's totals, drawn again twice a second. Not a terminal: the totals, each time they change.
  ///
  /// With `untilComplete`, it ends once no make docs of the set is under way (it holds the set's
  /// lock) and no document is being built, after one was or when none is left to start; it also
  /// ends when the process that started it is gone.
  public static func watch(_ options: Options, untilComplete: Bool) throws -> ExitStatus {
    // Ids and run directories only: what they were built from is not this view's question.
    let (plan, documents, _) = try rows(options)
    let members = documents.map { (id: $0.id, layout: RunLayout("\(options.runs)/\($0.id)")) }
    let writer = RecordWriter()
    let terminal = isatty(1) != 0
    let parent = getppid()
    let start = Date()
    var last = ""
    var seenRunning = false
    let set = SetLayout(runs: options.runs, plan: plan.id, shard: options.shard)
    var seenSet = false
    while true {
      var counts: [String: Int] = [:]
      var lines: [String] = []
      var running = 0
      let held = LockedFile.heldFlocks()
      let setHeld = LockedFile.isHeld(set.lock, among: held)
      seenSet = seenSet || setHeld
      for member in members {
        if LockedFile.isHeld(member.layout.lock, among: held) {
          running += 1
          let progress = JSON.readObject(member.layout.progress)
          let done = progress?["done"]?.int ?? 0
          let total = progress?["total"]?.int ?? 0
          let writing = progress?["running"]?.count ?? 0
          lines.append(
            "\(RunView.mark("processing")) \(member.id)  \(done)/\(total) sections · \(writing) being written"
          )
          continue
        }
        counts[DocumentSet.status(JSON.readObject(member.layout.summary)), default: 0] += 1
      }
      seenRunning = seenRunning || running > 0
      counts["building"] = running
      let order = DocumentSet.statusOrder
      let tally = order.compactMap { key in counts[key].flatMap { $0 > 0 ? "\($0) \(key)" : nil } }
      let totals =
        "\(plan.id): \(members.count) document\(members.count == 1 ? "" : "s"): \(tally.joined(separator: ", ")) · \(RunView.clock(Date().timeIntervalSince(start)))"
      if terminal {
        let shown = lines.prefix(30) + (lines.count > 30 ? ["… and \(lines.count - 30) more"] : [])
        try writer.writeText(
          "\u{1B}[H\u{1B}[2J" + (shown + [totals]).joined(separator: "\n") + "\n")
      } else if tally != last.split(separator: "\u{0}").map(String.init) {
        try writer.writeText(totals + "\n")
        last = tally.joined(separator: "\u{0}")
      }
      let pending = counts["pending"] ?? 0
      // The make docs under way holds its set's lock: between two documents none holds its own.
      if untilComplete && running == 0 && !setHeld && (seenSet || seenRunning || pending == 0) {
        break
      }
      if getppid() != parent { break }
      usleep(500_000)
    }
    return .completed
  }
}
