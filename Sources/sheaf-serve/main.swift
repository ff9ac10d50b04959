import ArgumentParser
import Foundation
import SheafCore
import SheafServe

/// `sheaf-serve`: the live page of a run; `sheaf-run serve` starts it.
@main
struct SheafServe: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sheaf-serve",
    abstract: "Serve a live page of a run: the document as it is written, and its actions.",
    discussion: ServeFlags.discussion,
    version: SheafVersion.current)

  @OptionGroup var flags: ServeFlags

  mutating func run() async throws {
    do {
      try ServeMain.check(flags)
    } catch {
      Diagnostics.say("sheaf-serve", "\(error)")
      throw ExitCode(2)
    }
    await ServeMain.serve(flags, bin: Subprocess.executableFolder)
  }
}
