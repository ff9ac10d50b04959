import SheafCore
import Testing

/// The one hash: SHA-256 in Swift, against Python's hashlib on every padding boundary.
struct SHA256Tests {
  @Test(arguments: [
    (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"),
    (56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"),
    (63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"),
    (64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"),
    (65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"),
    (119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"),
    (120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"),
    (1000, "44f8354494a5ba03ba1792a8d3e9c534c47a9181980fde7a3f44b06ef2ae7c7f"),
  ])
  func matchesHashlib(_ length: Int, _ digest: String) {
    #expect(SHA256.hex(String(repeating: "x", count: length)) == digest)
  }

  @Test func hashesUTF8AndStartsOverAfterADigest() {
    #expect(
      SHA256.hex("é€😀") == "df9226927fd572c1ee66eec85de1bb139497614899f36e4e90474cb71f6ef9d0")
    var digest = SHA256()
    digest.update("é€")
    digest.update("😀")
    #expect(digest.hexDigest() == SHA256.hex("é€😀"))
    #expect(digest.hexDigest() == SHA256.hex(""))
  }

  /// Bytes given in pieces that cross the 64-byte blocks anywhere, or as a sequence that is not
  /// contiguous, hash as the same bytes given at once.
  @Test func piecesAcrossBlocksHashAsTheWhole() {
    let text = String((0..<1000).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
    let whole = SHA256.hex(text)
    for cut in [1, 30, 63, 64, 65, 127, 500] {
      var digest = SHA256()
      var rest = Substring(text)
      while !rest.isEmpty {
        digest.update(String(rest.prefix(cut)))
        rest = rest.dropFirst(cut)
      }
      #expect(digest.hexDigest() == whole, "pieces of \(cut)")
    }
    var lazy = SHA256()
    lazy.update(text.utf8.lazy.map { $0 })
    #expect(lazy.hexDigest() == whole)
  }
}
