import Foundation
import SheafCore

/// A spending limit in USD: no request starts once what was spent plus what is in flight (each
/// request counted at its estimate until its answer says what it cost) would pass it.
///
/// With a ledger file (a run's `budget.json`, under `flock`) every call-llm process of the run
/// shares it; a request in flight is counted under its process id, so the reservations of a process
/// that died (kill -9) are dropped by the next process that reads the ledger. A request sent in a
/// provider batch is counted under no process (pid 0) until the pass that reads its answer.
final class Budget {
  /// The limit.
  let limit: Double
  private let path: String?
  /// The ledger when no file is shared.
  private var local = Ledger()

  struct Ledger {
    var spent = 0.0
    /// Reservations: (process id, section id, USD).
    var reserved: [(pid: Int32, id: String, usd: Double)] = []

    var inFlight: Double { reserved.reduce(0) { $0 + $1.usd } }
  }

  /// A budget of `limit` USD, shared through `path` when given.
  init(limit: Double, path: String?) {
    self.limit = limit
    self.path = path
  }

  /// Reserves `estimate` for a request of section `id`; `nil` when it fits, else the error that
  /// says why it may not start.
  ///
  /// A `kept` reservation is no process's: a request sent in a provider batch, whose answer
  /// another process reads (its id names the request).
  func reserve(_ estimate: Double, id: String, kept: Bool = false) -> SheafError? {
    var refusal: SheafError?
    update { ledger in
      let after = ledger.spent + ledger.inFlight + estimate
      guard after <= limit + 1e-9 else {
        refusal = SheafError(
          .quota,
          String(
            format:
              "not started: the budget of $%.4f would be passed (spent $%.4f, in flight $%.4f, this request about $%.4f)",
            limit, ledger.spent, ledger.inFlight, estimate),
          hint: "raise BUDGET (or llm.max_cost, or --budget), then run again: what is done is kept")
        return
      }
      ledger.reserved.append((kept ? 0 : getpid(), id, estimate))
    }
    return refusal
  }

  /// A request of section `id` ended (`kept`: a batch's request was read): its reservation goes,
  /// and what it cost is spent.
  func settle(id: String, cost: Double, kept: Bool = false) {
    let owner = kept ? 0 : getpid()
    update { ledger in
      if let index = ledger.reserved.firstIndex(where: { $0.pid == owner && $0.id == id }) {
        ledger.reserved.remove(at: index)
      }
      ledger.spent = Price.rounded(ledger.spent + max(0, cost))
    }
  }

  /// What was spent so far.
  var spent: Double {
    var value = 0.0
    update { value = $0.spent }
    return value
  }

  private func update(_ change: (inout Ledger) -> Void) {
    guard let path else {
      change(&local)
      return
    }
    let shared = LockedFile.update(path, exclusive: true) { json in
      var ledger = Ledger()
      ledger.spent = json?["spent"]?.double ?? 0
      for entry in json?["reserved"]?.array ?? [] {
        // A reservation of a process that is gone (kill -9) is dropped.
        guard let pid = entry["pid"]?.int.map({ Int32(truncatingIfNeeded: $0) }),
          let id = entry["id"]?.string, let usd = entry["usd"]?.double,
          pid == 0 || pid == getpid() || kill(pid, 0) == 0 || errno == EPERM
        else { continue }
        ledger.reserved.append((pid, id, usd))
      }
      change(&ledger)
      let out = JSON.object()
      out["limit"] = JSON(limit)
      out["spent"] = JSON(ledger.spent)
      out["reserved"] = .array(
        ledger.reserved.map {
          .object(["pid": JSON(Int($0.pid)), "id": JSON($0.id), "usd": JSON($0.usd)])
        })
      return out
    }
    if !shared { change(&local) }
  }
}
