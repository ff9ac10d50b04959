import SheafCore

/// What a model drafts is data from a stranger.
///
/// A drafted plan keeps only what a plan's author writes about content (ids, titles, descriptions, dependencies, stages, modes, formats, word
/// counts and the settings that shape how an answer is written), at every level. Where a request
/// is sent, who answers, keys, prompt sets, templates, file paths and anything merged into a
/// request body are dropped, and each drop is named (`sections[2].llm.base_url`).
struct DraftFilter {
  /// What was dropped, by path.
  var dropped: [String] = []

  /// The `llm` keys a draft may set: how an answer is written and how long to wait for it.
  static let llmKeys: Set<String> = [
    "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "timeout_s",
    "deadline_s", "retries", "repair_attempts", "max_tokens_limit", "max_input_tokens",
    "summary_words", "min_tokens_per_s", "reasoning_effort", "seed", "stop", "presence_penalty",
    "frequency_penalty",
  ]
  /// The format keys a draft may set (no `schema_file`: a path; no `render`: a template).
  static let formatKeys: Set<String> = [
    "type", "name", "min_words", "max_words", "required_headings", "headings_in_order",
    "max_heading_level", "forbid_leading_title", "forbid_phrases", "placeholders",
    "max_duplicate_ratio", "max_echo_ratio", "unwrap_fence", "length_tolerance", "schema",
    "assert_formats",
  ]
  /// A section's fields a draft may set; other scalar fields (a chapter's `pov`) pass when
  /// their name says nothing of where data goes.
  static let sectionKeys: Set<String> = [
    "id", "title", "description", "depends_on", "context", "stage", "format", "modes",
    "instructions", "on_dependency_failure", "review", "in_document", "revises", "llm",
  ]
  /// Words in a field's name that mark a place, a party or a file.
  static let suspect = [
    "url", "key", "path", "file", "provider", "model", "prompt", "template", "host", "endpoint",
    "token", "secret", "extra", "header",
  ]

  /// The settings of an `llm` object a draft may keep.
  mutating func llm(_ value: JSON?, at path: String) -> JSON? {
    guard let value else { return nil }
    guard value.kind == .object else {
      dropped.append(path)
      return nil
    }
    let kept = JSON.object()
    for (key, member) in value.members {
      if Self.llmKeys.contains(key) {
        kept[key] = member.copy()
      } else {
        dropped.append("\(path).\(key)")
      }
    }
    return kept.count > 0 ? kept : nil
  }

  /// A format (a name, or an object of rules) a draft may keep.
  mutating func format(_ value: JSON, at path: String) -> JSON? {
    if value.string != nil { return value.copy() }
    guard value.kind == .object else {
      dropped.append(path)
      return nil
    }
    let kept = JSON.object()
    for (key, member) in value.members {
      if Self.formatKeys.contains(key) {
        kept[key] = member.copy()
      } else {
        dropped.append("\(path).\(key)")
      }
    }
    return kept
  }

  /// A section a draft may keep.
  mutating func section(_ value: JSON, at path: String) -> JSON {
    let kept = JSON.object()
    for (key, member) in value.members {
      let place = "\(path).\(key)"
      switch key {
      case "llm":
        if let llm = llm(member, at: place) { kept[key] = llm }
      case "format":
        if let format = format(member, at: place) { kept[key] = format }
      case _ where Self.sectionKeys.contains(key):
        kept[key] = member.copy()
      case _
      where member.kind != .object && member.kind != .array
        && !Self.suspect.contains(where: { key.lowercased().contains($0) }):
        kept[key] = member.copy()
      default:
        dropped.append(place)
      }
    }
    return kept
  }

  /// The plan's stages, with only the settings a draft may keep.
  mutating func stages(_ value: JSON) -> JSON? {
    guard value.kind == .object else {
      dropped.append("stages")
      return nil
    }
    let kept = JSON.object()
    for (stage, settings) in value.members {
      let place = "stages.\(stage)"
      let entry = JSON.object()
      for (key, member) in settings.members {
        if key == "llm", let llm = llm(member, at: "\(place).llm") {
          entry["llm"] = llm
        } else if key != "llm" {
          dropped.append("\(place).\(key)")
        }
      }
      if entry.count > 0 { kept[stage] = entry }
    }
    return kept
  }

  /// The plan's modes: names with the sections they hold.
  mutating func modes(_ value: JSON) -> JSON? {
    guard value.kind == .object else {
      dropped.append("modes")
      return nil
    }
    let kept = JSON.object()
    for (name, mode) in value.members {
      let entry = JSON.object()
      for (key, member) in mode.members {
        if ["sections", "description"].contains(key) {
          entry[key] = member.copy()
        } else {
          dropped.append("modes.\(name).\(key)")
        }
      }
      kept[name] = entry
    }
    return kept
  }
}
