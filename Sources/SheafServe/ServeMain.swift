import Foundation
import SheafCore
import SheafRun

/// sheaf-serve's life: check the run, listen, print the address, serve until a signal.
public enum ServeMain {
  /// Checks the command line.
  ///
  /// A run that does not exist yet is served all the same (the page shows it once make doc
  /// starts it), with a line naming the runs there are, in case of a typo.
  public static func check(_ flags: ServeFlags) throws {
    guard (0...65535).contains(flags.port) else {
      throw ToolFailure.usage("--port \(flags.port): give a port from 0 (a free one) to 65535")
    }
    if flags.isSet {
      // The plan and the table are read now: a bad one is said before anything listens.
      _ = try SetPage.documents(flags)
      return
    }
    let run = flags.run ?? ""
    var isFolder: ObjCBool = false
    if !FileManager.default.fileExists(atPath: run, isDirectory: &isFolder) {
      let names = RunCommands.runNames(besides: run)
      Diagnostics.say(
        "sheaf-serve",
        "no run at \(run) yet: the page shows it once make doc starts it"
          + (names.isEmpty ? "" : " (runs there: \(names.joined(separator: ", ")))"))
    } else if !isFolder.boolValue {
      throw ToolFailure.usage("--run \(run): not a run directory")
    }
  }

  /// Serves until SIGINT, SIGTERM or SIGHUP; a failure to listen is one line and exit 2.
  public static func serve(_ flags: ServeFlags, bin: String) async {
    // A stop ends the server at once (a viewer's stream never ends by itself) and is passed on
    // to a regeneration or make doc the page started, which then stops as it does at a terminal.
    for number in [SIGINT, SIGTERM, SIGHUP] {
      signal(number) { _ in
        let group = Actions.running
        if group > 0 { kill(getpgid(group) == group ? -group : group, SIGTERM) }
        _exit(0)
      }
    }
    do {
      try await RunServer.serve(flags, bin: bin) { address in
        let what = flags.isSet ? "the documents of \(flags.rows ?? "")" : flags.run ?? ""
        let lines =
          "sheaf: the page of \(what): \(address)\n"
          + "sheaf: the address carries the token the page's actions need; Ctrl-C stops it\n"
        FileHandle.standardOutput.write(Data(lines.utf8))
      }
    } catch {
      Diagnostics.say("sheaf-serve", "cannot serve on \(flags.host):\(flags.port): \(error)")
      exit(2)
    }
  }
}
