import SheafCore

/// An answer that repeats its own prompt (the system message, the brief, the instructions) is
/// not an answer: weak models echo what they were told, and twelve copies of a prompt must never
/// make a `ready` document.
///
/// Judged on word 5-grams: the share of the answer's shingles found in what the section was told
/// (its system message, its description and instructions, the document's inputs; not the other
/// sections' content its prompt carries, which a summary may rightly reuse). At or over the
/// format's `max_echo_ratio` (default 0.5; 1 turns it off) it is a violation, `echo`.
enum EchoRule {
  /// The share at which an answer is taken for an echo, unless the format says otherwise.
  static let defaultRatio = 0.5
  /// Answers shorter than this many words are not judged (a short answer may share a phrase).
  static let minimumWords = 20

  /// What a record was told: its system messages, description, instructions and the document's
  /// inputs (their text).
  static func told(_ record: JSON) -> String {
    var parts: [String] = []
    for message in record["messages"]?.array ?? [] where message["role"]?.string == "system" {
      if let text = message["content"]?.string { parts.append(text) }
    }
    for key in ["description", "instructions"] {
      if let text = record[key]?.string { parts.append(text) }
    }
    for (_, value) in record["inputs"]?.members ?? [] {
      if let text = value.string { parts.append(text) }
    }
    return parts.joined(separator: "\n")
  }

  /// The `echo` violation of `answer` against what the record was told, if it echoes it.
  static func violation(_ answer: String, record: JSON, format: JSON?) -> Violation? {
    let ratio = format?["max_echo_ratio"]?.double ?? defaultRatio
    guard ratio < 1 else { return nil }
    let prompt = told(record)
    guard !prompt.isEmpty, let share = share(answer, of: prompt), share >= ratio else {
      return nil
    }
    return Violation(
      rule: "echo",
      message:
        "\(Int((share * 100).rounded()))% of the answer repeats its own prompt (at most \(Int((ratio * 100).rounded()))% allowed); write the section itself, not the instructions or the material you were given"
    )
  }

  /// The share of `answer`'s word 5-grams that are in `prompt`; `nil` for a short answer.
  static func share(_ answer: String, of prompt: String) -> Double? {
    let mine = DuplicateIndex.shingles(answer)
    guard mine.count >= minimumWords - 4 else { return nil }
    let theirs = DuplicateIndex.shingles(prompt)
    return Double(mine.intersection(theirs).count) / Double(mine.count)
  }
}
