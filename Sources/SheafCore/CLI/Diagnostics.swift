import Foundation

/// Messages for people, on standard error, each prefixed with the tool's name.
public enum Diagnostics {
  /// Writes `tool: message` and a newline to standard error; each line of a message that lists
  /// several problems gets the prefix.
  public static func say(_ tool: String, _ message: String) {
    var line = Secrets.redact(message).split(separator: "\n", omittingEmptySubsequences: false)
      .map { "\(tool): \($0)\n" }.joined()
    line.withUTF8 { bytes in
      try? RecordWriter.writeAll(UnsafeRawBufferPointer(bytes), to: 2, name: "stderr")
    }
  }

  /// Writes text to standard error as it is (for a progress line that redraws itself).
  public static func raw(_ text: String) {
    var text = Secrets.redact(text)
    text.withUTF8 { try? RecordWriter.writeAll(UnsafeRawBufferPointer($0), to: 2, name: "stderr") }
  }

  /// Whether standard error is a terminal.
  public static var stderrIsTerminal: Bool { isatty(2) != 0 }
}

/// The system's reason behind a Foundation error, in a few words ("Permission denied"), never a
/// dump of the error's domain and user info.
public enum SystemReason {
  /// `path: reason` for an error about a file, else the reason.
  public static func line(for error: Error) -> String {
    let ns = error as NSError
    let path =
      (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
    let reason = of(error)
    return path.map { "\($0): \(reason)" } ?? reason
  }

  /// The reason for `error`.
  public static func of(_ error: Error) -> String {
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError,
      underlying.domain == NSPOSIXErrorDomain
    {
      return String(cString: strerror(Int32(underlying.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    switch ns.code {
    case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "permission denied"
    case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "no such file or folder"
    case NSFileWriteOutOfSpaceError: return "no space left on the device"
    case NSFileWriteVolumeReadOnlyError: return "read-only file system"
    default:
      if ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain {
        return "cannot be done (error \(ns.code))"
      }
      return String(describing: error).split(separator: "\n").first.map(String.init) ?? "failed"
    }
  }
}
