import Foundation

/// What a model's tokens cost, in USD per million: `input`, `output`, and `cached_input` (input
/// read from a provider's prompt cache; the input price when not given).
public struct Price: Equatable, Sendable {
  /// USD per million input tokens.
  public var input: Double
  /// USD per million output tokens.
  public var output: Double
  /// USD per million cached input tokens.
  public var cachedInput: Double
  /// The share taken off every price for a request sent through the provider's batch API
  /// (`batch_discount`, 0 to 1; both OpenAI's and Anthropic's give half off).
  public var batchDiscount: Double

  /// A price from `{"input", "output", "cached_input"}`; `nil` unless input and output are
  /// numbers of 0 or more.
  public init?(_ json: JSON?) {
    guard let json, json.kind == .object, let input = json["input"]?.double,
      let output = json["output"]?.double, input >= 0, output >= 0
    else { return nil }
    self.input = input
    self.output = output
    cachedInput = json["cached_input"]?.double.flatMap { $0 >= 0 ? $0 : nil } ?? input
    batchDiscount =
      json["batch_discount"]?.double.flatMap { (0...1).contains($0) ? $0 : nil } ?? 0.5
  }

  /// The price of a request sent through the provider's batch API: every rate less the batch
  /// discount.
  public var batched: Price {
    var copy = self
    let keep = 1 - batchDiscount
    copy.input *= keep
    copy.output *= keep
    copy.cachedInput *= keep
    copy.batchDiscount = 0
    return copy
  }

  /// The cost of a request: `cached` of the `input` tokens at the cached price.
  public func cost(input: Int, output: Int, cached: Int = 0) -> Double {
    let cachedTokens = min(max(0, cached), max(0, input))
    let fresh = max(0, input) - cachedTokens
    let usd =
      (Double(fresh) * self.input + Double(cachedTokens) * cachedInput + Double(max(0, output))
        * self.output) / 1_000_000
    return Self.rounded(usd)
  }

  /// USD to a millionth of a dollar, so sums print without binary noise.
  public static func rounded(_ usd: Double) -> Double { (usd * 1_000_000).rounded() / 1_000_000 }
}

/// Prices by model, from a prices file (`--prices FILE`, `SHEAF_PRICES`): a JSON object that maps
/// `provider/model` or `model` to a price.
///
/// ```json
/// {"claude-sonnet-4-5": {"input": 3, "output": 15, "cached_input": 0.3},
///  "openai/gpt-4o-mini": {"input": 0.15, "output": 0.6}}
/// ```
public struct PriceList: Sendable {
  private var byName: [String: Price] = [:]

  /// No prices.
  public init() {}

  /// The prices in `path`.
  /// - Throws: `ToolFailure` (usage) when the file cannot be read or is not such an object.
  public init(path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ToolFailure.usage("\(path): cannot read the prices file")
    }
    let json: JSON
    do {
      json = try data.withUnsafeBytes { try JSON.parse($0) }
    } catch {
      throw ToolFailure.usage("\(path): the prices file is not valid JSON: \(error)")
    }
    guard json.kind == .object else {
      throw ToolFailure.usage("\(path): the prices file must map model names to prices")
    }
    for (name, value) in json.members {
      guard let price = Price(value) else {
        throw ToolFailure.usage(
          "\(path): '\(name)' needs {\"input\": USD, \"output\": USD} per million tokens")
      }
      byName[name] = price
    }
  }

  /// The prices file the flag names, else `SHEAF_PRICES`, else none.
  /// - Throws: `ToolFailure` when the file named cannot be used.
  public static func load(flag: String?, environment: [String: String]) throws -> PriceList {
    let path = flag.flatMap { $0.isEmpty ? nil : $0 } ?? environment["SHEAF_PRICES"]
    guard let path, !path.isEmpty else { return PriceList() }
    return try PriceList(path: path)
  }

  /// The price of a record's model: its `llm.price`, else the list's entry for
  /// `provider/model`, else for `model`; `nil` when none is known (then no cost is given).
  public func price(llm: JSON?, provider: String?, model: String?) -> Price? {
    if let own = Price(llm?["price"]) { return own }
    if let provider, let model, let price = byName["\(provider)/\(model)"] { return price }
    return model.flatMap { byName[$0] }
  }
}
