import SheafCore

/// Removes `<think>…</think>` from streamed text and keeps it apart, also when a tag is split
/// across chunks: text that might be the start of a tag is held back until the next chunk says.
public struct ThinkFilter {
  private static let open = Array("<think>".utf8)
  private static let close = Array("</think>".utf8)

  private var inside = false
  private var held: [UInt8] = []
  /// The answer without thinking, so far.
  public private(set) var content = ""
  /// The removed thinking, so far.
  public private(set) var reasoning = ""

  /// A filter at the start of an answer.
  public init() {}

  /// Whether a `<think>` block is open (at the end: the answer stopped while thinking).
  public var isInsideThink: Bool { inside }

  /// Takes a chunk; returns the part of it that is answer text (for chunk events).
  @discardableResult
  public mutating func feed(_ text: String) -> String {
    var visible: [UInt8] = []
    var thinking: [UInt8] = []
    var bytes = held + Array(text.utf8)
    held = []
    var index = 0
    while index < bytes.count {
      let tag = inside ? Self.close : Self.open
      if bytes[index] == UInt8(ascii: "<") {
        let available = min(tag.count, bytes.count - index)
        if Array(bytes[index..<(index + available)]) == Array(tag[0..<available]) {
          if available == tag.count {
            inside.toggle()
            index += tag.count
            continue
          }
          // Could be the start of a tag: wait for more.
          held = Array(bytes[index...])
          bytes.removeSubrange(index...)
          break
        }
      }
      if inside { thinking.append(bytes[index]) } else { visible.append(bytes[index]) }
      index += 1
    }
    let shown = String(decoding: visible, as: UTF8.self)
    content += shown
    reasoning += String(decoding: thinking, as: UTF8.self)
    return shown
  }

  /// Ends the answer: text held back as a possible tag is what it was.
  public mutating func finish() {
    guard !held.isEmpty else { return }
    let rest = String(decoding: held, as: UTF8.self)
    held = []
    if inside { reasoning += rest } else { content += rest }
  }

  /// Adds reasoning that arrived in its own field (reasoning_content, thinking deltas).
  public mutating func addReasoning(_ text: String) {
    reasoning += text
  }
}
