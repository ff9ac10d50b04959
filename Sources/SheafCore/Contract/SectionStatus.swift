/// A section's status, the one set every tool uses (DESIGN.md section 5).
public enum SectionStatus: String, CaseIterable, Sendable {
  case pending, queued, processing, completed, failed, skipped, cancelled
  /// Held back by `sheaf-run pause` before it started: the next `make doc` runs it.
  case paused

  /// Whether the section has reached an end (completed, failed, skipped, cancelled or paused).
  public var isFinal: Bool {
    switch self {
    case .completed, .failed, .skipped, .cancelled, .paused: return true
    case .pending, .queued, .processing: return false
    }
  }
}

/// A document's status, from merge-doc (DESIGN.md section 5).
public enum DocumentStatus: String, Sendable {
  /// Every section completed.
  case ready
  /// Some sections failed, were skipped, or are not done.
  case partial
  /// No section completed.
  case failed
  /// The run was interrupted.
  case cancelled
  /// The run was paused (`sheaf-run pause`): sections were held back, none was cut.
  case paused
}
