/// The error types of DESIGN.md section 6.
public enum ErrorType: String, CaseIterable, Sendable {
  case input, plan, template, network, timeout
  case rateLimited = "rate_limited"
  case provider, auth, quota
  case badRequest = "bad_request"
  case contextLength = "context_length"
  case validation
  case dependencyFailed = "dependency_failed"
  case awaitingReview = "awaiting_review"
  /// Asked through the provider's batch API: the answer comes in a later wave (`make docs BATCH=1`).
  case batchPending = "batch_pending"
  case cancelled, `internal`
}

/// The error object a failed, skipped or cancelled record carries (DESIGN.md section 6).
public struct SheafError: Error, Equatable, Sendable {
  /// What kind of failure.
  public var type: ErrorType
  /// What happened, in a user's words (the provider's own message included).
  public var message: String
  /// Whether asking again may succeed.
  public var retryable: Bool
  /// What the user can do.
  public var hint: String?
  /// The HTTP status, when there was one.
  public var httpStatus: Int?
  /// How long the provider asked us to wait.
  public var retryAfterS: Double?

  /// An error with these fields.
  public init(
    _ type: ErrorType, _ message: String, retryable: Bool = false, hint: String? = nil,
    httpStatus: Int? = nil, retryAfterS: Double? = nil
  ) {
    self.type = type
    self.message = message
    self.retryable = retryable
    self.hint = hint
    self.httpStatus = httpStatus
    self.retryAfterS = retryAfterS
  }

  /// Reads an error object; a missing or unknown `type` reads as `internal`.
  public init(json: JSON) {
    type = json["type"]?.string.flatMap(ErrorType.init(rawValue:)) ?? .internal
    message = json["message"]?.string ?? ""
    retryable = json["retryable"]?.bool ?? false
    hint = json["hint"]?.string
    httpStatus = json["http_status"]?.int
    retryAfterS = json["retry_after_s"]?.double
  }

  /// The error object as JSON, in the contract's field order.
  public var json: JSON {
    let object = JSON.object()
    object["type"] = JSON(type.rawValue)
    object["message"] = JSON(message)
    object["retryable"] = JSON(retryable)
    if let hint { object["hint"] = JSON(hint) }
    if let httpStatus { object["http_status"] = JSON(httpStatus) }
    if let retryAfterS { object["retry_after_s"] = JSON(retryAfterS) }
    return object
  }
}

extension SheafError {
  /// The cause and what to do, in one line, as every view shows a section's error: the message
  /// the tool wrote (the file, line and field it named), then the hint.
  public var shown: String {
    let cause = message.replacingOccurrences(of: "\n", with: " ")
    guard let hint, !hint.isEmpty, !cause.contains(hint) else { return cause }
    return cause + " — " + hint
  }
}
