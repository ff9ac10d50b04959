import Foundation

/// A small JSON file that several processes read and change under `flock` (a run's shared rate
/// limits, its budget ledger).
public enum LockedFile {
  /// Reads the JSON object in `path` under a lock and, with `exclusive`, writes back its change.
  ///
  /// The lock is shared when only reading. `change` gets the object (`nil` when the file is new
  /// or unreadable) and returns what to write. Returns `false` when the file could not be opened
  /// or locked (then `change` is not called).
  @discardableResult
  public static func update(_ path: String, exclusive: Bool, _ change: (JSON?) -> JSON?) -> Bool {
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    guard flock(fd, exclusive ? LOCK_EX : LOCK_SH) == 0 else { return false }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = pread(fd, &buffer, buffer.count, off_t(bytes.count))
      if count <= 0 { break }
      bytes += buffer[0..<count]
    }
    let current = try? bytes.withUnsafeBytes { try JSON.parse($0) }
    let next = change(current?.kind == .object ? current : nil)
    guard exclusive, let next else { return true }
    let text = Array((next.compactText + "\n").utf8)
    _ = ftruncate(fd, 0)
    _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    return true
  }
}
