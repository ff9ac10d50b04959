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
    let options: RunServer.Options
    do {
      options = try ServeMain.options(flags, bin: Self.bin)
    } catch {
      Diagnostics.say("sheaf-serve", "\(error)")
      throw ExitCode(2)
    }
    await ServeMain.serve(options)
  }

  /// The folder this executable is in, as the kernel knows it (sheaf-run is beside it).
  static var bin: String {
    let me =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return (me as NSString).deletingLastPathComponent
  }
}
