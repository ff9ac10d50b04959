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

  /// Whether a flock is held on the file at `path`, from /proc/locks (its device and inode), so
  /// that asking never takes the lock even for an instant; where /proc/locks cannot be read, by
  /// trying it without waiting.
  public static func isHeld(_ path: String) -> Bool {
    isHeld(path, among: heldFlocks())
  }

  /// The files a flock is held on now, as `device:inode` (read once from /proc/locks, for many
  /// files at a time); `nil` when /proc/locks cannot be read.
  public static func heldFlocks() -> Set<String>? {
    guard let locks = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else {
      return nil
    }
    var held = Set<String>()
    for line in locks.split(separator: "\n") where line.contains("FLOCK") {
      guard
        let place = line.split(separator: " ").first(where: { $0.filter { $0 == ":" }.count == 2 }),
        case let parts = place.split(separator: ":"), parts.count == 3,
        let major = UInt64(parts[0], radix: 16), let minor = UInt64(parts[1], radix: 16),
        let inode = UInt64(parts[2])
      else { continue }
      held.insert("\(major):\(minor):\(inode)")
    }
    return held
  }

  /// Whether a flock is held on the file at `path`, given what `heldFlocks` read (`nil`: by
  /// trying it without waiting).
  public static func isHeld(_ path: String, among held: Set<String>?) -> Bool {
    var info = stat()
    guard stat(path, &info) == 0 else { return false }
    if let held {
      let device = UInt64(info.st_dev)
      let major = (device >> 8) & 0xfff
      let minor = (device & 0xff) | ((device >> 12) & 0xfff00)
      return held.contains("\(major):\(minor):\(UInt64(info.st_ino))")
    }
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else { return true }
    flock(descriptor, LOCK_UN)
    return false
  }
}
