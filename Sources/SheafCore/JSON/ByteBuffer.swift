import Foundation

/// A growable byte buffer with a stable base address between growths: what jansson writes into,
/// and what the writer hands to `write(2)`.
public final class ByteBuffer {
  /// The first byte.
  private(set) var base: UnsafeMutablePointer<UInt8>
  /// Bytes in use.
  var count = 0
  /// Bytes allocated.
  private(set) var capacity: Int

  /// An empty buffer with room for `capacity` bytes.
  public init(capacity: Int = 64 * 1024) {
    self.capacity = max(capacity, 16)
    base = .allocate(capacity: self.capacity)
  }

  deinit {
    base.deallocate()
  }

  /// Makes room for at least `needed` bytes in all, keeping what is there.
  func reserve(_ needed: Int) {
    guard needed > capacity else { return }
    var newCapacity = capacity
    while newCapacity < needed { newCapacity *= 2 }
    let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
    newBase.update(from: base, count: count)
    base.deallocate()
    base = newBase
    capacity = newCapacity
  }

  /// Appends bytes.
  func append(_ bytes: UnsafeRawBufferPointer) {
    reserve(count + bytes.count)
    if let source = bytes.baseAddress {
      (base + count).update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
    }
    count += bytes.count
  }

  /// Appends one byte.
  func append(_ byte: UInt8) {
    reserve(count + 1)
    base[count] = byte
    count += 1
  }

  /// Appends the UTF-8 of a string.
  public func append(_ string: String) {
    var string = string
    string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
  }

  /// Empties the buffer, keeping its memory.
  public func removeAll() {
    count = 0
  }

  /// Gives the bytes in use to `body`.
  public func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    try body(UnsafeRawBufferPointer(start: base, count: count))
  }
}
