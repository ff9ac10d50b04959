import ArgumentParser
import Foundation
import SheafCore
import SheafRun

extension SheafRun {
  /// `sheaf-run serve`: starts sheaf-serve, the live page's server, beside this executable (its
  /// own binary, so the steps every section runs never load a web server's libraries).
  struct Serve: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract: "Serve a live page of a run: the document as it is written, and its actions.",
      discussion: ServeFlags.discussion)
    @OptionGroup var flags: ServeFlags

    mutating func execute() throws -> ExitStatus {
      // Beside this executable, else on PATH.
      let beside = Subprocess.executableFolder + "/sheaf-serve"
      let found =
        FileManager.default.isExecutableFile(atPath: beside)
        ? beside : Subprocess.find("sheaf-serve", environment: ProcessInfo.processInfo.environment)
      guard let server = found else {
        throw ToolFailure.usage(
          "serve: sheaf-serve is not beside sheaf-run nor on PATH (make build builds it)")
      }
      let arguments = [server] + flags.arguments
      let pointers = arguments.map { strdup($0) } + [nil]
      execv(server, pointers)
      throw ToolFailure.usage("serve: cannot start \(server): \(String(cString: strerror(errno)))")
    }
  }

  struct Graph: FilterCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "The sections as a dependency graph, as SVG: a column per stage, a box per section coloured by its status.",
      discussion: """
        An arrow goes from a section to each section that uses it: solid for depends_on, dashed \
        for context. The live page (sheaf-run serve) shows it too.

        EXAMPLES
          sheaf-run graph --run runs/prd > graph.svg
        """)
    @Option(help: ArgumentHelp("The run directory.", valueName: "dir")) var run: String
    mutating func execute() throws -> ExitStatus {
      try RecordWriter().writeText(RunGraph.svg(run: RunDirectory(path: run)))
      return .completed
    }
  }
}
