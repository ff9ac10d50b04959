import Foundation

/// Another program run to its end: what `sheaf-run doctor` asks of the tools and `merge-doc
/// --to` of pandoc.
public enum Subprocess {
  /// Which of the program's outputs is kept (the other goes nowhere, or, `both`, the two
  /// together as they come).
  public enum Kept { case output, errors, both }

  /// Runs `program` and returns its exit status and what it wrote to the `kept` stream.
  ///
  /// `input` goes to its standard input (none: empty). It returns 127 and nothing when the
  /// program cannot start. With `timeout`, a program still running after that many seconds is
  /// killed. `environment` replaces this process's for it.
  public static func run(
    _ program: String, _ arguments: [String], input: String? = nil, keep kept: Kept = .output,
    timeout: Double? = nil, environment: [String: String]? = nil
  ) -> (status: Int32, said: String) {
    guard FileManager.default.isExecutableFile(atPath: program) else { return (127, "") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let said = Pipe()
    let feed = Pipe()
    process.standardOutput = kept == .errors ? FileHandle.nullDevice : said
    process.standardError = kept == .output ? FileHandle.standardError : said
    process.standardInput = input == nil ? FileHandle.nullDevice : feed
    do { try process.run() } catch { return (127, "") }
    if let input {
      let writer = feed.fileHandleForWriting
      DispatchQueue.global().async {
        writer.write(Data(input.utf8))
        try? writer.close()
      }
    }
    let pid = process.processIdentifier
    let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
    if let timeout {
      DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    }
    let data = said.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    watchdog.cancel()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// The folder of the running executable as the kernel knows it (never a folder argv[0] only
  /// seems to name): where the tools beside it are.
  public static var executableFolder: String {
    let me =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return (me as NSString).deletingLastPathComponent
  }

  /// The path of `tool` on `PATH`, if it is there.
  public static func find(_ tool: String, environment: [String: String]) -> String? {
    for folder in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
      let path = "\(folder)/\(tool)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }
}
