import Foundation

/// One section as the plan defines it.
public struct PlanSection {
  /// The slug that names the section (and its files).
  public var id: String
  /// Its heading in the document.
  public var title: String
  /// What it should say.
  public var description: String
  /// The stage given in the plan, if any.
  public var stage: Int?
  /// Hard dependencies: these must complete first.
  public var dependsOn: [String]
  /// Soft dependencies: their content is shown if it exists.
  public var context: [String]
  /// Prompt template name (default: the id).
  public var template: String?
  /// Output format spec (a named format is resolved to its object).
  public var format: JSON?
  /// Model settings of the section itself.
  public var llm: JSON?
  /// The modes the section belongs to (`nil`: every mode).
  public var modes: [String]?
  /// Extra instructions.
  public var instructions: String?
  /// Every other field, in plan order, passed through to the record.
  public var extra: [(key: String, value: JSON)]
  /// 1-based position in the plan's list of sections.
  public var index: Int
}

/// A document's definition (DESIGN.md section 2), read from a JSON plan or a Markdown outline.
public struct Plan {
  /// Document id (a slug).
  public var id: String
  /// Document title.
  public var title: String
  /// Document inputs, resolved to text (files read), in plan order.
  public var inputs: [(key: String, value: String)]
  /// The files the inputs were read from, for make's prerequisites.
  public var inputFiles: [String]
  /// Plan-wide model settings.
  public var llm: JSON?
  /// Model settings per stage.
  public var stageLLM: [Int: JSON]
  /// Named formats sections may refer to.
  public var formats: [String: JSON]
  /// The modes the plan declares, in order.
  public var modes: [String]
  /// The mode used when none is asked for.
  public var defaultMode: String?
  /// The prompt set build-prompt should use.
  public var promptSet: String?
  /// The sections, in plan order.
  public var sections: [PlanSection]
  /// Where the plan came from: its path, or `stdin`.
  public var source: String
}

/// The rule every section id and document id follows: it becomes a file name.
public enum Slug {
  /// Whether `text` matches `[a-z0-9][a-z0-9_-]{0,63}`.
  public static func isValid(_ text: String) -> Bool {
    let bytes = Array(text.utf8)
    guard (1...64).contains(bytes.count) else { return false }
    func allowed(_ byte: UInt8, first: Bool) -> Bool {
      (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
        || (!first && (byte == 0x5F || byte == 0x2D))
    }
    return bytes.enumerated().allSatisfy { allowed($1, first: $0 == 0) }
  }

  /// A slug made from a title: lower case, accents folded, runs of anything else turned into `-`;
  /// empty when nothing is left.
  public static func make(from title: String) -> String {
    let folded = title.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
    var slug = ""
    var pendingDash = false
    for scalar in folded.unicodeScalars {
      let isAllowed = (scalar >= "a" && scalar <= "z") || (scalar >= "0" && scalar <= "9")
      if isAllowed {
        if pendingDash && !slug.isEmpty { slug.append("-") }
        pendingDash = false
        slug.unicodeScalars.append(scalar)
        if slug.utf8.count >= 64 { break }
      } else {
        pendingDash = true
      }
    }
    while slug.hasSuffix("-") { slug.removeLast() }
    return String(slug.prefix(64))
  }

  /// The message for an id that is not a slug.
  public static func problem(_ id: String) -> String {
    "id '\(id)' is not a slug: use a-z, 0-9, '_' and '-', start with a letter or digit, "
      + "at most 64 characters"
  }
}

/// Every problem found in a plan, reported together, one line each; nothing is emitted.
public struct PlanProblems: Error {
  /// One line per problem, each naming its place and the ids involved.
  public var lines: [String]
}
