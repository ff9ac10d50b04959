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
  private var current: Action?

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
      environment["MAKEFLAGS"] = " --" + flags[split.upperBound...].description.withSpace
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

  /// Whether a `make doc` or `make regen` holds the run's lock now (tried without waiting and let
  /// go at once).
  var runIsBusy: Bool {
    let descriptor = open(RunLayout(setup.run).lock, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return true }
    flock(descriptor, LOCK_UN)
    return false
  }

  /// Runs `command` to its end and returns what it said (a dry run, an approval, a pause).
  func runNow(_ name: String, _ command: [String]) throws -> Action {
    try lock.withLock {
      if let current, current.status == nil {
        throw Refusal(status: 409, message: "busy: \(current.name) is running; wait for it to end")
      }
    }
    var action = Action(name: name, command: command)
    let (status, said) = Self.run(command, environment: setup.environment)
    action.output = said
    action.status = status
    return action
  }

  /// Starts `command` and returns at once; `state` follows it.
  func start(_ name: String, _ command: [String], needsLock: Bool) throws -> Action {
    try lock.withLock {
      if let current, current.status == nil {
        throw Refusal(status: 409, message: "busy: \(current.name) is running; wait for it to end")
      }
      if needsLock && runIsBusy {
        throw Refusal(
          status: 409,
          message:
            "busy: another make doc or make regen holds \(RunLayout(setup.run).lock); try again when it ends (or pause it)"
        )
      }
      current = Action(name: name, command: command)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.environment = setup.environment
    process.standardInput = FileHandle.nullDevice
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
      let data = handle.availableData
      guard !data.isEmpty, let self else {
        handle.readabilityHandler = nil
        return
      }
      self.lock.withLock {
        self.current?.output += String(decoding: data, as: UTF8.self)
        if let text = self.current?.output, text.utf8.count > 256 << 10 {
          self.current?.output = "…" + String(text.suffix(128 << 10))
        }
      }
    }
    process.terminationHandler = { [weak self] process in
      // What is left in the pipe first, then the end.
      let rest = pipe.fileHandleForReading.readDataToEndOfFile()
      pipe.fileHandleForReading.readabilityHandler = nil
      self?.lock.withLock {
        self?.current?.output += String(decoding: rest, as: UTF8.self)
        self?.current?.status = process.terminationStatus
      }
    }
    do {
      try process.run()
    } catch {
      lock.withLock {
        current?.output = "could not start \(command[0]): \(error)"
        current?.status = 127
      }
    }
    return lock.withLock { current ?? Action(name: name, command: command) }
  }

  /// The action running or last run, if any.
  var state: Action? { lock.withLock { current } }

  /// Runs `command` to its end with its output and errors together.
  static func run(_ command: [String], environment: [String: String]) -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command[0])
    process.arguments = Array(command.dropFirst())
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (127, "could not start \(command[0]): \(error)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}

extension String {
  /// The text with a space before it, unless empty.
  fileprivate var withSpace: String { isEmpty ? "" : " " + self }
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
