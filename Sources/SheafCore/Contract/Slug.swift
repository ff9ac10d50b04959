import Foundation

/// The rule every section id and document id follows: it becomes a file name.
public enum Slug {
  /// Whether `text` matches `[a-z0-9][a-z0-9_-]{0,63}`.
  public static func isValid(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard (1...64).contains(bytes.count) else { return false }
    func allowed(_ byte: UInt8, first: Bool) -> Bool {
      (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
        || (!first && (byte == 0x5F || byte == 0x2D))
    }
    return bytes.enumerated().allSatisfy { allowed($1, first: $0 == 0) }
  }

  /// A slug made from a title: lower case, accents folded, runs of anything else turned into `-`;
  /// empty when nothing is left.
  public static func make(from title: String) -> String {
    let folded = title.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
    var slug = ""
    var pendingDash = false
    for scalar in folded.unicodeScalars {
      let isAllowed = (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9")
      if isAllowed {
        if pendingDash && !slug.isEmpty { slug.append("-") }
        pendingDash = false
        slug.unicodeScalars.append(scalar)
        if slug.utf8.count >= 64 { break }
      } else {
        pendingDash = true
      }
    }
    while slug.hasSuffix("-") { slug.removeLast() }
    return String(slug.prefix(64))
  }

  /// The message for an id that is not a slug.
  public static func problem(_ id: String) -> String {
    "id '\(id)' is not a slug: use a-z, 0-9, '_' and '-', start with a letter or digit, "
      + "at most 64 characters"
  }
}
