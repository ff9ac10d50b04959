import Foundation
import SheafCore
import SheafRun

/// What the page asks of a run, done as a person at a terminal would do it.
///
/// `make regen`, `make doc`, `sheaf-run approve`, `sheaf-run pause`: one at a time, their output
/// kept for the page. A regeneration or a `make doc` takes the run's lock like any other (never waiting for
/// it: a busy run is said so at once).
final class Actions: @unchecked Sendable {
  /// How an action is run: which make and makefile, which tools, in which folder.
  struct Setup: Sendable {
    /// The run directory.
    var run: String
    /// The makefile that includes pipelines/sheaf.mk (the one `make serve` was given).
    var makefile: String
    /// The folder holding sheaf-run (beside sheaf-serve).
    var bin: String
    /// make's own variables given to `make serve` (what MAKEFLAGS carried after `--`), and the
    /// rest of the server's environment.
    var environment: [String: String]
  }

  /// An action: what ran, what it said, and how it ended.
  struct Action {
    var name: String
    var command: [String]
    var output = ""
    var status: Int32?
    var started = Date()
  }

  private let setup: Setup
  private let lock = NSLock()
  /// The regeneration or make doc started last (one at a time), with the file its output goes to.
  private var current: (action: Action, log: String)?
  /// The quick action (a dry run, an approval, a pause) run last.
  private var quick: Action?

  /// The process group of the action running, for the server's shutdown (0: none); read by the
  /// signal handler, so a plain global.
  nonisolated(unsafe) static var running: pid_t = 0

  init(setup: Setup) {
    self.setup = setup
  }

  /// Why an action cannot run now.
  struct Refusal: Error {
    /// The HTTP status: 409 busy, 400 a bad request.
    var status: Int
    var message: String
  }

  /// The environment an action runs in: the server's, with make's own flags dropped (its job
  /// server is the one of the `make serve` that started it), but the variables it was given kept,
  /// as a sub-make keeps them, and a lock that never waits.
  static func environment(_ base: [String: String]) -> [String: String] {
    var environment = base
    for key in ["MAKELEVEL", "MFLAGS", "MAKE_TERMOUT", "MAKE_TERMERR", "MAKEOVERRIDES"] {
      environment[key] = nil
    }
    if let flags = base["MAKEFLAGS"], let split = flags.range(of: " -- ") {
      environment["MAKEFLAGS"] = " -- " + flags[split.upperBound...]
    } else {
      environment["MAKEFLAGS"] = nil
    }
    environment["SHEAF_NO_WAIT"] = "1"
    environment["SHEAF_NO_LIVE"] = "1"
    return environment
  }

  /// The make command for `target` with `variables` (DOC= and RUNS= for the run's own).
  func make(_ target: String, _ variables: [String]) -> [String] {
    let doc = (setup.run as NSString).lastPathComponent
    let runs = (setup.run as NSString).deletingLastPathComponent
    let make = Subprocess.find("make", environment: setup.environment) ?? "/usr/bin/make"
    return [make, "--no-print-directory", "-f", setup.makefile, target]
      + ["DOC=\(doc)", "RUNS=\(runs.isEmpty ? "." : runs)"] + variables
  }

  /// A sheaf-run step.
  func step(_ arguments: [String]) -> [String] {
    ["\(setup.bin)/sheaf-run"] + arguments
  }

  /// Whether a `make doc` or `make regen` holds the run's lock now, read from the kernel's list
  /// of locks (/proc/locks) without touching the lock: trying it, even without waiting, could
  /// make a run that starts at that instant wait or, started from the page, give up.
  var runIsBusy: Bool { RunServer.lockIsHeld(RunLayout(setup.run).lock) }

  /// Runs `command` to its end without holding up the server's threads and returns what it said
  /// (a dry run, an approval, a pause: they may run beside a regeneration, as at a terminal).
  func runNow(_ name: String, _ command: [String]) async -> Action {
    let environment = setup.environment
    let action = await withCheckedContinuation { continuation in
      DispatchQueue.global().async {
        var action = Action(name: name, command: command)
        (action.status, action.output) = Self.run(command, environment: environment)
        continuation.resume(returning: action)
      }
    }
    lock.withLock { quick = action }
    return action
  }

  /// Starts `command` and returns at once; `state` follows it.
  ///
  /// Its output goes to a file, so it
  /// lives on if the server goes; its signals are the defaults, so a stop reaches it as at a
  /// terminal.
  func start(_ name: String, _ command: [String]) throws -> Action {
    let log = try lock.withLock { () throws -> String in
      if let current, current.action.status == nil {
        throw Refusal(
          status: 409, message: "busy: \(current.action.name) is running; wait for it to end")
      }
      if runIsBusy {
        throw Refusal(
          status: 409,
          message:
            "busy: another make doc or make regen holds \(RunLayout(setup.run).lock); try again when it ends (or pause it)"
        )
      }
      if let old = current?.log { unlink(old) }
      var template = Array((NSTemporaryDirectory() + "/sheaf-action-XXXXXX").utf8CString)
      let descriptor = mkstemp(&template)
      guard descriptor >= 0 else {
        throw Refusal(status: 500, message: "cannot make a file for the action's output")
      }
      close(descriptor)
      let path = String(cString: template)
      current = (Action(name: name, command: command), path)
      return path
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Self.launcher[0])
    process.arguments = Array(Self.launcher.dropFirst()) + command
    process.environment = setup.environment
    process.standardInput = FileHandle.nullDevice
    let output = FileHandle(forWritingAtPath: log)
    process.standardOutput = output
    process.standardError = output
    process.terminationHandler = { [weak self] process in
      Self.running = 0
      self?.lock.withLock { self?.current?.action.status = process.terminationStatus }
    }
    do {
      try process.run()
      Self.running = process.processIdentifier
    } catch {
      lock.withLock { current?.action.status = 127 }
    }
    try? output?.close()
    return state ?? Action(name: name, command: command)
  }

  /// The action to show: the one running, else the one run last, with its output so far.
  var state: Action? {
    lock.withLock {
      guard var started = current?.action, let log = current?.log else { return quick }
      if let quick, started.status != nil, quick.started > started.started { return quick }
      started.output = Self.tail(of: log, bytes: 128 << 10)
      return started
    }
  }

  /// The end of a file, at most `bytes` of it.
  static func tail(of path: String, bytes: Int) -> String {
    guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? handle.close() }
    let size = (try? handle.seekToEnd()) ?? 0
    let from = size > UInt64(bytes) ? size - UInt64(bytes) : 0
    try? handle.seek(toOffset: from)
    let data = (try? handle.readToEnd()) ?? Data()
    return (from > 0 ? "…" : "") + String(decoding: data, as: UTF8.self)
  }

  /// An action's command as it is started: through env, with the default signals (a server
  /// stopped by a signal must not leave it ignoring them).
  static let launcher = ["/usr/bin/env", "--default-signal=INT,TERM,HUP,PIPE"]

  /// Runs `command` to its end with its output and errors together.
  static func run(_ command: [String], environment: [String: String]) -> (Int32, String) {
    let (status, said) = Subprocess.run(
      launcher[0], Array(launcher.dropFirst()) + command, keep: .both, environment: environment)
    return (status, status == 127 && said.isEmpty ? "could not start \(command[0])" : said)
  }
}

extension Actions.Action {
  /// The action as JSON for the page.
  var json: JSON {
    let out = JSON.object()
    out["name"] = JSON(name)
    out["command"] = JSON(command.joined(separator: " "))
    out["output"] = JSON(output)
    out["running"] = JSON(status == nil)
    out["status"] = status.map { JSON(Int($0)) } ?? .null
    out["started"] = JSON(Event.timestamp(started))
    return out
  }
}
