import Foundation

/// Another program run to its end: what `sheaf-run doctor` asks of the tools and `merge-doc
/// --to` of pandoc.
public enum Subprocess {
  /// Which of the program's outputs is kept (the other goes nowhere).
  public enum Kept { case output, errors }

  /// Runs `program` and returns its exit status and what it wrote to the `kept` stream.
  ///
  /// `input` goes to its standard input (none: empty). It returns 127 and nothing when the
  /// program cannot start. With `timeout`, a program still running after that many seconds is
  /// killed.
  public static func run(
    _ program: String, _ arguments: [String], input: String? = nil, keep kept: Kept = .output,
    timeout: Double? = nil
  ) -> (status: Int32, said: String) {
    guard FileManager.default.isExecutableFile(atPath: program) else { return (127, "") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let said = Pipe()
    let feed = Pipe()
    process.standardOutput = kept == .output ? said : FileHandle.nullDevice
    process.standardError = kept == .errors ? said : FileHandle.standardError
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

  /// The path of `tool` on `PATH`, if it is there.
  public static func find(_ tool: String, environment: [String: String]) -> String? {
    for folder in (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
      let path = "\(folder)/\(tool)"
      if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
  }
}
