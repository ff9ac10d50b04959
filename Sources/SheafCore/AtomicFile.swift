import Foundation

/// Writes files so that a reader never sees half of one: a temporary file beside the target,
/// flushed to disk, then renamed over it, and the folder flushed so the rename survives a power
/// loss.
public enum AtomicFile {
  /// Replaces `path` with `text`.
  ///
  /// With `rename: false` the file is written in place and flushed
  /// (for a file that is itself a temporary one). With `durable: false` nothing is flushed: for
  /// files made again from others whenever they are needed, which must only never be seen half
  /// written.
  /// - Throws: `ToolFailure` (usage) naming the path and the system's reason.
  public static func write(
    _ text: String, to path: String, rename replace: Bool = true, durable: Bool = true
  ) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let temporary =
      replace ? (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).tmp" : path
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ToolFailure.usage("\(path): cannot write: \(String(cString: strerror(errno)))")
    }
    var text = Secrets.redact(text)
    do {
      try text.withUTF8 { bytes in
        try RecordWriter.writeAll(UnsafeRawBufferPointer(bytes), to: fd, name: path)
      }
    } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
    let synced = !durable || fsync(fd) == 0
    close(fd)
    guard synced, !replace || rename(temporary, path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw ToolFailure.usage("\(path): cannot write: \(reason)")
    }
    if replace && durable { syncDirectory(of: path) }
  }

  /// Flushes the folder that holds `path`, so a rename into it is on disk.
  public static func syncDirectory(of path: String) {
    let directory = (path as NSString).deletingLastPathComponent
    let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
  }
}
