import ArgumentParser
import Foundation
import SheafCore

/// `sheaf-bench`: what `make bench` runs besides the tools.
///
/// Not installed.
@main
struct SheafBench: FilterCommand {
  static let configuration = CommandConfiguration(
    commandName: "sheaf-bench",
    abstract: "Benchmark helpers: a bare NDJSON pass-through and a record generator.",
    discussion: """
      sheaf-bench cat < in.ndjson > out.ndjson     parse every line, write it back (the core reader and writer)
      sheaf-bench gen --megabytes 200 > big.ndjson  realistic completed records
      """,
    version: SheafVersion.current)

  @Argument(help: "cat or gen")
  var mode: String

  @Option(help: "gen: how many megabytes to write")
  var megabytes: Int = 200

  @Option(help: "gen: how many distinct section ids")
  var sections: Int = 200

  mutating func execute() throws -> ExitStatus {
    switch mode {
    case "cat":
      let writer = RecordWriter()
      try FilterLoop.forEach(inputs: []) { item, _ in
        switch item {
        case .record(let record): try writer.write(record.json)
        case .event(_, let line): try writer.writeLine(line)
        }
      }
    case "gen":
      try BenchData.generate(megabytes: megabytes, sections: sections, to: RecordWriter())
    default:
      throw ToolFailure.usage("unknown mode '\(mode)' (known: cat, gen)")
    }
    return .completed
  }
}
