import Foundation

/// Runs the built tools in a real shell, from the package's root, with the build's products
/// first on PATH.
enum Harness {
  /// The package's root folder.
  static let root: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
  }()

  /// The folder holding the built executables (the test bundle sits beside them).
  static let products: URL = {
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundle, bundle.deletingLastPathComponent()] {
      if FileManager.default.isExecutableFile(
        atPath: candidate.appendingPathComponent("plan-sections").path)
      {
        return candidate
      }
    }
    return root.appendingPathComponent(".build/debug")
  }()

  /// A new empty folder for one test's files, named `<prefix>-<uuid>` in the temporary folder.
  static func scratch(_ prefix: String) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent(
      "\(prefix)-\(UUID().uuidString)"
    ).path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  /// Writes a file, making its folders.
  static func write(_ text: String, to path: String) throws {
    try FileManager.default.createDirectory(
      atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: path, atomically: true, encoding: .utf8)
  }

  /// What a command did.
  struct Result {
    var status: Int32
    var stdout: Data
    var stderr: Data
    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }
  }

  /// Runs `command` with bash from the package root; `stdin` is a file or text fed to it.
  static func run(
    _ command: String, stdinFile: URL? = nil, stdin: Data? = nil,
    environment: [String: String] = [:]
  ) throws -> Result {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "sheaf-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outURL = scratch.appendingPathComponent("out")
    let errURL = scratch.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    var input = stdinFile
    if let stdin {
      let file = scratch.appendingPathComponent("in")
      try stdin.write(to: file)
      input = file
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = ["-c", command]
    process.currentDirectoryURL = root
    var env = ProcessInfo.processInfo.environment
    env["PATH"] = products.path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
    env["TMP"] = scratch.path
    env["LC_ALL"] = "C.UTF-8"
    for (key, value) in environment { env[key] = value }
    process.environment = env
    process.standardInput =
      try input.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus, stdout: try Data(contentsOf: outURL),
      stderr: try Data(contentsOf: errURL))
  }
}
