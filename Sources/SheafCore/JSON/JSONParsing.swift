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
    let base = text.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
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

  /// Writes this value as compact JSON text at the end of `buffer`.
  public func serialize(into buffer: ByteBuffer) {
    let start = buffer.count
    let flags = sheaf_json_compact_flags()
    func dump() -> Int {
      json_dumpb(
        handle, UnsafeMutableRawPointer(buffer.base + start).assumingMemoryBound(to: CChar.self),
        buffer.capacity - start, flags)
    }
    // Write into the room there is; only a value larger than that is written twice.
    var needed = dump()
    if needed > buffer.capacity - start {
      buffer.reserve(start + needed)
      needed = dump()
    }
    buffer.count = start + needed
    NumberLiteral.restore(in: buffer, from: start)
  }
}
