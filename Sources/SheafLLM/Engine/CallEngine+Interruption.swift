import Foundation
import SheafCore
import SheafValidate

/// The write end of the pipe that SIGINT, SIGTERM and SIGHUP wake a waiting loop through.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

/// SIGINT, SIGTERM and SIGHUP, caught into a pipe: a loop that waits on its read end (the
/// engine's, a batch wave's) wakes when one comes.
enum StopSignals {
  /// Installs the handlers; the pipe's read end (non-blocking), or -1 when no pipe could be made.
  static func install() -> Int32 {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return -1 }
    signalPipeWrite = fds[1]
    _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
    _ = fcntl(fds[1], F_SETFL, O_NONBLOCK)
    let handler: @convention(c) (Int32) -> Void = { signal in
      // The signal's number: a wave asks a person only after Ctrl-C (SIGINT).
      var byte = UInt8(truncatingIfNeeded: signal)
      _ = write(signalPipeWrite, &byte, 1)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGHUP, handler)
    // A parent may start us with these blocked (Foundation's Process does): unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigaddset(&set, SIGHUP)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    return fds[0]
  }
}

extension CallEngine {
  // MARK: - Interruption

  func installSignalHandlers() {
    signalRead = StopSignals.install()
  }

  func drainSignalPipe() {
    guard signalRead >= 0 else { return }
    var byte: UInt8 = 0
    while read(signalRead, &byte, 1) == 1 { interrupted = true }
  }

  func cancelEverything() throws {
    try failEverything(
      SheafError(
        .cancelled, "interrupted before the answer was complete", retryable: true,
        hint:
          "run the same command again: completed answers are in the cache and are not asked for twice"
      ))
  }
}
