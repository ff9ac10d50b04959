import CCrypto
import SheafCore

/// SHA-256 through libcrypto's EVP interface (OpenSSL is already in the process through libcurl):
/// the response cache's keys and the offline provider's seed.
public struct SHA256 {
  private final class Context {
    let pointer: OpaquePointer
    init() {
      guard let context = EVP_MD_CTX_new() else { JSON.outOfMemory("EVP_MD_CTX_new") }
      pointer = context
      EVP_DigestInit_ex(pointer, EVP_sha256(), nil)
    }
    deinit { EVP_MD_CTX_free(pointer) }
  }

  private var context = Context()

  /// A new digest.
  public init() {}

  /// Adds bytes.
  public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
    let chunk = Array(bytes)
    chunk.withUnsafeBytes { _ = EVP_DigestUpdate(context.pointer, $0.baseAddress, $0.count) }
  }

  /// Adds a string's UTF-8 bytes.
  public mutating func update(_ string: String) { update(string.utf8) }

  /// The digest as 64 lowercase hex digits; the digest starts over afterwards.
  public mutating func hexDigest() -> String {
    var digest = [UInt8](repeating: 0, count: 32)
    var length: UInt32 = 0
    EVP_DigestFinal_ex(context.pointer, &digest, &length)
    context = Context()
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(64)
    for byte in digest.prefix(Int(length)) {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: hex, as: UTF8.self)
  }

  /// The hex digest of a string.
  public static func hex(_ string: String) -> String {
    var digest = SHA256()
    digest.update(string)
    return digest.hexDigest()
  }
}
