import Testing

@testable import SheafCore
@testable import SheafValidate

/// Each Markdown rule, passing and failing, with the message a model gets.
struct MarkdownRulesTests {
  func check(
    _ content: String, _ format: String, title: String = "Goals", earlier: DuplicateIndex? = nil
  ) throws -> [String] {
    MarkdownRules.check(
      content, format: try JSON.parse(format), title: title, earlier: earlier, id: "x"
    ).violations.map { "\($0.rule): \($0.message)" }
  }

  /// What was fixed in place (the warnings of the repairs) and the text it left.
  func fixes(_ content: String, _ format: String, title: String = "Goals") throws -> (
    [String], String?
  ) {
    let result = MarkdownRules.check(
      content, format: try JSON.parse(format), title: title, earlier: nil, id: "x")
    #expect(result.violations.isEmpty, "\(result.violations)")
    return (result.warnings.map { "\($0.rule): \($0.message)" }, result.repaired)
  }

  static let prose =
    "Dispatchers lose an hour a day to replanning when a job overruns, and customers wait four hours."

  @Test func wordsCountProseNotMarkup() throws {
    let text =
      "## Heading words\n\n**Bold** and `code` and [a link](http://example.com/x/y/z).\n\n```\nnot counted in a code block\n```\n\n- one\n- two"
    #expect(MarkdownShape(text).words == 10)
    #expect(try check(text, #"{"min_words":10,"max_words":10}"#).isEmpty)
    #expect(
      try check(text, #"{"min_words":500,"max_words":700}"#) == [
        "min_words: the answer has 10 words; write 500–700"
      ])
    #expect(
      try check(text, #"{"max_words":5}"#) == [
        "max_words: the answer has 10 words; write at most 5"
      ])
    #expect(
      try check(text, #"{"min_words":20}"#) == [
        "min_words: the answer has 10 words; write at least 20"
      ])
  }

  @Test func requiredHeadingsAndTheirOrder() throws {
    let text = "### Scope\n\nText.\n\n## Risks\n\nText."
    #expect(try check(text, ###"{"required_headings":["Scope","## Risks"]}"###).isEmpty)
    #expect(
      try check(text, ###"{"required_headings":["## Scope","Budget"]}"###) == [
        "required_headings: missing required heading '## Scope'",
        "required_headings: missing required heading 'Budget'",
      ])
    #expect(
      try check(text, #"{"required_headings":["Risks","Scope"],"headings_in_order":true}"#) == [
        "heading_order: heading 'Scope' is out of order; the headings must come as 'Risks', 'Scope'"
      ])
  }

  @Test func headingLevels() throws {
    #expect(try check("### Fine\n\nText.", #"{"max_heading_level":3}"#).isEmpty)
    #expect(
      try check("Text.\n\n## Too big\n", #"{"max_heading_level":3}"#) == [
        "max_heading_level: line 3: '## Too big' is a level-2 heading; use level 3 (###) or deeper"
      ])
  }

  @Test func leadingTitle() throws {
    // Repaired in place: the heading goes, and the warning says so.
    for heading in ["## goals", "# **Goals:**", "Goals\n=====", "### Goals ###"] {
      let (fixed, text) = try fixes(
        "\(heading)\n\n\(Self.prose)", #"{"forbid_leading_title":true}"#)
      #expect(
        fixed == [
          "forbid_leading_title: removed the leading heading that repeated the section title 'Goals'"
        ], "\(heading)")
      #expect(text == Self.prose, "\(heading)")
    }
    let (fixed, text) = try fixes(
      "## Goals\nThe first line.\n\n\(Self.prose)", #"{"forbid_leading_title":true}"#)
    #expect(fixed.count == 1 && text == "The first line.\n\n\(Self.prose)")
    #expect(try check("### Objectives\n\n\(Self.prose)", #"{"forbid_leading_title":true}"#).isEmpty)
    #expect(try check("## Goals\n\n\(Self.prose)", #"{}"#).isEmpty, "only when the format asks")
  }

  @Test func preambleAndSignOffAreRemoved() throws {
    let (fixed, text) = try fixes(
      "Sure, here is the section.\n\n\(Self.prose)\n\nI hope this helps! Let me know if you need more.",
      #"{}"#)
    #expect(
      fixed == [
        "forbid_phrases: removed the preamble 'Sure, here is the section.'",
        "forbid_phrases: removed the sign-off 'I hope this helps! Let me know if you need more.'",
      ])
    #expect(text == Self.prose)
    let (announced, rest) = try fixes(
      "Certainly! Here's the Goals section:\n\n- one\n- two", #"{}"#)
    #expect(announced.count == 1 && rest == "- one\n- two")
    // Content is never taken for an aside: a list item, a long paragraph, a lone paragraph.
    #expect(try fixes("\(Self.prose)\n\n- Let me know if the board is late.", #"{}"#).1 == nil)
    #expect(try fixes("Here is why: \(Self.prose) \(Self.prose)\n\nMore.", #"{}"#).1 == nil)
  }

  @Test func phrasesDefaultAndOwn() throws {
    #expect(
      try check("\(Self.prose) Sure, here is more, and I hope this helps.\n\nEnd.", #"{}"#) == [
        "forbid_phrases: remove 'sure, here is': no preamble, sign-off or remarks about yourself",
        "forbid_phrases: remove 'i hope this helps': no preamble, sign-off or remarks about yourself",
      ])
    #expect(
      try check("In conclusion, \(Self.prose)", #"{"forbid_phrases":["In conclusion"]}"#) == [
        "forbid_phrases: remove 'in conclusion': no preamble, sign-off or remarks about yourself"
      ])
    #expect(try check("Sure, here is it.", #"{"forbid_phrases":false}"#).isEmpty)
    #expect(
      try check("```\nSure, here is code\n```\n\n\(Self.prose)", #"{}"#).isEmpty,
      "code is not prose")
  }

  @Test func thinkAndFences() throws {
    #expect(
      try check("<think>plan</think>\n\n\(Self.prose)", #"{}"#) == [
        "think: remove the leftover <think> block; give only the answer"
      ])
    #expect(
      try check("\(Self.prose)\n\n```swift\nlet x = 1\n", #"{}"#) == [
        "unclosed_fence: a code fence (```) is opened and never closed; close it or remove it"
      ])
    #expect(
      try check("```markdown\n\(Self.prose)\n```", #"{"unwrap_fence":false}"#) == [
        "whole_fence: the whole answer is wrapped in a code fence; write the Markdown itself, without ``` around it"
      ])
    #expect(try check("\(Self.prose)\n\n```\ncode\n```\n\nMore.", #"{}"#).isEmpty)
    let (fixed, unwrapped) = try fixes("```markdown\n\(Self.prose)\n```", #"{}"#)
    #expect(fixed == ["whole_fence: removed the code fence around the whole answer"])
    #expect(unwrapped == Self.prose)
  }

  @Test func lengthWithinTheToleranceIsAWarning() throws {
    let words = { (count: Int) in Array(repeating: "word", count: count).joined(separator: " ") }
    let format = #"{"min_words":250,"max_words":700}"#
    #expect(try check(words(240), format).isEmpty)
    #expect(
      try fixes(words(240), format).0 == [
        "min_words: the answer has 240 words; write 250–700 (within the length tolerance)"
      ])
    #expect(
      try check(words(224), format) == ["min_words: the answer has 224 words; write 250–700"])
    #expect(try check(words(770), format).isEmpty)
    #expect(try check(words(771), format).count == 1)
    #expect(
      try check(words(240), #"{"min_words":250,"length_tolerance":0}"#) == [
        "min_words: the answer has 240 words; write at least 250"
      ])
  }

  @Test func placeholders() throws {
    #expect(
      try check("Our target is [Insert metric] by TODO.", #"{}"#) == [
        "placeholders: replace the placeholder text ('[insert', 'TODO') with real content"
      ])
    #expect(
      try check("Lorem ipsum dolor sit amet.", #"{}"#) == [
        "placeholders: replace the placeholder text ('lorem ipsum') with real content"
      ])
    #expect(try check("A todo list app with [links](x).", #"{}"#).isEmpty)
    #expect(try check("TBD", #"{"placeholders":false}"#).isEmpty)
  }

  @Test func duplicatesAcrossTheStream() throws {
    let index = DuplicateIndex()
    let first =
      "The board shows every technician's day and lets the dispatcher drag jobs between them while the route updates itself."
    index.add(first, id: "solution")
    #expect(
      try check(
        first + " One more sentence of its own here.", #"{"max_duplicate_ratio":0.3}"#,
        earlier: index) == [
          "duplicate: 70% of this answer repeats section 'solution' (at most 30% allowed); cover only this section's ground"
        ])
    #expect(try check(Self.prose, #"{"max_duplicate_ratio":0.3}"#, earlier: index).isEmpty)
  }
}
