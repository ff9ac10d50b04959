import Testing

@testable import SheafCore
@testable import SheafMerge

struct DocumentMergerTests {
  func merged(_ lines: [String]) throws -> DocumentMerger {
    let merger = DocumentMerger()
    for (index, line) in lines.enumerated() {
      try merger.add(
        Record(try JSON.parse(line)), at: LineLocation(source: "test", line: index + 1))
    }
    return merger
  }

  @Test func anObjectHoldingRowsShowsThemAsATable() throws {
    let record =
      #"{"id":"m","title":"M","order":1,"status":"completed","content":"{}","format":{"type":"json"},"#
      + #""data":{"metrics":[{"name":"on time","target":"95%"},{"name":"calls","target":"-20%"}],"owner":"ops"}}"#
    let merger = try merged([record])
    let markdown = merger.render(.markdown, omitMissing: false)
    #expect(markdown.contains("**Metrics**\n\n| Name | Target |\n| --- | --- |\n| on time | 95% |"))
    #expect(markdown.contains("- **Owner**: ops"))
    #expect(!markdown.contains("- **Metrics**:"), "not nested bullets")
    let html = merger.render(.html, omitMissing: false)
    #expect(html.contains("<p><strong>Metrics</strong></p>\n<table>"))
    #expect(html.contains("<td>on time</td><td>95%</td>"))
  }

  @Test func statusRules() throws {
    let done = #"{"id":"a","order":1,"status":"completed","content":"x"}"#
    let failed = #"{"id":"b","order":2,"status":"failed","error":{"type":"network","message":"m"}}"#
    let cancelled = #"{"id":"c","order":3,"status":"cancelled"}"#
    #expect(try merged([done]).status == .ready)
    #expect(try merged([done, failed]).status == .partial)
    #expect(try merged([failed]).status == .failed)
    #expect(try merged([done, cancelled]).status == .cancelled)
    #expect(try merged([done, #"{"id":"p","status":"pending"}"#]).status == .partial)
    #expect(try merged([]).status == .failed)
  }

  @Test func aLaterRecordReplacesAnEarlierOneAndKeepsItsPlace() throws {
    let merger = try merged([
      #"{"id":"x","status":"failed"}"#, #"{"id":"y","status":"completed","content":"Y"}"#,
      #"{"id":"x","status":"completed","content":"X"}"#,
    ])
    #expect(merger.sections.map(\.id) == ["x", "y"])
    #expect(merger.status == .ready)
    #expect(
      merger.markdown(omitMissing: false) == "# Untitled document\n\n## x\n\nX\n\n## y\n\nY\n")
  }

  @Test func orderWinsOverArrival() throws {
    let merger = try merged([
      #"{"id":"late","order":3,"status":"completed","content":"3"}"#,
      #"{"id":"none","status":"completed","content":"?"}"#,
      #"{"id":"first","order":1,"status":"completed","content":"1"}"#,
    ])
    #expect(merger.sections.map(\.id) == ["first", "late", "none"])
  }

  @Test(arguments: [
    ("## Goals\n\nBody.", "Body."),
    ("# GOALS #\nBody.", "Body."),
    ("### Goals and more\nBody.", "### Goals and more\nBody."),
    ("#Goals\nBody.", "#Goals\nBody."),
    ("\n\n  \nBody.\n\n", "Body."),
  ])
  func leadingTitleIsDroppedOnlyWhenItRepeatsTheTitle(_ content: String, _ body: String) {
    let section = MergedSection(
      id: "g", title: "Goals", order: 1, status: .completed, content: content, error: nil,
      errorJSON: nil, seconds: nil, inputTokens: nil, outputTokens: nil, attempts: nil, source: nil,
      arrival: 0)
    #expect(DocumentMerger.body(of: section) == body)
  }

  @Test func totalsAddUp() throws {
    let merger = try merged([
      #"{"id":"a","status":"completed","content":"x","usage":{"input_tokens":10,"output_tokens":5},"timing":{"seconds":1.25}}"#,
      #"{"id":"b","status":"completed","content":"y","usage":{"input_tokens":7,"output_tokens":3},"timing":{"seconds":0.5}}"#,
      #"{"id":"c","status":"skipped","error":{"type":"dependency_failed","message":"m"}}"#,
    ])
    #expect(
      merger.summary()["totals"]?.compactText
        == #"{"sections":3,"completed":2,"failed":0,"skipped":1,"cancelled":0,"paused":0,"pending":0,"seconds":1.75,"input_tokens":17,"output_tokens":8,"cached_input_tokens":0,"cache_write_tokens":0}"#
    )
  }

  @Test func htmlShowsRawHTMLAsText() throws {
    let merger = try merged([
      #"{"id":"a","title":"<A>","status":"completed","content":"Hi <script>alert(1)</script> **bold**"}"#
    ])
    let html = merger.html(omitMissing: false)
    #expect(html.contains("<h2>&lt;A&gt;</h2>"))
    #expect(html.contains("<strong>bold</strong>"))
    #expect(!html.contains("<script>"))
    #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "shown as the characters")
  }
}
