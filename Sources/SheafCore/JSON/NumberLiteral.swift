import CJansson
import Foundation

/// Keeps numbers exact through jansson, which holds integers only up to 64 bits and writes reals
/// with 17 digits (`0.7` would come back as `0.69999999999999996`).
///
/// Before jansson reads a line, every number that is not an exact 64-bit integer is rewritten as a
/// string that starts with a marker; the serializer writes each such string as its literal. The marker holds a NUL and a random token drawn once per process, so no string
/// a user wrote can be mistaken for one.
public enum NumberLiteral {
  /// The random part of the marker, 16 hex digits.
  static let token: [UInt8] = {
    var generator = SystemRandomNumberGenerator()
    let value = generator.next() as UInt64
    return Array(String(format: "%016llx", value).utf8)
  }()

  /// The marker as it is stored inside a jansson string: NUL, `#n`, the token, `#`.
  static let storedPrefix: [UInt8] = [0] + Array("#n".utf8) + token + [UInt8(ascii: "#")]

  /// The marker as JSON text, with its opening quote: `"\u0000#n<token>#`.
  static let textPrefix: [UInt8] = Array("\"\\u0000#n".utf8) + token + [UInt8(ascii: "#")]

  /// Whether a jansson node is a marked number.
  static func isNode(_ handle: UnsafeMutablePointer<json_t>) -> Bool {
    guard sheaf_json_type(handle) == Int32(JSON_STRING.rawValue) else { return false }
    let length = json_string_length(handle)
    guard length > storedPrefix.count, let value = json_string_value(handle) else { return false }
    return storedPrefix.withUnsafeBytes { prefix in
      prefix.baseAddress.map { memcmp(value, $0, prefix.count) == 0 } ?? false
    }
  }

  /// The literal of a marked number node.
  static func literal(of handle: UnsafeMutablePointer<json_t>) -> String? {
    guard isNode(handle), let value = json_string_value(handle) else { return nil }
    let bytes = UnsafeRawBufferPointer(start: value, count: json_string_length(handle))
    return String(decoding: bytes[storedPrefix.count...], as: UTF8.self)
  }

  /// A marked number node for a literal.
  static func makeNode(_ literal: String) -> UnsafeMutablePointer<json_t> {
    let bytes = storedPrefix + Array(literal.utf8)
    return bytes.withUnsafeBytes { raw in
      JSON.made(
        raw.baseAddress.flatMap {
          json_stringn_nocheck($0.assumingMemoryBound(to: CChar.self), raw.count)
        },
        "json_stringn")
    }
  }

  /// The shortest JSON text that reads back as this finite `Double`.
  static func text(for double: Double) -> String {
    // Swift's description is the shortest round-trip form; it is JSON except for a trailing
    // `.0` on whole numbers, which JSON allows, and `1e+20`-style exponents, which JSON allows.
    "\(double)"
  }

  /// The value of a literal when it is an integer that jansson keeps exactly (and `-0` is not:
  /// jansson would write it as `0`).
  static func exactInt64(_ text: String) -> Int64? {
    guard text != "-0", !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
      return nil
    }
    return Int64(text)
  }

  // MARK: - Scanning JSON text

  /// Where a number literal stands in a JSON text.
  struct Span {
    var start: Int
    var end: Int
  }

  /// The number literals in `text` (outside strings) that jansson would not keep exactly.
  ///
  /// Malformed numbers are left alone, for jansson to report.
  static func inexactSpans(in text: UnsafeRawBufferPointer) -> [Span] {
    var spans: [Span] = []
    let count = text.count
    guard count > 0, let base = text.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
      return spans
    }
    var index = 0
    while index < count {
      let byte = base[index]
      if byte == UInt8(ascii: "\"") {
        index += 1
        while index < count {
          let inner = base[index]
          if inner == UInt8(ascii: "\\") {
            index += 2
          } else if inner == UInt8(ascii: "\"") {
            index += 1
            break
          } else {
            index += 1
          }
        }
        continue
      }
      guard byte == UInt8(ascii: "-") || (byte >= 0x30 && byte <= 0x39) else {
        index += 1
        continue
      }
      // A number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
      let start = index
      var end = index
      func isDigit(_ at: Int) -> Bool { at < count && base[at] >= 0x30 && base[at] <= 0x39 }
      if base[end] == UInt8(ascii: "-") { end += 1 }
      if end < count && base[end] == UInt8(ascii: "0") {
        end += 1
      } else if isDigit(end) {
        while isDigit(end) { end += 1 }
      } else {
        index = max(end, start + 1)
        continue
      }
      var integral = true
      if end < count && base[end] == UInt8(ascii: ".") {
        guard isDigit(end + 1) else {
          index = end
          continue
        }
        end += 1
        while isDigit(end) { end += 1 }
        integral = false
      }
      if end < count && (base[end] == UInt8(ascii: "e") || base[end] == UInt8(ascii: "E")) {
        var exponent = end + 1
        if exponent < count
          && (base[exponent] == UInt8(ascii: "+") || base[exponent] == UInt8(ascii: "-"))
        {
          exponent += 1
        }
        guard isDigit(exponent) else {
          index = end
          continue
        }
        end = exponent
        while isDigit(end) { end += 1 }
        integral = false
      }
      if !integral || !fitsInt64(base + start, end - start) {
        spans.append(Span(start: start, end: end))
      }
      index = end
    }
    return spans
  }

  /// Whether `text` is exactly one JSON number literal.
  public static func isLiteral(_ text: String) -> Bool {
    if let int = Int64(text), text == String(int) { return true }
    var text = text
    return text.withUTF8 { bytes in
      let spans = inexactSpans(in: UnsafeRawBufferPointer(bytes))
      return spans.count == 1 && spans[0].start == 0 && spans[0].end == bytes.count
    }
  }

  /// Whether an integer literal is within Int64 and is not `-0`.
  private static func fitsInt64(_ digits: UnsafePointer<UInt8>, _ length: Int) -> Bool {
    let negative = digits[0] == UInt8(ascii: "-")
    let magnitude = negative ? length - 1 : length
    if negative && magnitude == 1 && digits[1] == UInt8(ascii: "0") { return false }
    if magnitude < 19 { return true }
    if magnitude > 19 { return false }
    let limit = Array((negative ? "9223372036854775808" : "9223372036854775807").utf8)
    let first = negative ? 1 : 0
    for offset in 0..<19 {
      let digit = digits[first + offset]
      if digit != limit[offset] { return digit < limit[offset] }
    }
    return true
  }

  /// Rewrites `text`, putting each span into a marked string.
  ///
  /// Returns the new text and, for
  /// mapping positions back, the end of each span in both texts.
  static func rewrite(_ text: UnsafeRawBufferPointer, spans: [Span]) -> (
    bytes: [UInt8], map: [(original: Int, rewritten: Int)]
  ) {
    var output: [UInt8] = []
    output.reserveCapacity(text.count + spans.count * (textPrefix.count + 1))
    var map: [(original: Int, rewritten: Int)] = []
    var copied = 0
    for span in spans {
      output.append(contentsOf: text[copied..<span.start])
      output.append(contentsOf: textPrefix)
      output.append(contentsOf: text[span.start..<span.end])
      output.append(UInt8(ascii: "\""))
      copied = span.end
      map.append((span.end, output.count))
    }
    output.append(contentsOf: text[copied...])
    return (output, map)
  }
}
