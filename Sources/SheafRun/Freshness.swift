import Foundation
import SheafCore
import SheafPrompt

/// Whether each section of a run is up to date: built from exactly what it would be built from
/// now.
///
/// The fingerprint each section would get now is computed in process from the parts build-prompt
/// hashes (the same templates, the sections' current content, the kept note), without rendering,
/// and compared with the one the stored result was built with. No request is made.
public final class Freshness {
  private let run: RunDirectory
  private let builder: PromptBuilder

  /// A check of `run` with build-prompt's options (`--prompts`, `--set`, `--lax`,
  /// `--max-input-tokens` as the run's PROMPT_FLAGS give them).
  public init(run: RunDirectory, prompts: PromptOptions) {
    self.run = run
    var options = prompts
    options.contextDir = run.layout.sections
    options.summariesDir = run.layout.summaries
    // A summary not made yet is one more request to come, not a warning.
    options.summaryRequests = true
    builder = PromptBuilder(options: options)
  }

  /// The summary requests the prompts rendered so far need (for a forecast).
  public var pendingSummaries: [JSON] { builder.pendingSummaries }

  /// What a forecast reads of a planned record (its uses, format and settings): a run of 50,000
  /// sections keeps these, not the whole records.
  static func slim(_ record: JSON) -> JSON {
    let kept = JSON.object()
    for key in ["id", "depends_on", "context", "format", "llm", "revises"] {
      if let value = record[key] { kept[key] = value }
    }
    return kept
  }

  /// How many prompts a forecast renders at most; the rest are estimated from their mean.
  ///
  /// A prompt names every other section (the outline), so a run of n sections renders about
  /// 50,000 / n of them (3 to 200): the check stays linear in the plan's size.
  static func renderLimit(sections: Int) -> Int {
    max(3, min(200, 50_000 / max(1, sections)))
  }

  /// Takes the run's `outline` event (from plan.ndjson), which shapes every prompt.
  public func observe(event: JSON) {
    builder.observe(event: event)
  }

  /// The record as build-prompt makes it now, with the section's kept note.
  public func current(_ planned: JSON) -> JSON? {
    try? builder.build(Record(run.withNote(planned.copy())))
  }

  /// What the section's stored result is, against what it would be built from now.
  public enum Verdict {
    /// No completed result: it will be built.
    case toBuild(String)
    /// A person wrote it: kept as it is.
    case human
    /// Up to date.
    case fresh
    /// Built from something else: why.
    case stale([String])
  }

  /// The verdict for one planned record, and the record as it would be built now.
  public func verdict(_ planned: JSON) -> (Verdict, JSON?) {
    guard let id = planned["id"]?.string else { return (.toBuild("no id"), nil) }
    let stored: JSON
    switch run.stored(id) {
    case .missing: return (.toBuild("not built yet"), nil)
    case .damaged: return (.toBuild("its record is damaged"), nil)
    case .record(let record): stored = record
    }
    if stored["source"]?.string == "human" { return (.human, nil) }
    guard stored["status"]?.string == SectionStatus.completed.rawValue else {
      return (.toBuild(stored["status"]?.string ?? "no status"), nil)
    }
    // The parts the prompt is made of decide it: no rendering needed to judge.
    guard let fingerprint = builder.fingerprint(Record(run.withNote(planned.copy()))) else {
      return (.toBuild("its prompt cannot be built now"), nil)
    }
    let reasons = Fingerprint.reasons(stored: stored["fingerprint"], current: fingerprint)
    return (reasons.isEmpty ? .fresh : .stale(reasons), nil)
  }

  /// The verdict of every planned record in `lines` (plan.ndjson's: the `outline` event, then the
  /// records in execution order), all judged against the sections as they are stored now
  /// (nothing is cleared while judging).
  ///
  /// With `render`, the sections that will be built are rendered too (`current`: their prompt
  /// gives a forecast its estimate); judging alone renders nothing.
  public func verdicts(_ lines: [JSON], render: Bool = true) -> [(
    id: String, verdict: Verdict, current: JSON?, planned: JSON
  )] {
    var results: [(id: String, verdict: Verdict, current: JSON?, planned: JSON)] = []
    var judge = judging(render: render, sections: lines.count)
    for line in lines { if let result = judge(line) { results.append(result) } }
    return results
  }

  /// The verdicts of a run's `plan.ndjson`, read a line at a time.
  public func verdicts(of run: RunDirectory, render: Bool = true) -> [(
    id: String, verdict: Verdict, current: JSON?, planned: JSON
  )] {
    let count = run.state?["sections"]?.int ?? 0
    var results: [(id: String, verdict: Verdict, current: JSON?, planned: JSON)] = []
    var judge = judging(render: render, sections: count)
    run.forEachPlannedLine { line in if let result = judge(line) { results.append(result) } }
    return results
  }

  /// A judge of one line after another (the `outline` event is observed, a record judged and,
  /// when it will be built and the forecast needs it, rendered).
  private func judging(render: Bool, sections: Int) -> (JSON) -> (
    id: String, verdict: Verdict, current: JSON?, planned: JSON
  )? {
    var renderedCount = 0
    let limit = Self.renderLimit(sections: sections)
    return { line in
      if Event.isEvent(line) {
        self.observe(event: line)
        return nil
      }
      guard let id = line["id"]?.string else { return nil }
      let (verdict, current) = self.verdict(line)
      // Only what will be built is rendered (its prompt gives the estimate).
      // A few hundred rendered prompts make a good estimate; a big run is not rendered whole.
      let renders = render && verdict.builds && renderedCount < limit
      let rendered = current ?? (renders ? self.current(line) : nil)
      if renders { renderedCount += 1 }
      return (id, verdict, rendered, Self.slim(line))
    }
  }

}

extension Freshness.Verdict {
  /// Whether the next `make doc` builds the section.
  public var builds: Bool {
    switch self {
    case .toBuild, .stale: return true
    case .fresh, .human: return false
    }
  }

  /// In words, for `make status`.
  public var reason: String {
    switch self {
    case .toBuild(let why): return why
    case .human: return "a person wrote it"
    case .fresh: return "up to date"
    case .stale(let reasons): return reasons.joined(separator: "; ")
    }
  }
}

/// What the next `make doc` will ask for, and what it may cost.
public struct Forecast {
  /// One request to come.
  public struct Item {
    /// The section.
    public var id: String
    /// Why it is asked for.
    public var reason: String
    /// Estimated input and output tokens.
    public var inputTokens: Int
    public var outputTokens: Int
    /// Estimated USD, when a price is known.
    public var cost: Double?
  }

  /// The sections that will be asked for.
  public var items: [Item] = []
  /// Sections that are up to date now but use one of those: asked for too if its content changes.
  public var mayFollow: [String] = []
  /// Continuity sections (`revises: true`) that will be asked, with the number of sections each
  /// may ask to change: each change is a revision request of its own after the sections.
  public var revisions: [(id: String, upTo: Int)] = []

  /// Nothing to ask.
  public init() {}

  /// The total estimated cost, when every item has a price.
  public var cost: Double? {
    guard !items.isEmpty, items.allSatisfy({ $0.cost != nil }) else {
      return items.isEmpty ? 0 : nil
    }
    return Price.rounded(items.compactMap(\.cost).reduce(0, +))
  }

  /// The forecast from the verdicts of a run: tokens estimated from the prompt (about four
  /// characters a token) and the output of the last answer, else `max_tokens`, else the format's
  /// word range.
  public init(
    verdicts: [(id: String, verdict: Freshness.Verdict, current: JSON?, planned: JSON)],
    run: RunDirectory, prices: PriceList, options: PromptOptions, summaries: [JSON] = []
  ) {
    var building = Set<String>()
    // Prompts not rendered (a big run) are estimated at the mean of those that were.
    let sizes = verdicts.compactMap { entry -> Int? in
      guard let messages = entry.current?["messages"]?.array else { return nil }
      return messages.compactMap { $0["content"]?.string?.utf8.count }.reduce(0, +)
    }
    let mean = sizes.isEmpty ? 4000 : sizes.reduce(0, +) / sizes.count
    // The length a section's text will have once written, for the prompts of the sections that
    // use it and have not seen it yet: the middle of its format's words, else its max_tokens (at
    // most 800).
    var written: [String: Int] = [:]
    for (id, _, _, planned) in verdicts {
      let format = planned["format"]
      let words = format?["max_words"]?.int.map { high in
        ((format?["min_words"]?.int ?? high / 2) + high) / 2
      }
      written[id] = words.map { $0 * 4 / 3 } ?? min(planned["llm"]?["max_tokens"]?.int ?? 800, 800)
    }
    for (id, verdict, current, planned) in verdicts where verdict.builds {
      building.insert(id)
      if planned["revises"]?.bool == true {
        let uses = Set(
          ["depends_on", "context"].flatMap { planned[$0]?.array ?? [] }.compactMap(\.string))
        revisions.append((id, uses.count))
      }
      let size =
        current?["messages"]?.array?.compactMap { $0["content"]?.string?.utf8.count }
        .reduce(0, +) ?? mean
      let unseen = ["depends_on", "context"].flatMap { planned[$0]?.array ?? [] }
        .compactMap(\.string).filter { used in
          run.record(used)?["status"]?.string != SectionStatus.completed.rawValue
        }
      let input = (size + 3) / 4 + unseen.compactMap { written[$0] }.reduce(0, +)
      let last = run.record(id)?["usage"]?["output_tokens"]?.int
      let format = planned["format"]
      let output =
        last ?? planned["llm"]?["max_tokens"]?.int
        ?? format?["max_words"]?.int.map { $0 * 4 / 3 } ?? 800
      let llm = planned["llm"]
      let provider = RequestSettings.value(
        "provider", given: options.request, environment: options.environment, llm: llm)
      let model = RequestSettings.value(
        "model", given: options.request, environment: options.environment, llm: llm)
      var price = prices.price(llm: llm, provider: provider, model: model)
      // BATCH=1 (make docs, make status): asked through the provider's batch API, at its price.
      if let batchable = price, ProviderNames.withBatchAPI.contains(provider ?? ""),
        ProviderNames.batchAsked(options.environment)
      {
        price = batchable.batched
      }
      items.append(
        Item(
          id: id, reason: verdict.reason, inputTokens: input, outputTokens: output,
          cost: price?.cost(input: input, output: output)))
    }
    // The summaries those prompts need first: requests of their own.
    for request in summaries {
      let size =
        request["messages"]?.array?.compactMap { $0["content"]?.string?.utf8.count }
        .reduce(0, +) ?? 0
      let input = (size + 3) / 4
      let output = request["llm"]?["max_tokens"]?.int ?? 256
      let llm = request["llm"]
      let price = prices.price(
        llm: llm,
        provider: RequestSettings.value(
          "provider", given: options.request, environment: options.environment, llm: llm),
        model: RequestSettings.value(
          "model", given: options.request, environment: options.environment, llm: llm))
      items.append(
        Item(
          id: request["id"]?.string ?? "?",
          reason:
            "a summary of \(request["summary_of"]?.string ?? "?") for a prompt over its budget",
          inputTokens: input, outputTokens: output,
          cost: price?.cost(input: input, output: output)))
    }
    // What uses a section that will be built, directly or not.
    var users: [String: [String]] = [:]
    for (id, _, _, planned) in verdicts {
      for used in (planned["depends_on"]?.array ?? []) + (planned["context"]?.array ?? []) {
        if let used = used.string { users[used, default: []].append(id) }
      }
    }
    var follow = Set<String>()
    var pending = Array(building)
    while let next = pending.popLast() {
      for user in users[next] ?? [] where !building.contains(user) && follow.insert(user).inserted {
        pending.append(user)
      }
    }
    mayFollow = verdicts.map(\.id).filter { follow.contains($0) }
  }
}
