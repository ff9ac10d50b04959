import Foundation

/// One broken rule: what, in words a model can act on, and where when it applies.
public struct Violation: Equatable, Sendable {
  /// The rule's name (`min_words`, `schema` …), as `--warn` names it.
  public var rule: String
  /// What is wrong and what to do.
  public var message: String
  /// Where, for JSON (`$.items[2].price`).
  public var path: String?

  /// A violation.
  public init(rule: String, message: String, path: String? = nil) {
    self.rule = rule
    self.message = message
    self.path = path
  }

  /// As JSON: `{"rule","message","path"}`.
  public var json: JSON {
    let object = JSON.object(["rule": JSON(rule), "message": JSON(message)])
    object["path"] = path.map { JSON($0) } ?? .null
    return object
  }
}
