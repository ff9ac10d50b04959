import Foundation
import SheafCore

/// Realistic records for benchmarks: completed sections of a document with 2–6 KB of Markdown
/// content each, the fields call-llm and validate-format add, and a few events between them.
enum BenchData {
  /// Writes about `megabytes` MB of records cycling through `sections` ids (so a later record
  /// replaces an earlier one, as in a resumed or regenerated run).
  /// - Throws: `ToolFailure` when the output fails.
  static func generate(megabytes: Int, sections: Int, to writer: RecordWriter) throws {
    let words = [
      "the", "system", "must", "support", "users", "who", "manage", "large", "documents",
      "with", "sections", "that", "depend", "on", "each", "other", "latency", "budget",
      "résumé", "naïve", "café", "日本語", "requirements", "metrics", "risk", "mitigation",
    ]
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next() -> Int {
      state ^= state << 13
      state ^= state >> 7
      state ^= state << 17
      return Int(state % 1_000_003)
    }
    let target = megabytes * 1_000_000
    var written = 0
    var index = 0
    while written < target {
      let id = String(format: "section_%04d", index % max(sections, 1) + 1)
      var content = "### Overview\n\n"
      let paragraphs = 3 + next() % 5
      for _ in 0..<paragraphs {
        var sentence: [String] = []
        for _ in 0..<(60 + next() % 60) { sentence.append(words[next() % words.count]) }
        content +=
          sentence.joined(separator: " ") + ". \"Quoted\" text, a tab\tand a backslash \\.\n\n"
      }
      content += "- first point\n- second point\n"
      let record = JSON.object()
      record["doc"] = JSON("bench")
      record["id"] = JSON(id)
      record["title"] = JSON("Section \(index % max(sections, 1) + 1)")
      record["order"] = JSON(index % max(sections, 1) + 1)
      record["stage"] = JSON(1 + (index % 3))
      record["depends_on"] = .array([JSON("section_0001")])
      record["llm"] = .object([
        "provider": JSON("openai"), "model": JSON("gpt-4o-mini"), "temperature": JSON(0.7),
        "max_tokens": JSON(2000),
      ])
      record["status"] = JSON("completed")
      record["content"] = JSON(content)
      record["provider"] = JSON("openai")
      record["model"] = JSON("gpt-4o-mini")
      record["usage"] = .object([
        "input_tokens": JSON(800 + next() % 400), "output_tokens": JSON(content.count / 4),
      ])
      record["timing"] = .object([
        "started_at": JSON("2026-11-21T07:53:12.345Z"),
        "first_token_s": JSON(Double(next() % 1000) / 1000),
        "seconds": JSON(Double(next() % 20000) / 1000),
      ])
      record["attempts"] = JSON(1)
      record["cache"] = JSON("miss")
      record["request_key"] = JSON(String(format: "%016x%016x", next(), next()))
      record["violations"] = .array()
      record["source"] = JSON("llm")
      let text = record.compactText
      written += text.utf8.count + 1
      try writer.write(record)
      if index % 10 == 0 {
        let event = Event.make(
          .chunk, doc: "bench", fields: ["id": JSON(id), "text": JSON("a chunk of text")])
        written += event.compactText.utf8.count + 1
        try writer.write(event)
      }
      index += 1
    }
  }
}
