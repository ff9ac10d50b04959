import Foundation
import SheafCore

/// The rate limits the call-llm processes of one run share, per provider and base URL, so that a
/// 429 in one section slows every section of the run as it slows every request of one
/// `call-llm -j`.
///
/// Two things are shared through small files in one folder (a run's `rate/`), under `flock`:
/// the cool-down (`until`, wall-clock seconds: no request starts before it) and the concurrency
/// (`limit`: halved by a 429 and grown back by one per answer once the cool-down is over). A
/// request holds a slot, an exclusive `flock` on one of `limit` slot files, for as long as it is
/// in flight; a slot dies with its process (kill -9 included), so nothing leaks.
final class SharedRateLimit {
  /// How often a start held back by the shared limit is tried again.
  static let pollInterval = 0.1
  /// The concurrency when no 429 has lowered it.
  static let maxSlots = 64

  private let directory: String

  /// The shared state in `directory` (created when missing).
  /// - Throws: `ToolFailure` when the folder cannot be created.
  init(directory: String) throws {
    self.directory = directory
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw ToolFailure.usage(
        "\(directory): cannot create the shared rate-limit folder: \(error.localizedDescription)")
    }
  }

  /// A held slot: released when closed (or when the process ends).
  final class Slot {
    private var descriptor: Int32

    init(_ descriptor: Int32) {
      self.descriptor = descriptor
    }

    func release() {
      if descriptor >= 0 { close(descriptor) }
      descriptor = -1
    }

    deinit { release() }
  }

  private func base(_ key: String) -> String {
    "\(directory)/\(SHA256.hex(key).prefix(16))"
  }

  private static var wallNow: Double { Date().timeIntervalSince1970 }

  /// A slot for a request to `key`, or `nil` while the cool-down holds or every slot is taken.
  func acquire(_ key: String) -> Slot? {
    let state = withState(key, exclusive: false) { _ in }.state
    if let until = state.until, until > Self.wallNow { return nil }
    let limit = min(Self.maxSlots, state.limit ?? Self.maxSlots)
    for index in 0..<limit {
      let fd = open("\(base(key)).slot.\(index)", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
      guard fd >= 0 else { continue }
      if flock(fd, LOCK_EX | LOCK_NB) == 0 { return Slot(fd) }
      close(fd)
    }
    return nil
  }

  /// A 429 for `key`: no request of the run starts for `seconds`, and half as many run at once.
  func rateLimited(_ key: String, for seconds: Double) {
    let busy = slotsInUse(key)
    _ = withState(key, exclusive: true) { state in
      state.until = max(state.until ?? 0, Self.wallNow + seconds)
      state.limit = max(1, min(state.limit ?? Self.maxSlots, max(busy, 1)) / 2)
    }
  }

  /// An answer for `key`: once the cool-down is over, the limit grows back by one.
  func answered(_ key: String) {
    let state = withState(key, exclusive: false) { _ in }.state
    guard state.limit != nil, (state.until ?? 0) <= Self.wallNow else { return }
    _ = withState(key, exclusive: true) { state in
      guard let limit = state.limit else { return }
      state.limit = limit + 1 >= Self.maxSlots ? nil : limit + 1
    }
  }

  private var lastMark: [String: Double] = [:]

  /// A response to `key` is streaming: the server is busy with this run (marked at most once a
  /// second per process, as the modification time of a small file).
  func streaming(_ key: String) {
    let now = Self.wallNow
    guard now - (lastMark[key] ?? 0) >= 1 else { return }
    lastMark[key] = now
    let fd = open(base(key) + ".busy", O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    _ = futimens(fd, nil)
    close(fd)
  }

  /// Seconds since a response to `key` last streamed in any process of the run (`nil`: never).
  func sinceStreaming(_ key: String) -> Double? {
    var info = stat()
    guard stat(base(key) + ".busy", &info) == 0 else { return nil }
    let modified = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
    return max(0, Self.wallNow - modified)
  }

  /// How many slots are held now, by any process.
  private func slotsInUse(_ key: String) -> Int {
    var busy = 0
    for index in 0..<Self.maxSlots {
      let fd = open("\(base(key)).slot.\(index)", O_RDWR | O_CLOEXEC)
      guard fd >= 0 else { break }
      if flock(fd, LOCK_EX | LOCK_NB) == 0 { flock(fd, LOCK_UN) } else { busy += 1 }
      close(fd)
    }
    return busy
  }

  struct State {
    var until: Double?
    var limit: Int?
    /// The provider's window as its rate-limit headers told it (RatePace), shared by the run.
    var pace = RatePace()
  }

  /// Starts a request to `key` now if the provider's own headers allow (its start time, which
  /// `paceObserve` is given back); `nil` while its window has nothing left, until it resets.
  func paceStart(_ key: String) -> Double? {
    var started: Double?
    let now = Self.wallNow
    let read = withState(key, exclusive: true) { state in started = state.pace.start(now: now) }
    // A state that cannot be read or locked never holds a request (the 429 rules still apply).
    return read.ok ? started : now
  }

  /// The rate-limit headers of the answer to a request to `key` sent at `sentAt` (wall clock),
  /// or, with none, that it ended.
  func paceObserve(_ key: String, _ window: RateWindow?, sentAt: Double) {
    _ = withState(key, exclusive: true) { state in
      if let window {
        state.pace.observe(window, sentAt: sentAt, now: Self.wallNow)
      } else {
        state.pace.forget(sentAt: sentAt)
      }
    }
  }

  /// Reads the state of `key` under a lock (shared to read, exclusive to change it through
  /// `change`); a file that cannot be read counts as no state.
  private func withState(_ key: String, exclusive: Bool, _ change: (inout State) -> Void)
    -> (state: State, ok: Bool)
  {
    var state = State()
    let ok = LockedFile.update(base(key) + ".json", exclusive: exclusive) { json in
      state.until = json?["until"]?.double
      state.limit = json?["limit"]?.int
      state.pace.left = json?["left"]?.int
      state.pace.reset = json?["reset"]?.double
      state.pace.limit = json?["window"]?.int
      state.pace.since = json?["since"]?.double
      state.pace.starts = json?["starts"]?.array?.compactMap(\.double) ?? []
      state.pace.said = json?["said"]?.int
      state.pace.lost = json?["lost"]?.int ?? 0
      guard exclusive else { return nil }
      change(&state)
      // Never the base URL itself (it may carry credentials): the file is named by its hash.
      let out = JSON.object()
      out["until"] = state.until.map { JSON($0) } ?? .null
      out["limit"] = state.limit.map { JSON($0) } ?? .null
      out["left"] = state.pace.left.map { JSON($0) } ?? .null
      out["reset"] = state.pace.reset.map { JSON($0) } ?? .null
      out["window"] = state.pace.limit.map { JSON($0) } ?? .null
      out["since"] = state.pace.since.map { JSON($0) } ?? .null
      out["starts"] = JSON.array(state.pace.starts.map { JSON($0) })
      out["said"] = state.pace.said.map { JSON($0) } ?? .null
      out["lost"] = JSON(state.pace.lost)
      return out
    }
    return (state, ok)
  }
}
