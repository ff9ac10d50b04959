import CCurl
import Foundation
import SheafCore

/// A batch API call that failed: what it was and what the provider said.
struct BatchFailure: Error {
  var message: String
}

/// How a batch stands at the provider.
struct BatchState {
  /// Whether the provider has finished it (completed, failed, expired, cancelled, ended).
  var ended: Bool
  /// The provider's word for it.
  var status: String
  /// Requests answered and requests in it, when the provider says.
  var done: Int
  var total: Int
  /// Where its answers are: file ids (OpenAI) or the results URL (Anthropic).
  var outputs: [String]
  /// Why the whole batch failed, when it did (OpenAI's `errors`).
  var failure: String?
}

/// One answer of a batch: the request's key, its HTTP status and its body; `nil` status for a
/// request the batch did not run (cancelled, expired): it goes into the next wave.
struct BatchAnswer {
  var key: String
  var status: Int?
  var body: String
}

/// A provider's batch API: OpenAI's Batch API (a JSONL file uploaded with `purpose: batch`, then
/// a batch on `/v1/chat/completions`) or Anthropic's Message Batches.
protocol BatchAPI {
  /// Sends the requests as one batch; its id. `journal` is called just before the provider is
  /// asked to create it, with what can find it again (OpenAI: the file's id).
  func submit(_ items: [BatchItem], journal: ([String: JSON]) throws -> Void) throws -> (
    id: String, extra: [String: JSON]
  )
  /// The id of the batch a journal names, when the provider created it (a run killed while it
  /// was created); `nil` when it did not, or cannot tell.
  func find(_ journal: JSON) throws -> String?
  /// How the batch stands.
  func state(_ id: String) throws -> BatchState
  /// The answers in the batch's outputs.
  func answers(_ state: BatchState) throws -> [BatchAnswer]
  /// Asks the provider to cancel it.
  func cancel(_ id: String) throws
}

enum BatchAPIs {
  /// The batch API of `provider` at `baseURL`, with the key from `keyVariable`.
  static func api(provider: String, baseURL: String, key: String?) -> (any BatchAPI)? {
    switch provider {
    case "openai": return OpenAIBatches(base: trimmed(baseURL), key: key)
    case "anthropic": return AnthropicBatches(base: trimmed(baseURL), key: key)
    default: return nil
    }
  }

  static func trimmed(_ url: String) -> String {
    var base = url
    while base.hasSuffix("/") { base.removeLast() }
    return base
  }

  /// One HTTP request, whole: its status and body.
  static func send(
    _ url: String, headers: [String], body: String? = nil, what: String
  ) throws -> (status: Int, body: String) {
    var received = Data()
    let transfer: CurlTransfer
    do {
      transfer = try CurlTransfer(
        HTTPRequest(url: url, headers: headers, body: body ?? ""), connectTimeout: 10,
        get: body == nil)
    } catch let error as CurlError {
      throw BatchFailure(message: "\(what): libcurl: \(error.message)")
    }
    _ = sheaf_curl_easy_setopt_long(transfer.easy, CURLOPT_TIMEOUT_MS, 600_000)
    transfer.onBody = { bytes in
      received.append(contentsOf: bytes)
      return received.count < 1 << 30
    }
    let code = curl_easy_perform(transfer.easy)
    guard code == CURLE_OK else {
      throw BatchFailure(message: "\(what): \(url): \(transfer.message(for: code))")
    }
    let text = String(decoding: received, as: UTF8.self)
    guard (200..<300).contains(transfer.status) else {
      let (message, _) = ProviderErrors.parseBody(text)
      // A server with no batch API (most OpenAI-compatible local servers) has no such route.
      let hint =
        transfer.status == 404 || transfer.status == 405
        ? " (does this server have a batch API? OpenAI's and Anthropic's do; run without BATCH=1 for others)"
        : ""
      throw BatchFailure(message: "\(what): HTTP \(transfer.status): \(message)\(hint)")
    }
    return (transfer.status, text)
  }

  /// A JSON object from a response body.
  static func object(_ text: String, what: String) throws -> JSON {
    guard let json = try? JSON.parse(text), json.kind == .object else {
      throw BatchFailure(message: "\(what): the answer is not a JSON object")
    }
    return json
  }

  /// The JSON lines of a results file.
  static func lines(_ text: String) -> [JSON] {
    text.split(whereSeparator: \.isNewline).compactMap { line in
      (try? JSON.parse(String(line))).flatMap { $0.kind == .object ? $0 : nil }
    }
  }
}

/// OpenAI's Batch API.
struct OpenAIBatches: BatchAPI {
  let base: String
  let key: String?

  var headers: [String] { key.map { ["Authorization: Bearer \($0)"] } ?? [] }

  func submit(_ items: [BatchItem], journal: ([String: JSON]) throws -> Void) throws -> (
    id: String, extra: [String: JSON]
  ) {
    let lines = items.map { item in
      JSON.object([
        "custom_id": JSON(item.key), "method": JSON("POST"), "url": JSON("/v1/chat/completions"),
        "body": item.body,
      ]).compactText
    }
    var random = SystemRandomNumberGenerator()
    let boundary = "sheaf-\(String(random.next(), radix: 16))"
    let form =
      "--\(boundary)\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
      + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sheaf-batch.jsonl\"\r\n"
      + "Content-Type: application/jsonl\r\n\r\n" + lines.joined(separator: "\n") + "\n\r\n"
      + "--\(boundary)--\r\n"
    let uploaded = try BatchAPIs.object(
      BatchAPIs.send(
        base + "/files",
        headers: headers + ["Content-Type: multipart/form-data; boundary=\(boundary)"], body: form,
        what: "openai: upload the batch file"
      ).body, what: "openai: upload the batch file")
    guard let file = uploaded["id"]?.string else {
      throw BatchFailure(message: "openai: upload the batch file: no file id in the answer")
    }
    try journal(["input_file_id": JSON(file)])
    let request = JSON.object([
      "input_file_id": JSON(file), "endpoint": JSON("/v1/chat/completions"),
      "completion_window": JSON("24h"), "metadata": .object(["made_by": JSON("sheaf")]),
    ])
    let created = try BatchAPIs.object(
      BatchAPIs.send(
        base + "/batches", headers: headers + ["Content-Type: application/json"],
        body: request.compactText, what: "openai: create the batch"
      ).body, what: "openai: create the batch")
    guard let id = created["id"]?.string else {
      throw BatchFailure(message: "openai: create the batch: no batch id in the answer")
    }
    return (id, ["input_file_id": JSON(file)])
  }

  /// The batch made from the journal's file, among the latest 100.
  func find(_ journal: JSON) throws -> String? {
    guard let file = journal["input_file_id"]?.string else { return nil }
    let what = "openai: list the batches"
    let list = try BatchAPIs.object(
      BatchAPIs.send(base + "/batches?limit=100", headers: headers, what: what).body, what: what)
    return list["data"]?.array?.first { $0["input_file_id"]?.string == file }?["id"]?.string
  }

  func state(_ id: String) throws -> BatchState {
    let what = "openai: read batch \(id)"
    let json = try BatchAPIs.object(
      BatchAPIs.send(base + "/batches/\(id)", headers: headers, what: what).body, what: what)
    let status = json["status"]?.string ?? "?"
    let counts = json["request_counts"]
    let failure = json["errors"]?["data"]?.array?.compactMap { $0["message"]?.string }.first
    return BatchState(
      ended: ["completed", "failed", "expired", "cancelled"].contains(status), status: status,
      done: (counts?["completed"]?.int ?? 0) + (counts?["failed"]?.int ?? 0),
      total: counts?["total"]?.int ?? 0,
      outputs: [json["output_file_id"]?.string, json["error_file_id"]?.string].compactMap { $0 },
      failure: status == "failed" ? failure ?? "the batch failed" : nil)
  }

  func answers(_ state: BatchState) throws -> [BatchAnswer] {
    var out: [BatchAnswer] = []
    for file in state.outputs {
      let what = "openai: read the batch's file \(file)"
      let text = try BatchAPIs.send(base + "/files/\(file)/content", headers: headers, what: what)
        .body
      for line in BatchAPIs.lines(text) {
        guard let key = line["custom_id"]?.string else { continue }
        if let response = line["response"], response.kind == .object,
          let status = response["status_code"]?.int
        {
          out.append(
            BatchAnswer(key: key, status: status, body: response["body"]?.compactText ?? "{}"))
        } else if let error = line["error"], error.kind == .object {
          // A request the batch did not run because it was cancelled is asked again; one that
          // expired, or any other error, counts as an attempt.
          let cancelled = error["code"]?.string == "batch_cancelled"
          out.append(
            BatchAnswer(
              key: key, status: cancelled ? nil : 500,
              body: JSON.object(["error": error]).compactText))
        }
      }
    }
    return out
  }

  func cancel(_ id: String) throws {
    _ = try BatchAPIs.send(
      base + "/batches/\(id)/cancel", headers: headers, body: "", what: "openai: cancel \(id)")
  }
}

/// Anthropic's Message Batches.
struct AnthropicBatches: BatchAPI {
  let base: String
  let key: String?

  /// The HTTP status each of Anthropic's error types stands for.
  static let statuses = [
    "invalid_request_error": 400, "authentication_error": 401, "permission_error": 403,
    "not_found_error": 404, "request_too_large": 413, "rate_limit_error": 429, "api_error": 500,
    "overloaded_error": 529,
  ]

  var headers: [String] {
    ["anthropic-version: 2023-06-01"] + (key.map { ["x-api-key: \($0)"] } ?? [])
  }
  var batches: String {
    base.hasSuffix("/v1") ? base + "/messages/batches" : base + "/v1/messages/batches"
  }

  func submit(_ items: [BatchItem], journal: ([String: JSON]) throws -> Void) throws -> (
    id: String, extra: [String: JSON]
  ) {
    try journal([:])
    let request = JSON.object([
      "requests": .array(
        items.map { .object(["custom_id": JSON($0.key), "params": $0.body]) })
    ])
    let what = "anthropic: create the message batch"
    let created = try BatchAPIs.object(
      BatchAPIs.send(
        batches, headers: headers + ["Content-Type: application/json"],
        body: request.compactText, what: what
      ).body, what: what)
    guard let id = created["id"]?.string else {
      throw BatchFailure(message: "\(what): no batch id in the answer")
    }
    return (id, [:])
  }

  /// Anthropic's list of batches names nothing sheaf sent with them: it cannot tell.
  func find(_ journal: JSON) throws -> String? { nil }

  func state(_ id: String) throws -> BatchState {
    let what = "anthropic: read message batch \(id)"
    let json = try BatchAPIs.object(
      BatchAPIs.send(batches + "/\(id)", headers: headers, what: what).body, what: what)
    let status = json["processing_status"]?.string ?? "?"
    let counts = json["request_counts"]
    let finished = ["succeeded", "errored", "canceled", "expired"].reduce(0) {
      $0 + (counts?[$1]?.int ?? 0)
    }
    return BatchState(
      ended: status == "ended", status: status, done: finished,
      total: finished + (counts?["processing"]?.int ?? 0),
      outputs: [json["results_url"]?.string].compactMap { $0 }, failure: nil)
  }

  func answers(_ state: BatchState) throws -> [BatchAnswer] {
    var out: [BatchAnswer] = []
    for url in state.outputs {
      // The key goes only where the batches are: a results URL elsewhere is refused.
      guard BaseURLPolicy.sameOrigin(url, base) else {
        throw BatchFailure(
          message:
            "anthropic: the results of the batch are at \(url), not at \(base): the key is not sent there"
        )
      }
      let text = try BatchAPIs.send(url, headers: headers, what: "anthropic: read the results")
        .body
      for line in BatchAPIs.lines(text) {
        guard let key = line["custom_id"]?.string, let result = line["result"] else { continue }
        switch result["type"]?.string {
        case "succeeded":
          out.append(
            BatchAnswer(key: key, status: 200, body: result["message"]?.compactText ?? "{}"))
        case "errored":
          let error = result["error"]
          let type = error?["error"]?["type"]?.string ?? error?["type"]?.string ?? ""
          out.append(
            BatchAnswer(
              key: key, status: Self.statuses[type] ?? 500, body: error?.compactText ?? "{}"))
        case "expired":
          // Not run within the batch's day: an attempt, asked again while the retries last.
          let body =
            #"{"type":"error","error":{"type":"api_error","message":"the batch expired before this request ran"}}"#
          out.append(BatchAnswer(key: key, status: 500, body: body))
        default:
          // canceled: asked again in the next wave.
          out.append(BatchAnswer(key: key, status: nil, body: ""))
        }
      }
    }
    return out
  }

  func cancel(_ id: String) throws {
    _ = try BatchAPIs.send(
      batches + "/\(id)/cancel", headers: headers, body: "", what: "anthropic: cancel \(id)")
  }
}
