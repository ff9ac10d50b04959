import Foundation

/// Writes files so that a reader never sees half of one: a temporary file beside the target,
/// flushed to disk, then renamed over it.
public enum AtomicFile {
  /// Replaces `path` with `text`.
  /// - Throws: `ToolFailure` (usage) naming the path and the system's reason.
  public static func write(_ text: String, to path: String) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let temporary = (directory.isEmpty ? "" : directory + "/") + ".\(name).\(getpid()).tmp"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      throw ToolFailure.usage("\(path): cannot write: \(String(cString: strerror(errno)))")
    }
    var text = text
    do {
      try text.withUTF8 { bytes in
        try RecordWriter.writeAll(UnsafeRawBufferPointer(bytes), to: fd, name: path)
      }
    } catch {
      close(fd)
      unlink(temporary)
      throw error
    }
    let synced = fsync(fd) == 0
    close(fd)
    guard synced, rename(temporary, path) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw ToolFailure.usage("\(path): cannot write: \(reason)")
    }
  }
}
