import Foundation

/// Text that grows as a child process writes it (its standard output), read on another thread.
final class Collected: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()

  /// Starts collecting what `handle` gives.
  init(_ handle: FileHandle) {
    handle.readabilityHandler = { [weak self] handle in
      let chunk = handle.availableData
      if chunk.isEmpty {
        handle.readabilityHandler = nil
        return
      }
      self?.lock.withLock { self?.data.append(chunk) }
    }
  }

  var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}

/// Waits until `condition` holds, checking every 0.1 s; false when `seconds` went by first.
func waitUntil(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return true }
    usleep(100_000)
  }
  return try condition()
}

/// A run's live page, started as a person starts it: `make serve DOC=…` (make, then sheaf-run
/// serve, then sheaf-serve), in the background; stopped when released.
final class PageServer {
  let address: String
  let token: String
  private let process = Process()
  private let marker: String

  /// `make` is the make command line before `serve` (the variables the actions get).
  convenience init(make: String, doc: String, runs: String) throws {
    try self.init(
      make: make, serve: "DOC=\(doc)", marker: "sheaf-serve --run \(runs)/\(doc) ")
  }

  /// `make … serve` with `serve`'s variables; `marker` finds the server's process to stop it.
  init(make: String, serve: String, marker: String) throws {
    self.marker = marker
    let process = self.process
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", "exec \(make) serve \(serve) PORT=0"]
    process.currentDirectoryURL = Harness.root
    var environment = ProcessInfo.processInfo.environment
    environment["PATH"] = Harness.products.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
    process.environment = environment
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    let said = Collected(out.fileHandleForReading)
    try process.run()
    var found: (String, String)?
    _ = waitUntil(30) {
      guard let line = said.text.split(separator: "\n").first(where: { $0.contains("?token=") }),
        let url = line.split(separator: " ").last
      else { return !process.isRunning }
      let parts = url.components(separatedBy: "/?token=")
      found = (parts[0], parts.count > 1 ? parts[1] : "")
      return true
    }
    guard let found else { throw PageError.didNotStart(said.text) }
    (address, token) = found
  }

  deinit {
    // make waits for sheaf-serve, its recipe's last command: stop the server, then make ends.
    _ = try? Harness.run("pkill -TERM -f '\(marker)' ; true")
    process.terminate()
    process.waitUntilExit()
  }

  enum PageError: Error { case didNotStart(String) }

  /// What an HTTP request got: status, headers (lowercased names), body.
  struct Answer {
    var status: Int
    var headers: String
    var body: String
    var json: [String: Any]? {
      try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
    }
  }

  /// A request with curl, as a browser or script would send it.
  func request(
    _ method: String, _ path: String, headers: [String] = [], body: String? = nil,
    withToken: Bool = false
  ) throws -> Answer {
    let scratch = Harness.scratch("http")
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    var command =
      "curl -s -o '\(scratch)/body' -D '\(scratch)/headers' -w '%{http_code}' -X \(method)"
    for header in headers + (withToken ? ["X-Sheaf-Token: \(token)"] : []) {
      command += " -H '\(header)'"
    }
    if let body {
      try Harness.write(body, to: scratch + "/in")
      command += " -H 'Content-Type: application/json' --data-binary @'\(scratch)/in'"
    }
    let result = try Harness.run(command + " '\(address)\(path)'")
    return Answer(
      status: Int(result.out) ?? -1,
      headers: ((try? String(contentsOfFile: scratch + "/headers", encoding: .utf8)) ?? "")
        .lowercased(),
      body: (try? String(contentsOfFile: scratch + "/body", encoding: .utf8)) ?? "")
  }
}

/// A server-sent events client (curl -N): the events as they arrive, each with its id.
final class EventClient {
  private let process = Process()
  private let said: Collected

  init(_ url: String, lastEventID: String? = nil) throws {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments =
      ["curl", "-sN"] + (lastEventID.map { ["-H", "Last-Event-ID: \($0)"] } ?? []) + [url]
    let out = Pipe()
    process.standardOutput = out
    said = Collected(out.fileHandleForReading)
    try process.run()
  }

  deinit { close() }

  /// Drops the connection (SIGKILL: a test process's children may inherit SIGTERM ignored).
  func close() {
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  /// The whole events received so far: (id, data).
  var events: [(id: String, data: String)] {
    var out: [(String, String)] = []
    let frames = said.text.components(separatedBy: "\n\n").dropLast()
    for frame in frames {
      var id = ""
      var data: [String] = []
      for line in frame.split(separator: "\n", omittingEmptySubsequences: false) {
        if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
        if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
      }
      if !data.isEmpty { out.append((id, data.joined(separator: "\n"))) }
    }
    return out
  }
}

/// Headless Chromium with a page open (Tests/Tools/browser.py), asked to evaluate scripts.
final class Browser {
  private let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private var buffer = Data()

  init(_ url: String) throws {
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", Harness.root.appendingPathComponent("Tests/Tools/browser.py").path, url,
    ]
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    _ = try answer()
  }

  deinit {
    try? input.fileHandleForWriting.write(contentsOf: Data("{\"quit\": true}\n".utf8))
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
  }

  struct Failed: Error, CustomStringConvertible {
    var description: String
  }

  private func answer() throws -> [String: Any] {
    var newline = buffer.firstIndex(of: 0x0A)
    while newline == nil {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { throw Failed(description: "the browser stopped") }
      buffer.append(chunk)
      newline = buffer.firstIndex(of: 0x0A)
    }
    guard let end = newline else { throw Failed(description: "no answer") }
    let line = buffer[buffer.startIndex..<end]
    buffer = Data(buffer[(end + 1)...])
    let json = try JSONSerialization.jsonObject(with: line) as? [String: Any] ?? [:]
    if let error = json["error"] as? String { throw Failed(description: error) }
    return json
  }

  private func send(_ command: [String: Any]) throws -> [String: Any] {
    var line = try JSONSerialization.data(withJSONObject: command)
    line.append(0x0A)
    try input.fileHandleForWriting.write(contentsOf: line)
    return try answer()
  }

  /// The value of a JavaScript expression in the page.
  func eval(_ expression: String) throws -> Any? { try send(["eval": expression])["value"] }

  /// Reloads the page and waits for it to load.
  func reload() throws { _ = try send(["reload": true]) }

  func screenshot(_ path: String) throws { _ = try send(["screenshot": path]) }
}
