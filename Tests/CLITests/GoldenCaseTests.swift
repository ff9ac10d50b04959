import Foundation
import Testing

/// Each folder under Cases/<tool>/ is one case: `cmd` (run by bash from the package root, with
/// $CASE set to the case folder and $TMP to a scratch folder), optional `stdin`, and the
/// expectations `expout`, `experr` and `status`.
///
/// `SHEAF_RECORD=1 swift test` rewrites the
/// expectations; review them with `git diff`.
struct GoldenCaseTests {
  static let casesRoot = Harness.root.appendingPathComponent("Tests/CLITests/Cases")

  static let cases: [String] = {
    let fm = FileManager.default
    var found: [String] = []
    for tool in ((try? fm.contentsOfDirectory(atPath: casesRoot.path)) ?? []).sorted() {
      let toolDir = casesRoot.appendingPathComponent(tool)
      for name in ((try? fm.contentsOfDirectory(atPath: toolDir.path)) ?? []).sorted()
      where fm.fileExists(atPath: toolDir.appendingPathComponent("\(name)/cmd").path) {
        found.append("\(tool)/\(name)")
      }
    }
    return found
  }()

  @Test func thereAreCases() {
    #expect(Self.cases.count >= 20, "the case folders were not found under \(Self.casesRoot.path)")
  }

  @Test(arguments: cases)
  func goldenCase(_ name: String) throws {
    let dir = Self.casesRoot.appendingPathComponent(name)
    let command = try String(contentsOf: dir.appendingPathComponent("cmd"), encoding: .utf8)
    let stdinURL = dir.appendingPathComponent("stdin")
    let result = try Harness.run(
      command,
      stdinFile: FileManager.default.fileExists(atPath: stdinURL.path) ? stdinURL : nil,
      environment: ["CASE": dir.path])
    let expected = (
      out: dir.appendingPathComponent("expout"), err: dir.appendingPathComponent("experr"),
      status: dir.appendingPathComponent("status")
    )
    if ProcessInfo.processInfo.environment["SHEAF_RECORD"] == "1" {
      try result.stdout.write(to: expected.out)
      try result.stderr.write(to: expected.err)
      try Data("\(result.status)\n".utf8).write(to: expected.status)
      return
    }
    let wantStatus = try String(contentsOf: expected.status, encoding: .utf8).trimmingCharacters(
      in: .whitespacesAndNewlines)
    #expect("\(result.status)" == wantStatus, "exit status; stderr: \(result.err)")
    let wantOut = try String(contentsOf: expected.out, encoding: .utf8)
    let wantErr = try String(contentsOf: expected.err, encoding: .utf8)
    #expect(result.out == wantOut, "stdout differs from \(name)/expout")
    #expect(result.err == wantErr, "stderr differs from \(name)/experr")
  }
}
