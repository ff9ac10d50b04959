import CCmark
import Foundation

/// A CommonMark document parsed by cmark, owning cmark's node tree: the tree is freed when the
/// document goes, and the nodes it hands out keep it alive.
///
/// Not `Sendable`: cmark's tree is not safe to share between threads.
public final class MarkdownDocument {
  /// cmark's document node, the root of the tree this object owns.
  private let root: OpaquePointer

  /// Parses `markdown` with cmark's default options; `nil` when cmark cannot (out of memory).
  public init?(_ markdown: String) {
    var text = Self.tamed(markdown)
    let root = text.withUTF8 { bytes in
      bytes.withMemoryRebound(to: CChar.self) {
        cmark_parse_document($0.baseAddress, $0.count, sheaf_cmark_opt_default())
      }
    }
    guard let root else { return nil }
    self.root = root
  }

  deinit {
    cmark_node_free(root)
  }

  /// The inline markup characters cmark makes a node of each when they match nothing.
  private static let markup: Set<UInt8> = Set("*_[]<>!\\`~&".utf8)

  /// A long text that is mostly inline markup, parsed so that memory stays a small multiple of it.
  ///
  /// `*_*_*_…` or a million `[` cost cmark a node per character: some 230 times its size. Such a
  /// text is parsed with that markup made plain
  /// (spaces), outside fenced code, so memory stays a small multiple of the input and time
  /// linear; any other text is parsed as it is.
  static func tamed(_ markdown: String) -> String {
    let bytes = Array(markdown.utf8)
    guard bytes.count > 16_384 else { return markdown }
    let count = bytes.reduce(0) { $0 + (markup.contains($1) ? 1 : 0) }
    guard count * 8 > bytes.count else { return markdown }
    var out = bytes
    var fence: UInt8 = 0
    var lineStart = 0
    while lineStart < out.count {
      var lineEnd = lineStart
      while lineEnd < out.count, out[lineEnd] != 0x0A { lineEnd += 1 }
      var first = lineStart
      while first < lineEnd, first - lineStart < 4, out[first] == 0x20 { first += 1 }
      let opens =
        first + 2 < lineEnd && (out[first] == 0x60 || out[first] == 0x7E)
        && out[first + 1] == out[first] && out[first + 2] == out[first]
      if opens && (fence == 0 || fence == out[first]) {
        fence = fence == 0 ? out[first] : 0
      } else if fence == 0 {
        for index in lineStart..<lineEnd where markup.contains(out[index]) { out[index] = 0x20 }
      }
      lineStart = lineEnd + 1
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The document node, whose children are the top-level blocks.
  public var node: MarkdownNode { MarkdownNode(root, in: self) }

  /// The document as HTML where the HTML it contains is shown as text: a `<script>` the model
  /// wrote reads as the characters `<script>` (cmark's safe mode, which would drop it, still
  /// guards the links).
  ///
  /// It changes the tree: each HTML block becomes a code block, each inline HTML text.
  public func htmlShowingMarkup() -> String {
    var found: [(node: OpaquePointer, block: Bool)] = []
    if let iterator = cmark_iter_new(root) {
      while true {
        let event = cmark_iter_next(iterator)
        if event == CMARK_EVENT_DONE { break }
        guard event == CMARK_EVENT_ENTER, let node = cmark_iter_get_node(iterator) else {
          continue
        }
        let type = cmark_node_get_type(node)
        if type == CMARK_NODE_HTML_BLOCK || type == CMARK_NODE_HTML_INLINE {
          found.append((node, type == CMARK_NODE_HTML_BLOCK))
        }
      }
      cmark_iter_free(iterator)
    }
    for (node, block) in found {
      guard let text = cmark_node_new(block ? CMARK_NODE_CODE_BLOCK : CMARK_NODE_TEXT) else {
        continue
      }
      cmark_node_set_literal(text, cmark_node_get_literal(node))
      if cmark_node_replace(node, text) == 1 {
        cmark_node_free(node)
      } else {
        cmark_node_free(text)
      }
    }
    return html
  }

  /// The document as HTML, in cmark's safe mode (raw HTML and dangerous links left out).
  public var html: String {
    guard let rendered = cmark_render_html(root, sheaf_cmark_opt_default()) else { return "" }
    defer { free(rendered) }
    return String(cString: rendered)
  }
}

@available(*, unavailable)
extension MarkdownDocument: Sendable {}

/// A node of a `MarkdownDocument` (the document, a block or an inline), which it keeps alive.
public struct MarkdownNode {
  /// What a node is, as cmark names it.
  public enum Kind {
    case document, blockQuote, list, item, codeBlock, htmlBlock, customBlock, paragraph, heading
    case thematicBreak, text, softBreak, lineBreak, code, htmlInline, customInline, emphasis
    case strong, link, image, unknown
  }

  /// cmark's node, valid while `document` lives.
  private let pointer: OpaquePointer
  /// The document the node belongs to.
  private let document: MarkdownDocument

  /// The node at `pointer` in `document`'s tree.
  init(_ pointer: OpaquePointer, in document: MarkdownDocument) {
    self.pointer = pointer
    self.document = document
  }

  /// What the node is.
  public var kind: Kind {
    switch cmark_node_get_type(pointer) {
    case CMARK_NODE_DOCUMENT: .document
    case CMARK_NODE_BLOCK_QUOTE: .blockQuote
    case CMARK_NODE_LIST: .list
    case CMARK_NODE_ITEM: .item
    case CMARK_NODE_CODE_BLOCK: .codeBlock
    case CMARK_NODE_HTML_BLOCK: .htmlBlock
    case CMARK_NODE_CUSTOM_BLOCK: .customBlock
    case CMARK_NODE_PARAGRAPH: .paragraph
    case CMARK_NODE_HEADING: .heading
    case CMARK_NODE_THEMATIC_BREAK: .thematicBreak
    case CMARK_NODE_TEXT: .text
    case CMARK_NODE_SOFTBREAK: .softBreak
    case CMARK_NODE_LINEBREAK: .lineBreak
    case CMARK_NODE_CODE: .code
    case CMARK_NODE_HTML_INLINE: .htmlInline
    case CMARK_NODE_CUSTOM_INLINE: .customInline
    case CMARK_NODE_EMPH: .emphasis
    case CMARK_NODE_STRONG: .strong
    case CMARK_NODE_LINK: .link
    case CMARK_NODE_IMAGE: .image
    default: .unknown
    }
  }

  /// A heading's level (1 to 6); 0 for other nodes.
  public var headingLevel: Int { Int(cmark_node_get_heading_level(pointer)) }

  /// The line the node starts on (1-based).
  public var startLine: Int { Int(cmark_node_get_start_line(pointer)) }

  /// The line the node ends on (1-based).
  public var endLine: Int { Int(cmark_node_get_end_line(pointer)) }

  /// The text of a text, code, code block or HTML node; `nil` for other nodes.
  public var literal: String? { cmark_node_get_literal(pointer).map { String(cString: $0) } }

  /// A code block's info string (what follows the opening fence); `nil` for other nodes.
  public var fenceInfo: String? { cmark_node_get_fence_info(pointer).map { String(cString: $0) } }

  /// The node's first child, if it has children.
  public var firstChild: MarkdownNode? {
    cmark_node_first_child(pointer).map { MarkdownNode($0, in: document) }
  }

  /// The node after this one under the same parent.
  public var next: MarkdownNode? {
    cmark_node_next(pointer).map { MarkdownNode($0, in: document) }
  }

  /// The node's children, in order.
  public var children: [MarkdownNode] {
    var children: [MarkdownNode] = []
    var child = firstChild
    while let current = child {
      children.append(current)
      child = current.next
    }
    return children
  }

  /// Calls `body` with this node and each node inside it, in document order, as it is entered.
  public func forEachEntered(_ body: (MarkdownNode) -> Void) {
    let iterator = cmark_iter_new(pointer)
    defer { cmark_iter_free(iterator) }
    while true {
      let event = cmark_iter_next(iterator)
      if event == CMARK_EVENT_DONE { break }
      if event == CMARK_EVENT_ENTER, let node = cmark_iter_get_node(iterator) {
        body(MarkdownNode(node, in: document))
      }
    }
  }
}
