import Foundation
import Testing

/// sheaf installed into a prefix and used with nothing but that prefix's `bin` on PATH, far from
/// the checkout: a bare outline, and a scaffold.
struct InstallTests {
  let scratch = Harness.scratch("install")

  @Test func installedSheafWritesDocumentsAnywhere() throws {
    let prefix = scratch + "/prefix"
    // The built tools are installed (stripped) with the driver, prompt sets and examples.
    let install = try Harness.run(
      "make --no-print-directory install PREFIX='\(prefix)' INSTALL_BIN='\(Harness.products.path)'"
    )
    #expect(install.status == 0, "\(install.err)")
    for tool in [
      "plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc", "sheaf-run",
    ] {
      #expect(FileManager.default.isExecutableFile(atPath: "\(prefix)/bin/\(tool)"), "\(tool)")
      // Stripped, with the Swift runtime beside them rather than inside each.
      let size =
        (try? FileManager.default.attributesOfItem(atPath: "\(prefix)/bin/\(tool)")[.size])
        as? Int ?? .max
      #expect(size < 10_000_000, "\(tool) is \(size) bytes")
      let linked = try Harness.run("ldd '\(prefix)/bin/\(tool)'")
      #expect(!linked.out.contains("not found"), "\(linked.out)")
    }
    for library in ["libswiftCore.so", "libFoundation.so", "libFoundationEssentials.so"] {
      #expect(
        FileManager.default.fileExists(atPath: "\(prefix)/lib/sheaf/\(library)"), "\(library)")
    }
    #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/sheaf/pipelines/sheaf.mk"))
    #expect(
      FileManager.default.fileExists(
        atPath: "\(prefix)/share/sheaf/prompts/default/default.mustache"))
    let work = scratch + "/work"
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let only = ["PATH": "\(prefix)/bin:/usr/bin:/bin", "SHEAF_BIN": "", "SHEAF_PROMPTS": ""]
    // A three-heading outline, no prompt files: the default set writes it.
    try Harness.write(
      "# Remote Work Policy\nFor a ten-person company.\n\n## Why\nWhy we allow it.\n\n## Rules\nWhat everyone follows.\n\n## Tools\nWhat we use.\n",
      to: work + "/outline.md")
    let bare = try Harness.run(
      "cd '\(work)' && env -u SHEAF_BIN -u SHEAF_PROMPTS make --no-print-directory -f '\(prefix)/share/sheaf/pipelines/sheaf.mk' doc PLAN=outline.md PROVIDER=offline",
      environment: only)
    #expect(bare.status == 0, "\(bare.err)")
    let document = try String(contentsOfFile: work + "/runs/outline/outline.md", encoding: .utf8)
    #expect(document.split(separator: "\n").filter { $0.hasPrefix("## ") }.count == 3)
    #expect(!document.contains("Not generated"), "\(document)")
    // A scaffold: make doc with no arguments.
    let scaffold = try Harness.run(
      "cd '\(work)' && env -u SHEAF_BIN -u SHEAF_PROMPTS sheaf-run init my-prd --from prd && cd my-prd && env -u SHEAF_BIN -u SHEAF_PROMPTS make --no-print-directory doc",
      environment: only)
    #expect(scaffold.status == 0, "\(scaffold.err)")
    #expect(
      FileManager.default.fileExists(atPath: work + "/my-prd/prompts/prd/shared_context.mustache"))
    let summary = try String(
      contentsOfFile: work + "/my-prd/runs/prd/summary.json", encoding: .utf8)
    #expect(summary.contains(#""status":"ready""#))
    // A plan drafted from a brief, with the installed outline plan and schema.
    try Harness.write("A short guide to our on-call rota.\n", to: work + "/brief.md")
    let outline = try Harness.run(
      "cd '\(work)' && env -u SHEAF_BIN -u SHEAF_PROMPTS make --no-print-directory -f '\(prefix)/share/sheaf/pipelines/sheaf.mk' outline BRIEF=brief.md OUT=drafted.json && plan-sections drafted.json > /dev/null",
      environment: only)
    #expect(outline.status == 0, "\(outline.err)")
    // A man page for every tool, and sheaf(7) for the driver; completions that load in bash.
    for tool in [
      "plan-sections", "build-prompt", "call-llm", "validate-format", "merge-doc", "sheaf-run",
    ] {
      let found = try Harness.run("MANPATH='\(prefix)/share/man' man -w \(tool)")
      #expect(
        found.out.hasSuffix("share/man/man1/\(tool).1\n"), "\(tool): \(found.out) \(found.err)")
      let page = try Harness.run("man -l '\(prefix)/share/man/man1/\(tool).1' 2>/dev/null | col -b")
      #expect(page.status == 0 && page.out.contains("NAME") && page.out.contains(tool), "\(tool)")
      let completion = try Harness.run(
        "bash -c \"source '\(prefix)/share/bash-completion/completions/\(tool)'; complete -p \(tool)\""
      )
      #expect(
        completion.out.contains("complete") && completion.out.contains(tool), "\(completion.err)")
      #expect(FileManager.default.fileExists(atPath: "\(prefix)/share/zsh/site-functions/_\(tool)"))
      #expect(
        FileManager.default.fileExists(
          atPath: "\(prefix)/share/fish/vendor_completions.d/\(tool).fish"))
    }
    let options = try Harness.run(
      "man -l '\(prefix)/share/man/man1/call-llm.1' 2>/dev/null | col -b")
    #expect(options.out.contains("--max-tokens"), "the page has the tool's own flags")
    let driver = try Harness.run("MANPATH='\(prefix)/share/man' man -w 7 sheaf")
    #expect(driver.status == 0, "\(driver.err)")
    // And it all goes.
    let uninstall = try Harness.run("make --no-print-directory uninstall PREFIX='\(prefix)'")
    #expect(uninstall.status == 0)
    #expect(!FileManager.default.fileExists(atPath: "\(prefix)/share/man/man1/call-llm.1"))
    #expect(
      !FileManager.default.fileExists(
        atPath: "\(prefix)/share/bash-completion/completions/call-llm"))
    #expect(!FileManager.default.fileExists(atPath: "\(prefix)/bin/sheaf-run"))
    #expect(!FileManager.default.fileExists(atPath: "\(prefix)/share/sheaf"))
    #expect(!FileManager.default.fileExists(atPath: "\(prefix)/lib/sheaf"))
  }
}

/// `make doc` in a real terminal (tmux): one live block for the whole document, not a progress
/// line per call-llm process.
struct LiveViewTests {
  @Test func makeDocShowsOneLiveBlockOnATerminal() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "live-\(UUID().uuidString)"
    ).path
    let session = "sheaf-\(UUID().uuidString.prefix(8))"
    let command =
      "cd '\(Harness.root.path)' && make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' J=4 CALL_FLAGS='--no-cache --offline-delay 0.2 --offline-tps 400' doc PLAN=pipelines/prd/plan.json; echo DONE=$?; sleep 30"
    // One shell for the whole check: the tmux server lives as long as it does.
    let run = try Harness.run(
      """
      tmux new-session -d -s \(session) -x 120 -y 40 "\(command)" || exit 9
      sleep 3; tmux capture-pane -p -t \(session) > '\(scratch).during'
      for i in $(seq 90); do
        sleep 1; tmux capture-pane -p -t \(session) > '\(scratch).after'
        grep -q 'DONE=' '\(scratch).after' && break
      done
      tmux kill-session -t \(session)
      """)
    #expect(run.status == 0, "\(run.err)")
    let during = (try? String(contentsOfFile: scratch + ".during", encoding: .utf8)) ?? ""
    let screen = (try? String(contentsOfFile: scratch + ".after", encoding: .utf8)) ?? ""
    // While it runs: the table of every section, with the stage, and no per-process line.
    #expect(during.contains("problem_statement"), "\(during)")
    #expect(during.contains(" of 3"), "\(during)")
    #expect(!during.contains("call-llm:"), "\(during)")
    // When it ends: the document's status, and make's exit status.
    #expect(screen.contains("DONE=0"), "\(screen)")
    #expect(screen.contains("prd: ready — 12 of 12 sections completed"), "\(screen)")
  }
}

extension LiveViewTests {
  @Test func watchJSONGivesTheStateForPrograms() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
      "watch-\(UUID().uuidString)"
    ).path
    let run = try Harness.run(
      "make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS='\(scratch)/runs' CALL_FLAGS=--no-cache doc PLAN=pipelines/prd/plan.json"
    )
    #expect(run.status == 0, "\(run.err)")
    let watch = try Harness.run(
      "sheaf-run watch --run '\(scratch)/runs/prd' --json --until-complete --timeout 20")
    let all = lines(watch.out)
    let sections = all.filter { $0["id"] != nil }
    #expect(sections.count == 12)
    #expect(sections.allSatisfy { $0["status"] as? String == "completed" })
    let progress = try #require(all.last)
    #expect(progress["done"] as? Int == 12 && progress["total"] as? Int == 12)
    #expect(progress["status"] as? String == "ready")
    // Each section's progress events, in the order of its pipeline.
    let events = lines(
      try String(contentsOfFile: scratch + "/runs/prd/events.ndjson", encoding: .utf8))
    let progressEvents = events.filter { $0["event"] as? String == "progress" && $0["id"] != nil }
    for id in sections.compactMap({ $0["id"] as? String }) {
      let phases = progressEvents.filter { $0["id"] as? String == id }.compactMap {
        $0["phase"] as? String
      }
      #expect(phases == ["PREP", "AI_CALL", "PARSE", "SAVE", "DONE"], "\(id): \(phases)")
    }
    let done = progressEvents.filter { $0["phase"] as? String == "DONE" }
    #expect(done.allSatisfy { $0["items_total"] as? Int == 12 && $0["current_item"] != nil })
    #expect(done.compactMap { $0["items_processed"] as? Int }.max() == 12)
  }
}

/// The document in the formats people send (issue 26): pandoc, next to the Markdown.
struct DocumentFormatTests {
  let scratch = Harness.scratch("formats")

  func make(_ extra: String, path: String? = nil) throws -> Harness.Result {
    try Harness.run(
      "\(path.map { "PATH='\($0)' " } ?? "")make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs PROVIDER=offline doc PLAN=pipelines/prd/plan.json \(extra)"
    )
  }

  @Test func formatDocxWritesADocumentWithEverySectionTitle() throws {
    let made = try make("FORMAT=docx,html")
    #expect(made.status == 0, "\(made.err)")
    let text = try Harness.run("pandoc '\(scratch)/runs/prd/prd.docx' -t plain")
    #expect(text.status == 0, "\(text.err)")
    for title in StagedRunTests.stage1 + StagedRunTests.stage2 + ["Executive Summary"] {
      #expect(text.out.contains(title), "\(title)")
    }
    let html = try String(contentsOfFile: "\(scratch)/runs/prd/prd.html", encoding: .utf8)
    #expect(html.contains("<title>Tidewater"), "the document's title is the page's")
  }

  @Test func whatAModelWroteIsTextToPandoc() throws {
    let secret = "\(scratch)/secret.txt"
    try Harness.write("the-secret-words\n", to: secret)
    let record =
      #"{"id":"a","title":"A","order":1,"status":"completed","content":"See ![x](SECRET) and <script>alert(1)</script> and \\input{SECRET}."}"#
      .replacingOccurrences(of: "SECRET", with: secret)
    try Harness.write(record + "\n", to: "\(scratch)/in.ndjson")
    let merged = try Harness.run(
      "merge-doc -q -o \(scratch)/doc.md --to html,docx \(scratch)/in.ndjson")
    #expect(merged.status == 0, "\(merged.err)")
    let html = try String(contentsOfFile: "\(scratch)/doc.html", encoding: .utf8)
    #expect(!html.contains("<script>alert"), "raw HTML from a model stays text")
    #expect(!html.contains("the-secret-words"))
    let docx = try Harness.run("pandoc \(scratch)/doc.docx -t plain")
    #expect(!docx.out.contains("the-secret-words"), "no file a model names is read")
  }

  @Test func mergeDocRefusesAFormatItCannotWriteInOneLine() throws {
    let unknown = try Harness.run("merge-doc --to doc -o \(scratch)/x.md < /dev/null")
    #expect(unknown.status == 2)
    #expect(unknown.err.hasPrefix("merge-doc: --to: 'doc' is not a format"), "\(unknown.err)")
    #expect(unknown.err.split(separator: "\n").count == 1)
    let nowhere = try Harness.run("merge-doc --to docx < /dev/null")
    #expect(nowhere.status == 2)
    #expect(nowhere.err.contains("written with -o or --run"), "\(nowhere.err)")
    #expect(!FileManager.default.fileExists(atPath: "\(scratch)/x.md"), "nothing is written")
  }

  @Test func withoutPandocTheRunIsStillReadyAndSaysWhatToInstall() throws {
    // A PATH with make, the shell and the tools' helpers, but no pandoc.
    let bin = "\(scratch)/bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    for tool in [
      "make", "sh", "bash", "env", "cat", "tr", "printf", "sleep", "setsid", "flock", "mkdir", "rm",
      "mv", "date", "kill", "dirname",
    ] {
      if let found = try? Harness.run("command -v \(tool)").out.trimmingCharacters(
        in: .whitespacesAndNewlines),
        !found.isEmpty
      {
        _ = try? FileManager.default.createSymbolicLink(
          atPath: "\(bin)/\(tool)", withDestinationPath: found)
      }
    }
    let made = try make("FORMAT=docx", path: bin)
    #expect(made.status == 0, "\(made.err)")
    let lines = made.err.split(separator: "\n").filter { $0.contains("pandoc") }
    #expect(
      lines.count == 1 && lines.first?.contains("apt-get install pandoc") == true, "\(made.err)")
    #expect(FileManager.default.fileExists(atPath: "\(scratch)/runs/prd/prd.md"))
    #expect(!FileManager.default.fileExists(atPath: "\(scratch)/runs/prd/prd.docx"))
    let bad = try make("FORMAT=doc")
    #expect(bad.status == 2 && bad.err.contains("FORMAT=doc"), "\(bad.err)")
  }
}

/// `make doctor` (issue 26): what a run needs, checked before anything is spent.
struct DoctorTests {
  let scratch = Harness.scratch("doctor")

  func doctor(_ vars: String, key: String? = "k", target: String = "doctor") throws
    -> Harness.Result
  {
    try Harness.run(
      "\(key.map { "OPENAI_API_KEY=\($0) " } ?? "env -u OPENAI_API_KEY ")make --no-print-directory -f pipelines/sheaf.mk SHEAF_BIN=\(Harness.products.path) SHEAF_TOOLS= RUNS=\(scratch)/runs \(target) PLAN=pipelines/prd/plan.json PROVIDER=openai \(vars)"
    )
  }

  @Test func passesAgainstTheStubAndFailsWithOneClearLineEach() throws {
    let stub = try Stub()
    let good = try doctor("MODEL=stub BASE_URL='\(stub.url("models=stub+other"))'")
    #expect(good.status == 0, "\(good.out) \(good.err)")
    #expect(good.out.contains("✓ openai at"), "\(good.out)")
    #expect(!good.out.contains("✗"))
    #expect(!good.out.contains("=k"), "the key is never shown")
    let noKey = try doctor("MODEL=stub BASE_URL='\(stub.url())'", key: nil)
    #expect(noKey.status != 0)
    #expect(noKey.out.split(separator: "\n").filter { $0.hasPrefix("✗") }.count == 1)
    #expect(noKey.out.contains("✗ no OPENAI_API_KEY in the environment"), "\(noKey.out)")
    let nobody = try doctor("MODEL=stub BASE_URL=http://127.0.0.1:9/v1")
    #expect(nobody.status != 0)
    #expect(nobody.out.contains("✗ nothing answers at http://127.0.0.1:9/v1"), "\(nobody.out)")
    let unknown = try doctor("MODEL=gpt-9 BASE_URL='\(stub.url("models=stub+other"))'")
    #expect(unknown.status != 0)
    #expect(
      unknown.out.contains("✗ model 'gpt-9' is not on") && unknown.out.contains("stub, other"),
      "\(unknown.out)")
    let refused = try doctor("MODEL=stub BASE_URL='\(stub.url("key=right"))'")
    #expect(refused.out.contains("refused the key (HTTP 401)"), "\(refused.out)")
    #expect(try stub.requests() == 0, "a check asks the model nothing")
  }

  @Test func makeDocStopsBeforeTheFirstRequestWhenACheapCheckFails() throws {
    let stub = try Stub()
    // A budget with no price for the model: the run could not keep to it.
    let made = try doctor("MODEL=stub BASE_URL='\(stub.url("words=300"))' BUDGET=1", target: "doc")
    #expect(made.status == 2)
    #expect(made.err.contains("✗ no price for openai/stub"), "\(made.err)")
    #expect(made.err.contains("nothing was asked"))
    #expect(try stub.requests() == 0)
  }
}
