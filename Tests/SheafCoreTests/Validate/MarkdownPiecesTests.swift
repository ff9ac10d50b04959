import Foundation
import Testing

@testable import SheafMarkdown
@testable import SheafValidate

/// A long answer is read a piece at a time (issue 22): what the rules see is what the whole text
/// would give, and no piece runs past a fence or an HTML block.
struct MarkdownPiecesTests {
  /// The pieces of `text` with a small limit, so that a test text is cut many times.
  func pieces(_ text: String, limit: Int = 200) -> [MarkdownPieces.Piece] {
    var pieces: [MarkdownPieces.Piece] = []
    MarkdownPieces(text, limit: limit).visit { pieces.append($0) }
    return pieces
  }

  /// What the whole text gives, parsed at once (the shape of a text within the limit).
  func whole(_ text: String) -> (words: Int, headings: [String]) {
    var words = 0
    var headings: [String] = []
    MarkdownPieces(text, limit: Int.max / 8).visit { piece in
      let shape = MarkdownShape(piece.text)
      words = shape.words
      headings = shape.headings.map { "\($0.level) \($0.text) @\($0.line)" }
    }
    return (words, headings)
  }

  @Test func aShortTextIsOnePiece() {
    #expect(pieces("# A\n\nsome words").count == 1)
  }

  @Test func cutsKeepWordsHeadingsAndTheirLines() {
    var text = ""
    for index in 0..<60 {
      text += "## Part \(index)\n\nSome words of part \(index), with *emphasis* and `code`.\n\n"
      text += "- an item\n- another item\nlazy line\n\nSetext \(index)\n=====\n\n"
      text += "```\ncode words that never count\n\nstill code\n```\n\n"
      text += "<!-- a comment\n\nwith a blank line -->\n\n"
      text += "- step \(index):\n  ```bash\n\n  # install\n  make it\n  ```\n\n"
      text += "- ```bash\n\n  # install \(index)\n  ```\n\n"
      text += "> quoted words\n> ```\n> quoted code\n>\n> more code\n> ```\n\n"
      text += "A paragraph line\nUnder \(index)\n---\n\n"
    }
    let cut = pieces(text)
    #expect(cut.count > 10, "the text is cut")
    var words = 0
    var headings: [String] = []
    for piece in cut {
      let shape = MarkdownShape(piece.text)
      words += shape.words
      headings += shape.headings.map { "\($0.level) \($0.text) @\($0.line + piece.lineOffset)" }
    }
    let expected = whole(text)
    #expect(words == expected.words)
    #expect(headings == expected.headings)
    #expect(MarkdownShape(text).words == expected.words, "the shape reads the pieces")
  }

  @Test func aLongFenceIsOpenedAgainAfterAForcedCut() {
    let code = (0..<200).map { "let value\($0) = compute(\($0))" }.joined(separator: "\n")
    let text = "Intro words here.\n\n```swift\n\(code)\n```\n\nOutro words.\n"
    let cut = pieces(text)
    #expect(cut.count > 4)
    #expect(
      cut.dropFirst().allSatisfy {
        $0.text.hasPrefix("```swift\n") || !$0.text.contains("let value")
      })
    #expect(MarkdownShape(text).words == whole(text).words, "code words are never counted")
    #expect(MarkdownShape(text).words == 5)
  }

  @Test func aLineLongerThanTheLimitIsCutAtSpaces() {
    let text = String(repeating: "word ", count: 1_000) + "\n\n# End\n"
    let cut = pieces(text)
    #expect(cut.count > 5)
    #expect(cut.allSatisfy { $0.text.utf8.count <= 400 })
    let shape = MarkdownShape(text)
    #expect(shape.words == 1_001)
    #expect(shape.headings.map(\.line) == [3])
  }

  @Test func aCutNeverSplitsACharacter() {
    let text = String(repeating: "é", count: 5_000)
    let cut = pieces(text)
    #expect(cut.map(\.text).joined() == text)
  }
}
