import Foundation
import Hummingbird
import Logging
import SheafCore
import SheafRun

/// The live page of one run (`sheaf-run serve --run runs/<doc>`): the document as it is written,
/// followed over server-sent events from `events.ndjson`, and the actions a person at a terminal
/// would take, behind a token.
///
/// It reads the run directory through the run's own types and never holds the run's lock while
/// idle, so a `make doc` started anywhere shows up on the page.
public enum RunServer {
  /// Serves what `flags` ask, with the tools in `bin`, until stopped; `announce` gets the
  /// page's address (with a new token) once it listens.
  public static func serve(
    _ flags: ServeFlags, bin: String, announce: @escaping @Sendable (String) -> Void
  ) async throws {
    let door = Door(token: Self.newToken())
    let environment = Actions.environment(ProcessInfo.processInfo.environment)
    func site(_ run: String) -> Site {
      let setup = Actions.Setup(
        run: run, makefile: flags.makefile, bin: bin, environment: environment)
      return Site(run: RunDirectory(path: run), door: door, actions: Actions(setup: setup))
    }
    let router = Router()
    router.add(middleware: Guard(door: door))
    if flags.isSet {
      // A set's page: the documents at /, each document's page at /d/<id>/ (an id is looked up
      // among the set's, never used as a path).
      let set = try SetPage.documents(flags)
      let sites = Dictionary(set.documents.map { ($0.id, site($0.run)) }) { first, _ in first }
      SetPage.add(to: router, title: set.title, documents: set.documents)
      Routes.add(to: router.group("d/:doc"), inSet: true) { context in
        context.parameters.get("doc").flatMap { sites[$0] }
      }
    } else {
      let one = site(flags.run ?? "")
      Routes.add(to: router) { _ in one }
    }
    var logger = Logger(label: "sheaf-serve")
    logger.logLevel = .critical
    let host = flags.host
    let app = Application(
      router: router,
      configuration: .init(address: .hostname(host, port: flags.port), serverName: nil),
      onServerRunning: { channel in
        let port = channel.localAddress?.port ?? flags.port
        door.listening(host: host, port: port)
        let shown = host.contains(":") ? "[\(host)]" : host
        announce("http://\(shown):\(port)/?token=\(door.token)")
      },
      logger: logger)
    try await app.runService(gracefulShutdownSignals: [])
  }

  /// Whether a flock is held on the file at `path` (`LockedFile.isHeld`).
  static func lockIsHeld(_ path: String) -> Bool { LockedFile.isHeld(path) }

  /// 128 random bits as hex, from the system's secure generator.
  static func newToken() -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<4).map { _ in String(format: "%08x", generator.next() as UInt32) }.joined()
  }
}

/// What every request of one server shares: the token and the addresses it answers to.
final class Door: @unchecked Sendable {
  let token: String
  private let lock = NSLock()
  private var authorities: Set<String> = []
  /// Listening on every address (0.0.0.0, ::): any address of the machine is its own.
  private var everywhere = false
  private var port = 0

  init(token: String) {
    self.token = token
  }

  /// Learns the port it listens on: the `Host` headers it answers to from now on.
  func listening(host: String, port: Int) {
    var names: Set<String> = [host.contains(":") ? "[\(host)]" : host]
    if ["127.0.0.1", "localhost", "::1", "0.0.0.0", "::"].contains(host) {
      names.formUnion(["127.0.0.1", "localhost", "[::1]"])
    }
    var name = [CChar](repeating: 0, count: 256)
    if gethostname(&name, name.count) == 0 {
      names.insert(String(cString: name).lowercased())
    }
    lock.withLock {
      authorities = Set(names.map { "\($0):\(port)" })
      everywhere = ["0.0.0.0", "::"].contains(host)
      self.port = port
    }
  }

  /// Whether a request's `Host` is an address this server serves.
  ///
  /// A name that is not its own is
  /// refused (DNS rebinding); listening everywhere, an address written as numbers is its own.
  func answers(to authority: String?) -> Bool {
    guard let authority = authority?.lowercased() else { return false }
    return lock.withLock {
      if authorities.contains(authority) { return true }
      guard everywhere, authority.hasSuffix(":\(port)") else { return false }
      let host = authority.dropLast(":\(port)".count)
      if host.hasPrefix("[") && host.hasSuffix("]") { return true }
      var address = in_addr()
      return inet_pton(AF_INET, String(host), &address) == 1
    }
  }

  /// Whether `given` is the token, compared in constant time.
  func isToken(_ given: String?) -> Bool {
    guard let given else { return false }
    let a = Array(given.utf8)
    let b = Array(token.utf8)
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
  }
}

/// One run's page: the run, its actions, and one view of the run kept up to date from its
/// events.
final class Site: @unchecked Sendable {
  let run: RunDirectory
  let door: Door
  let actions: Actions
  private let lock = NSLock()
  private var view: RunView?
  private var viewKey = ""

  init(run: RunDirectory, door: Door, actions: Actions) {
    self.run = run
    self.door = door
    self.actions = actions
  }

  /// Runs `body` on the view of the run, brought up to date: made again when a new `make doc`
  /// prepared the run (its events start elsewhere, its plan may differ).
  func withView<T>(_ body: (RunView) throws -> T) rethrows -> T {
    try lock.withLock {
      let offset = run.state?["events_offset"]?.int ?? 0
      let planned =
        (try? FileManager.default.attributesOfItem(atPath: run.layout.plan)[.modificationDate]
        as? Date)?.timeIntervalSince1970 ?? 0
      let key = "\(offset)|\(planned)"
      let current: RunView
      if let view, key == viewKey {
        current = view
      } else {
        current = RunView(run: run, streaming: true, textLimit: 1 << 20)
        view = current
        viewKey = key
      }
      current.readEvents(collect: false)
      return try body(current)
    }
  }

  /// The state of the run as JSON text, with whether an action runs now.
  func state() -> String {
    withView { view in
      let snapshot = view.snapshot()
      running(snapshot)
      Page.decorate(snapshot)
      snapshot["action"] = actions.state?.json ?? .null
      return snapshot.compactText
    }
  }

  /// A run is under way only while its lock is held: one killed with -9 never wrote its end.
  func running(_ state: JSON) {
    if state["running"]?.bool == true && !RunServer.lockIsHeld(run.layout.lock) {
      state["running"] = JSON(false)
      state["stopped"] = JSON(true)
    }
  }

  /// The ids and titles of the sections, in document order.
  func sections() -> [(id: String, title: String)] {
    withView { view in view.sectionTitles }
  }
}
