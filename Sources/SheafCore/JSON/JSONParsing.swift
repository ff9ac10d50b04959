import CJansson
import Foundation

/// Why a JSON text could not be read: jansson's words, with the column counted in characters.
public struct JSONSyntaxError: Error, Equatable, Sendable {
  /// 1-based line within the text (1 for a single NDJSON line).
  public var line: Int
  /// 1-based column, in characters.
  public var column: Int
  /// What is wrong, for example `invalid token near 'NaN'`.
  public var message: String

  /// `column C: message` for one-line texts, `line L, column C: message` otherwise.
  public var description: String {
    line > 1 ? "line \(line), column \(column): \(message)" : "column \(column): \(message)"
  }
}

extension JSON {
  /// Parses one JSON text (an NDJSON line or a whole plan file).
  /// - Throws: `JSONSyntaxError` naming where and what.
  public static func parse(_ text: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSON {
    let spans = NumberLiteral.inexactSpans(in: text)
    var error = json_error_t()
    if spans.isEmpty {
      if let handle = load(text, &error) { return JSON(owning: handle) }
      throw syntaxError(error, in: text, map: [])
    }
    let (rewritten, map) = NumberLiteral.rewrite(text, spans: spans)
    let loaded = rewritten.withUnsafeBytes { load($0, &error) }
    if let handle = loaded { return JSON(owning: handle) }
    throw syntaxError(error, in: text, map: map)
  }

  /// Parses JSON text given as a string.
  /// - Throws: `JSONSyntaxError` naming where and what.
  public static func parse(_ text: String) throws(JSONSyntaxError) -> JSON {
    var result: Result<JSON, JSONSyntaxError> = .failure(
      JSONSyntaxError(line: 1, column: 1, message: "empty text"))
    Array(text.utf8).withUnsafeBytes { bytes in
      do throws(JSONSyntaxError) {
        result = .success(try parse(bytes))
      } catch {
        result = .failure(error)
      }
    }
    return try result.get()
  }

  private static func load(
    _ text: UnsafeRawBufferPointer, _ error: inout json_error_t
  ) -> UnsafeMutablePointer<json_t>? {
    // jansson wants a pointer even for an empty text.
    guard let base = text.baseAddress else {
      return "".withCString { json_loadb($0, 0, sheaf_json_decode_flags(), &error) }
    }
    return json_loadb(
      base.assumingMemoryBound(to: CChar.self), text.count, sheaf_json_decode_flags(), &error)
  }

  /// Builds the error from jansson's, mapping its byte position back to the original text.
  private static func syntaxError(
    _ error: json_error_t, in text: UnsafeRawBufferPointer,
    map: [(original: Int, rewritten: Int)]
  ) -> JSONSyntaxError {
    var position = max(0, Int(error.position))
    // Undo the growth of every rewritten number that ends before the position.
    var shift = 0
    for entry in map where entry.rewritten <= position {
      shift = entry.rewritten - entry.original
    }
    position = min(text.count, max(0, position - shift))
    var line = 1
    var column = 0
    for byte in text[..<position] {
      if byte == UInt8(ascii: "\n") {
        line += 1
        column = 0
      } else if byte & 0xC0 != 0x80 {
        column += 1
      }
    }
    var message = withUnsafeBytes(of: error.text) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    message = message.replacingOccurrences(
      of: String(decoding: NumberLiteral.textPrefix.dropFirst(), as: UTF8.self), with: "")
    if message.hasPrefix("'[' or '{' expected") {
      message = "expected a JSON object or array"
    }
    return JSONSyntaxError(line: line, column: max(column, 1), message: message)
  }

  /// Writes this value as compact JSON text at the end of `buffer`: the same text jansson's
  /// `JSON_COMPACT` writes, with marked numbers written as their literals.
  ///
  /// Strings are copied in
  /// runs between the bytes that need escaping, which is several times faster than jansson's
  /// code point by code point escaping.
  public func serialize(into buffer: ByteBuffer) {
    Self.write(handle, into: buffer)
  }

  private static func write(_ node: UnsafeMutablePointer<json_t>, into buffer: ByteBuffer) {
    switch sheaf_json_type(node) {
    case Int32(JSON_OBJECT.rawValue):
      buffer.append(UInt8(ascii: "{"))
      var iterator = json_object_iter(node)
      var first = true
      while let current = iterator {
        if !first { buffer.append(UInt8(ascii: ",")) }
        first = false
        if let key = json_object_iter_key(current) {
          writeString(
            UnsafeRawPointer(key).assumingMemoryBound(to: UInt8.self),
            json_object_iter_key_len(current), into: buffer)
        }
        buffer.append(UInt8(ascii: ":"))
        if let value = json_object_iter_value(current) { write(value, into: buffer) }
        iterator = json_object_iter_next(node, current)
      }
      buffer.append(UInt8(ascii: "}"))
    case Int32(JSON_ARRAY.rawValue):
      buffer.append(UInt8(ascii: "["))
      for index in 0..<json_array_size(node) {
        if index > 0 { buffer.append(UInt8(ascii: ",")) }
        if let element = json_array_get(node, index) { write(element, into: buffer) }
      }
      buffer.append(UInt8(ascii: "]"))
    case Int32(JSON_STRING.rawValue):
      let length = json_string_length(node)
      guard let value = json_string_value(node) else { return }
      let bytes = UnsafeRawPointer(value).assumingMemoryBound(to: UInt8.self)
      if NumberLiteral.isNode(node) {
        let prefix = NumberLiteral.storedPrefix.count
        buffer.append(UnsafeRawBufferPointer(start: bytes + prefix, count: length - prefix))
      } else {
        writeString(bytes, length, into: buffer)
      }
    case Int32(JSON_INTEGER.rawValue):
      writeInteger(json_integer_value(node), into: buffer)
    case Int32(JSON_REAL.rawValue):
      buffer.append(NumberLiteral.text(for: json_real_value(node)))
    case Int32(JSON_TRUE.rawValue):
      buffer.append("true")
    case Int32(JSON_FALSE.rawValue):
      buffer.append("false")
    default:
      buffer.append("null")
    }
  }

  private static func writeInteger(_ value: Int64, into buffer: ByteBuffer) {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits and a sign
    withUnsafeMutableBytes(of: &digits) { raw in
      var magnitude = value.magnitude
      var index = raw.count
      repeat {
        index -= 1
        raw[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        magnitude /= 10
      } while magnitude > 0
      if value < 0 {
        index -= 1
        raw[index] = UInt8(ascii: "-")
      }
      buffer.append(UnsafeRawBufferPointer(rebasing: raw[index...]))
    }
  }

  /// Writes a quoted, escaped string: `"` and `\` escaped, control characters as `\n`, `\t`,
  /// `\r`, `\b`, `\f` or `\u00XX`, everything else (valid UTF-8) as it is.
  private static func writeString(
    _ bytes: UnsafePointer<UInt8>, _ length: Int, into buffer: ByteBuffer
  ) {
    buffer.reserve(buffer.count + length + 2)
    buffer.append(UInt8(ascii: "\""))
    var runStart = 0
    var index = 0
    while index < length {
      let byte = bytes[index]
      if byte >= 0x20 && byte != 0x22 && byte != 0x5C {
        index += 1
        continue
      }
      if index > runStart {
        buffer.append(UnsafeRawBufferPointer(start: bytes + runStart, count: index - runStart))
      }
      switch byte {
      case 0x22: buffer.append("\\\"")
      case 0x5C: buffer.append("\\\\")
      case 0x0A: buffer.append("\\n")
      case 0x09: buffer.append("\\t")
      case 0x0D: buffer.append("\\r")
      case 0x08: buffer.append("\\b")
      case 0x0C: buffer.append("\\f")
      default:
        let hex = Array("0123456789ABCDEF".utf8)
        buffer.append("\\u00")
        buffer.append(hex[Int(byte >> 4)])
        buffer.append(hex[Int(byte & 0x0F)])
      }
      index += 1
      runStart = index
    }
    if length > runStart {
      buffer.append(UnsafeRawBufferPointer(start: bytes + runStart, count: length - runStart))
    }
    buffer.append(UInt8(ascii: "\""))
  }
}
