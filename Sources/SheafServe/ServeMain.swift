import Foundation
import SheafCore

/// sheaf-serve's life: check the run, listen, print the address, serve until a signal.
public enum ServeMain {
  /// The server's options from the command line, with the tools' folder.
  public static func options(_ flags: ServeFlags, bin: String) throws -> RunServer.Options {
    try RunLayout(flags.run).check()
    guard (0...65535).contains(flags.port) else {
      throw ToolFailure.usage("--port \(flags.port): give a port from 0 (a free one) to 65535")
    }
    var options = RunServer.Options(run: flags.run, bin: bin)
    options.host = flags.host
    options.port = flags.port
    options.makefile = flags.makefile
    return options
  }

  /// Serves until SIGINT, SIGTERM or SIGHUP; a failure to listen is one line and exit 2.
  public static func serve(_ options: RunServer.Options) async {
    for number in [SIGINT, SIGTERM, SIGHUP] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
      source.setEventHandler { exit(0) }
      source.resume()
      Self.sources.append(source)
    }
    do {
      try await RunServer.serve(options) { address in
        let lines =
          "sheaf: the page of \(options.run): \(address)\n"
          + "sheaf: the address carries the token the page's actions need; Ctrl-C stops it\n"
        FileHandle.standardOutput.write(Data(lines.utf8))
      }
    } catch {
      Diagnostics.say("sheaf-serve", "cannot serve on \(options.host):\(options.port): \(error)")
      exit(2)
    }
  }

  nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []
}
