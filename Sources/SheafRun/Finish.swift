import Foundation
import SheafCore
import SheafPrompt

extension RunCommands {
  /// Keeps the answered summary requests read from standard input in the run's `summaries/`; a
  /// summary that failed is said (the section that needed it keeps that context in full, or cut).
  /// - Throws: `ToolFailure` for malformed input or a file that cannot be written.
  public static func saveSummaries(run: RunDirectory, tool: String) throws -> ExitStatus {
    try FilterLoop.forEach(inputs: []) { item, _ in
      guard case .record(let record) = item, record.json["summary_of"] != nil else { return }
      if try !ContextSummaries.save(record.json, directory: run.layout.summaries) {
        let of = record.json["summary_of"]?.string ?? "?"
        let why = record.error?.message ?? "no summary came back"
        Diagnostics.say(tool, "warning: the summary of '\(of)': \(why)")
      }
    }
    return .completed
  }

  /// The end of a `make doc`: where the document and its summary are, the author's questions,
  /// what waits for review; then `notify`, run by `/bin/sh -c` with the document's status in its
  /// environment.
  /// - Throws: `ToolFailure` when the run has no plan or the output is closed.
  public static func finish(run: RunDirectory, notify: String?, tool: String) throws -> ExitStatus {
    guard let doc = run.plannedRecords().first?["doc"]?.string, Slug.isValid(doc) else {
      throw ToolFailure.usage("\(run.path): no run here (run `make doc PLAN=…` first)")
    }
    let document = run.layout.document(doc)
    var out =
      "\(tool == "sheaf-run" ? "sheaf" : tool): document \(document) · summary \(run.layout.summary) · make status DOC=\(doc)\n"
    if FileManager.default.fileExists(atPath: run.layout.followups) {
      out += "sheaf: questions for the author in \(run.layout.followups)\n"
    }
    if let line = run.reviewLine() { out += "sheaf: \(line)\n" }
    let status = JSON.readObject(run.layout.summary)?["status"]?.string ?? "failed"
    // ONLY=a,b: what was asked decides; the rest of the document is said, not failed.
    var done = status == "ready"
    if let only = run.state?["only"]?.array?.compactMap(\.string), !only.isEmpty {
      let missing = only.filter {
        run.record($0)?["status"]?.string != SectionStatus.completed.rawValue
      }
      done = missing.isEmpty
      if done && status != "ready" {
        out +=
          "sheaf: ONLY= built \(RunDirectory.shortList(only)); the rest of the document is not ready (\(status)): make doc builds it\n"
      }
    }
    try RecordWriter().writeText(out)
    defer { _ = notify.map { runNotify($0, run: run, doc: doc, status: status) } }
    return done ? .completed : .someFailed
  }

  /// Runs NOTIFY with the document's status in its environment.
  static func runNotify(_ notify: String, run: RunDirectory, doc: String, status: String) {
    guard !notify.trimmed.isEmpty else { return }
    let document = run.layout.document(doc)
    var environment = ProcessInfo.processInfo.environment
    environment["SHEAF_DOC"] = doc
    environment["SHEAF_DOC_STATUS"] = status
    environment["SHEAF_DOCUMENT"] = document
    environment["SHEAF_SUMMARY"] = run.layout.summary
    if Self.shell(notify, environment: environment) != 0 {
      Diagnostics.say("sheaf", "NOTIFY failed")
    }
  }

  /// Runs `command` with `/bin/sh -c` and waits; its exit status (127 when it cannot start).
  static func shell(_ command: String, environment: [String: String]) -> Int32 {
    let arguments = ["/bin/sh", "-c", command]
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv + envp { free(pointer) }
    }
    var pid = pid_t()
    guard posix_spawn(&pid, "/bin/sh", nil, nil, argv, envp) == 0 else { return 127 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
  }
}
