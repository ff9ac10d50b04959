import CJansson
import Foundation

/// A JSON value backed by a jansson `json_t`: objects keep key order, integers and reals keep
/// their exact literal text, strings may hold any Unicode and embedded NUL.
///
/// The value has reference semantics, as jansson's values do: mutating an object or array through
/// one `JSON` is seen by every `JSON` that refers to the same node. Use ``copy()`` for a value of
/// your own.
public final class JSON {
  /// The kinds of JSON value.
  public enum Kind: String, Sendable {
    case object, array, string, number, bool, null
  }

  /// A node jansson made, or a clean stop when it could not (jansson returns NULL only when out of
  /// memory): one line, never a crash.
  static func made(_ node: UnsafeMutablePointer<json_t>?, _ what: StaticString)
    -> UnsafeMutablePointer<json_t>
  {
    guard let node else { outOfMemory(what) }
    return node
  }

  /// Stops the tool: jansson could not allocate.
  public static func outOfMemory(_ what: StaticString) -> Never {
    let tool = (CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent }) ?? "sheaf"
    Diagnostics.say(tool, "out of memory (jansson: \(what))")
    exit(ExitStatus.usage.rawValue)
  }

  /// The owned jansson node (one reference, released in `deinit`).
  let handle: UnsafeMutablePointer<json_t>

  /// Takes ownership of a reference the caller holds.
  init(owning handle: UnsafeMutablePointer<json_t>) {
    self.handle = handle
  }

  /// Adds a reference of its own to a node that someone else owns.
  init(retaining handle: UnsafeMutablePointer<json_t>) {
    self.handle = sheaf_json_incref(handle)
  }

  deinit {
    sheaf_json_decref(handle)
  }

  // MARK: - Making values

  /// A new, empty object.
  public static func object() -> JSON {
    JSON(owning: made(json_object(), "json_object"))
  }

  /// A new object with these members, in this order.
  public static func object(_ members: KeyValuePairs<String, JSON>) -> JSON {
    let object = JSON.object()
    for (key, value) in members { object[key] = value }
    return object
  }

  /// A new array of these elements.
  public static func array(_ elements: [JSON] = []) -> JSON {
    let array = JSON(owning: made(json_array(), "json_array"))
    for element in elements { array.append(element) }
    return array
  }

  /// A string value (it may contain NUL).
  public convenience init(_ string: String) {
    var string = string
    let handle = string.withUTF8 { bytes in
      guard let base = bytes.baseAddress else { return json_string("") }
      return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
        json_stringn_nocheck($0, bytes.count)
      }
    }
    self.init(owning: JSON.made(handle, "json_string"))
  }

  /// An integer value.
  public convenience init(_ int: Int) {
    self.init(owning: JSON.made(json_integer(json_int_t(int)), "json_integer"))
  }

  /// A real value, written with the shortest text that reads back as the same `Double`;
  /// NaN and infinities, which JSON cannot hold, become `null`.
  public convenience init(_ double: Double) {
    guard double.isFinite else {
      self.init(owning: JSON.made(json_null(), "json_null"))
      return
    }
    self.init(numberLiteral: NumberLiteral.text(for: double))
  }

  /// A number given by its JSON literal text, kept exactly (for example `1.50` or
  /// `123456789012345678901234567890`); the caller vouches that it is a valid JSON number.
  public convenience init(numberLiteral text: String) {
    if let int = NumberLiteral.exactInt64(text) {
      self.init(owning: JSON.made(json_integer(int), "json_integer"))
    } else {
      self.init(owning: NumberLiteral.makeNode(text))
    }
  }

  /// A boolean value.
  public convenience init(_ bool: Bool) {
    self.init(owning: JSON.made(bool ? json_true() : json_false(), "json_true"))
  }

  /// The null value.
  public static var null: JSON { JSON(owning: made(json_null(), "json_null")) }

  // MARK: - Reading values

  /// What kind of value this is.
  public var kind: Kind {
    switch sheaf_json_type(handle) {
    case Int32(JSON_OBJECT.rawValue): return .object
    case Int32(JSON_ARRAY.rawValue): return .array
    case Int32(JSON_STRING.rawValue): return NumberLiteral.isNode(handle) ? .number : .string
    case Int32(JSON_INTEGER.rawValue), Int32(JSON_REAL.rawValue): return .number
    case Int32(JSON_TRUE.rawValue), Int32(JSON_FALSE.rawValue): return .bool
    default: return .null
    }
  }

  /// The string, when this is a string.
  public var string: String? {
    guard sheaf_json_type(handle) == Int32(JSON_STRING.rawValue), !NumberLiteral.isNode(handle)
    else { return nil }
    return String(decoding: stringBytes, as: UTF8.self)
  }

  /// The raw UTF-8 bytes of a string node (valid while this value lives).
  var stringBytes: UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: json_string_value(handle), count: json_string_length(handle))
  }

  /// The integer, when this is a number that is a whole number within `Int`'s range.
  public var int: Int? {
    switch sheaf_json_type(handle) {
    case Int32(JSON_INTEGER.rawValue): return Int(exactly: json_integer_value(handle))
    case Int32(JSON_STRING.rawValue):
      guard let text = NumberLiteral.literal(of: handle), let double = Double(text) else {
        return nil
      }
      return Int(exactly: double)
    case Int32(JSON_REAL.rawValue): return Int(exactly: json_real_value(handle))
    default: return nil
    }
  }

  /// The number as a `Double` (the nearest one for literals that a `Double` cannot hold).
  public var double: Double? {
    switch sheaf_json_type(handle) {
    case Int32(JSON_INTEGER.rawValue): return Double(json_integer_value(handle))
    case Int32(JSON_REAL.rawValue): return json_real_value(handle)
    case Int32(JSON_STRING.rawValue): return NumberLiteral.literal(of: handle).flatMap(Double.init)
    default: return nil
    }
  }

  /// The exact JSON text of a number (`1.50` stays `1.50`).
  public var numberLiteral: String? {
    switch sheaf_json_type(handle) {
    case Int32(JSON_INTEGER.rawValue): return String(json_integer_value(handle))
    case Int32(JSON_REAL.rawValue): return NumberLiteral.text(for: json_real_value(handle))
    case Int32(JSON_STRING.rawValue): return NumberLiteral.literal(of: handle)
    default: return nil
    }
  }

  /// The boolean, when this is `true` or `false`.
  public var bool: Bool? {
    switch sheaf_json_type(handle) {
    case Int32(JSON_TRUE.rawValue): return true
    case Int32(JSON_FALSE.rawValue): return false
    default: return nil
    }
  }

  /// Whether this is `null`.
  public var isNull: Bool { sheaf_json_type(handle) == Int32(JSON_NULL.rawValue) }

  // MARK: - Objects

  /// The member named `key` of an object; setting `nil` removes it.
  ///
  /// A new key goes last; a key
  /// that exists keeps its place.
  public subscript(key: String) -> JSON? {
    get {
      Self.withKey(key) { pointer, length in json_object_getn(handle, pointer, length) }
        .map { JSON(retaining: $0) }
    }
    set {
      Self.withKey(key) { pointer, length in
        if let newValue {
          if json_object_setn_nocheck(handle, pointer, length, newValue.handle) != 0 {
            Self.outOfMemory("json_object_setn")
          }
        } else {
          _ = json_object_deln(handle, pointer, length)
        }
      }
    }
  }

  /// Gives `body` a pointer to the key's UTF-8 bytes and their count.
  private static func withKey<T>(_ key: String, _ body: (UnsafePointer<CChar>, Int) -> T) -> T {
    var key = key
    return key.withUTF8 { bytes in
      guard let base = bytes.baseAddress else { return "".withCString { body($0, 0) } }
      return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
        body($0, bytes.count)
      }
    }
  }

  /// The members of an object in order (empty for anything else).
  public var members: [(key: String, value: JSON)] {
    guard sheaf_json_type(handle) == Int32(JSON_OBJECT.rawValue) else { return [] }
    var result: [(key: String, value: JSON)] = []
    result.reserveCapacity(json_object_size(handle))
    var iterator = json_object_iter(handle)
    while let current = iterator {
      let key = String(
        decoding: UnsafeRawBufferPointer(
          start: json_object_iter_key(current), count: json_object_iter_key_len(current)),
        as: UTF8.self)
      if let value = json_object_iter_value(current) {
        result.append((key, JSON(retaining: value)))
      }
      iterator = json_object_iter_next(handle, current)
    }
    return result
  }

  /// The keys of an object in order.
  public var keys: [String] { members.map(\.key) }

  // MARK: - Arrays

  /// The elements of an array, or `nil` for anything else.
  public var array: [JSON]? {
    guard sheaf_json_type(handle) == Int32(JSON_ARRAY.rawValue) else { return nil }
    return (0..<json_array_size(handle)).compactMap { index in
      json_array_get(handle, index).map { JSON(retaining: $0) }
    }
  }

  /// The number of members of an object or elements of an array (0 for anything else).
  public var count: Int {
    switch sheaf_json_type(handle) {
    case Int32(JSON_OBJECT.rawValue): return json_object_size(handle)
    case Int32(JSON_ARRAY.rawValue): return json_array_size(handle)
    default: return 0
    }
  }

  /// Appends an element to an array.
  public func append(_ element: JSON) {
    if json_array_append(handle, element.handle) != 0 { Self.outOfMemory("json_array_append") }
  }

  // MARK: - Whole values

  /// Objects merged in order: a later object's keys win, and objects nest.
  ///
  /// An object under a key both have is merged in turn. Values are copied; non-objects are
  /// ignored.
  public static func merged(_ layers: [JSON?]) -> JSON {
    let merged = JSON.object()
    for layer in layers.compactMap({ $0 }) where layer.kind == .object {
      for (key, value) in layer.members {
        if value.kind == .object, let existing = merged[key], existing.kind == .object {
          merged[key] = JSON.merged([existing, value])
        } else {
          merged[key] = value.copy()
        }
      }
    }
    return merged
  }

  /// A deep copy that shares nothing with this value.
  public func copy() -> JSON {
    JSON(owning: Self.made(json_deep_copy(handle), "json_deep_copy"))
  }

  /// Whether two values are the same JSON (numbers compared by value, objects without regard to
  /// key order).
  public func isEqual(to other: JSON) -> Bool {
    let (lhs, rhs) = (kind, other.kind)
    guard lhs == rhs else { return false }
    switch lhs {
    case .number:
      if let a = numberLiteral, let b = other.numberLiteral, a == b { return true }
      return double == other.double
    case .object:
      guard count == other.count else { return false }
      return members.allSatisfy { member in
        other[member.key].map { member.value.isEqual(to: $0) } ?? false
      }
    case .array:
      guard let a = array, let b = other.array, a.count == b.count else { return false }
      return zip(a, b).allSatisfy { $0.isEqual(to: $1) }
    default:
      return json_equal(handle, other.handle) != 0
    }
  }

  /// The compact one-line JSON text of this value.
  public var compactText: String {
    let buffer = ByteBuffer()
    serialize(into: buffer)
    return buffer.withBytes { String(decoding: $0, as: UTF8.self) }
  }
}

extension JSON: CustomStringConvertible {
  /// The compact JSON text.
  public var description: String { compactText }
}
