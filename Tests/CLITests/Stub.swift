import Foundation

/// The stub LLM server (Tests/Stub/stub_server.py) on 127.0.0.1 and a free port, for one test.
///
/// It stops when this value is released (its standard input closes) or after 300 s.
final class Stub {
  let port: Int
  private let process = Process()
  private let stdin = Pipe()

  init() throws {
    let stdout = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", Harness.root.appendingPathComponent("Tests/Stub/stub_server.py").path,
      "--max-seconds", "300",
    ]
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    var line = Data()
    while !line.contains(0x0A) {
      let chunk = stdout.fileHandleForReading.availableData
      if chunk.isEmpty { throw StubError.didNotStart }
      line.append(chunk)
    }
    let text = String(decoding: line, as: UTF8.self)
    guard
      let port = text.split(separator: " ").last.flatMap({
        Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
      })
    else {
      throw StubError.didNotStart
    }
    self.port = port
  }

  deinit {
    try? stdin.fileHandleForWriting.close()
    process.waitUntilExit()
  }

  enum StubError: Error { case didNotStart }

  /// A base URL with knobs (`ttfb=1,tps=200`), for the given provider's path layout.
  func url(_ knobs: String = "", openai: Bool = true) -> String {
    let prefix = knobs.isEmpty ? "" : "/s/\(knobs)"
    return "http://127.0.0.1:\(port)\(prefix)\(openai ? "/v1" : "")"
  }

  /// What the stub has counted.
  func stats() throws -> [String: Any] {
    // Foundation on Linux fetches no http URLs without FoundationNetworking; python3 is here anyway.
    let result = try Harness.run(
      "python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())' http://127.0.0.1:\(port)/stats"
    )
    return (try JSONSerialization.jsonObject(with: result.stdout) as? [String: Any]) ?? [:]
  }

  /// Sets knobs for every request from now on (`""` clears them), without changing the base URL.
  func setKnobs(_ knobs: String) throws {
    let result = try Harness.run(
      "python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method=\"POST\"))' http://127.0.0.1:\(port)/knobs '\(knobs)'"
    )
    guard result.status == 0 else { throw StubError.didNotStart }
  }

  /// Scripts what the model writes: the n-th request whose first user message contains `match`
  /// gets the n-th of `replies` (the last again after that).
  func script(_ rules: [(match: String, replies: [String])]) throws {
    let body = try JSONSerialization.data(
      withJSONObject: rules.map { ["match": $0.match, "replies": $0.replies] })
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "stub-script-\(UUID().uuidString).json")
    try body.write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try Harness.run(
      "python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=open(sys.argv[2], \"rb\").read(), method=\"POST\"))' http://127.0.0.1:\(port)/script '\(file.path)'"
    )
    guard result.status == 0 else { throw StubError.didNotStart }
  }

  /// How many requests it has answered.
  func requests() throws -> Int { try stats()["requests"] as? Int ?? -1 }
}

/// Records with messages, as build-prompt would write them.
func records(_ count: Int, prefix: String = "s", extra: String = "") -> Data {
  var lines = ""
  for index in 1...count {
    lines +=
      #"{"doc":"t","id":"\#(prefix)\#(index)","title":"Section \#(index)","order":\#(index),"status":"pending",\#(extra)"messages":[{"role":"system","content":"You write."},{"role":"user","content":"Write section \#(prefix)\#(index)."}]}"#
      + "\n"
  }
  return Data(lines.utf8)
}

/// The records of an NDJSON text (events left out).
func objects(_ text: String) -> [[String: Any]] {
  lines(text).filter { $0["event"] == nil }
}

/// Every JSON object of an NDJSON text, events included.
func lines(_ text: String) -> [[String: Any]] {
  text.split(separator: "\n").compactMap {
    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
  }
}
