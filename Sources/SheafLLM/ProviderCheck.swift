import CCurl
import Foundation
import SheafCore

/// What a run will need from its providers, checked before anything is spent.
///
/// `call-llm --check`, which `sheaf-run doctor` runs: for each provider, address and model the records
/// would be sent to, the key is in the environment (never printed), the server answers, and it
/// lists the model (`/v1/models`, Anthropic's `/v1/models`, Ollama's `/api/tags`). Without the
/// network (the quick checks before a make doc), a missing key fails only for the provider's own
/// address: a server of your own may need none.
public enum ProviderCheck {
  /// One line: passed or not, and what it says (with the fix when it failed).
  public typealias Line = (passed: Bool, text: String)

  /// The lines for the records of `inputs`; only the key is checked without `network`.
  public static func run(inputs: [String], options: CallOptions, network: Bool) throws -> [Line] {
    var seen = Set<String>()
    var lines: [Line] = []
    try FilterLoop.forEach(inputs: inputs) { item, _ in
      guard case .record(let record) = item else { return }
      let json = record.json
      if json["messages"]?.array?.isEmpty ?? true {
        json["messages"] = .array([.object(["role": JSON("user"), "content": JSON("check")])])
      }
      let resolved: ResolvedCall
      do throws(SheafError) {
        resolved = try ResolvedCall.resolve(Record(json), options: options)
      } catch {
        let line = "✗ section '\(record.id ?? "?")': \(error.shown)"
        if seen.insert(line).inserted { lines.append((false, line)) }
        return
      }
      let settings = resolved.call.settings
      let key = [settings.provider, resolved.baseURL, settings.model].joined(separator: "\u{0}")
      guard seen.insert(key).inserted else { return }
      lines += check(resolved, options: options, network: network)
    }
    return lines
  }

  /// The lines for one provider, address and model.
  static func check(_ resolved: ResolvedCall, options: CallOptions, network: Bool) -> [Line] {
    let settings = resolved.call.settings
    let provider = resolved.provider
    guard provider.usesNetwork else {
      return [(true, "✓ \(settings.provider): model \(settings.model), nothing to reach")]
    }
    var lines: [Line] = []
    let variable = options.apiKeyVariable ?? provider.keyVariable
    if let variable {
      // Before a make doc, a server of your own (llama.cpp, vLLM) may need no key: only the
      // provider's own address surely refuses a request without one.
      let own = BaseURLPolicy.sameOrigin(
        resolved.baseURL, provider.defaultBaseURL(environment: options.environment))
      if resolved.apiKey == nil && !network && !own {
        return [(true, "✓ no \(variable), which \(resolved.baseURL) may not need")]
      }
      if resolved.apiKey == nil {
        lines.append(
          (
            false,
            "✗ no \(variable) in the environment for \(settings.provider): export \(variable)=… (or name another variable with CALL_FLAGS=--api-key-env NAME)"
          ))
        return lines
      }
      lines.append((true, "✓ \(variable) is set (not shown)"))
    }
    guard network else { return lines }
    lines.append(reach(resolved))
    return lines
  }

  /// Asks the server for its models: reachable, the key taken, and the model among them.
  static func reach(_ resolved: ResolvedCall) -> Line {
    let settings = resolved.call.settings
    let base = resolved.baseURL
    let url: String
    var headers: [String] = []
    switch settings.provider {
    case "anthropic":
      url = base.hasSuffix("/v1") ? base + "/models" : ProviderErrors.join(base, "/v1/models")
      headers =
        ["anthropic-version: 2023-06-01"] + (resolved.apiKey.map { ["x-api-key: \($0)"] } ?? [])
    case "ollama":
      url = ProviderErrors.join(base, "/api/tags")
    default:
      url = ProviderErrors.join(base, "/models")
      headers = resolved.apiKey.map { ["Authorization: Bearer \($0)"] } ?? []
    }
    var body = Data()
    let code: CURLcode
    let status: Int
    let message: String
    do {
      let transfer = try CurlTransfer(
        HTTPRequest(url: url, headers: headers, body: ""), connectTimeout: 5, get: true)
      _ = sheaf_curl_easy_setopt_long(transfer.easy, CURLOPT_TIMEOUT_MS, 15_000)
      transfer.onBody = { bytes in
        body.append(contentsOf: bytes)
        return body.count < 8 << 20
      }
      code = curl_easy_perform(transfer.easy)
      status = transfer.status
      message = transfer.message(for: code)
    } catch {
      return (false, "✗ \(url): \(error)")
    }
    let serve = settings.provider == "ollama" ? " (ollama serve)" : ""
    guard code == CURLE_OK else {
      return (
        false,
        "✗ nothing answers at \(base) (\(message)): is the server running\(serve)? Check BASE_URL"
      )
    }
    if status == 401 || status == 403 {
      let variable = resolved.provider.keyVariable ?? "the key"
      return (false, "✗ \(base) refused the key (HTTP \(status)): check \(variable)")
    }
    guard (200..<300).contains(status) else {
      return (
        false,
        "✗ \(url) answered HTTP \(status): is BASE_URL the API's address (for OpenAI-compatible servers, the one ending in /v1)?"
      )
    }
    let listed = models(body)
    let wanted = settings.model
    let known =
      listed.contains(wanted) || listed.contains(wanted + ":latest")
      || listed.contains { $0.hasSuffix(":latest") && $0.dropLast(7) == wanted }
    guard known || listed.isEmpty else {
      let some = listed.prefix(8).joined(separator: ", ")
      let fix =
        settings.provider == "ollama"
        ? "ollama pull \(wanted), or set MODEL" : "set MODEL to one it has"
      return (
        false,
        "✗ model '\(wanted)' is not on \(base) (it has: \(some)\(listed.count > 8 ? ", …" : "")): \(fix)"
      )
    }
    return (true, "✓ \(settings.provider) at \(base) answers, and has model '\(wanted)'")
  }

  /// The model names in a models list: `data[].id` (OpenAI, Anthropic) or `models[].name`
  /// (Ollama).
  static func models(_ body: Data) -> [String] {
    guard let json = try? body.withUnsafeBytes({ try JSON.parse($0) }) else { return [] }
    let data = json["data"]?.array?.compactMap { $0["id"]?.string } ?? []
    let ollama =
      json["models"]?.array?.compactMap { $0["name"]?.string ?? $0["model"]?.string } ?? []
    return data + ollama
  }
}
