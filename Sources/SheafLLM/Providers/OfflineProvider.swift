import Foundation
import SheafCore
import SheafValidate

/// The built-in `offline` provider: no network, deterministic for the same messages and seed.
///
/// It writes readable Markdown shaped by the request (the section's title, description and
/// instructions, and the length its format asks for), which call-llm streams at a chosen pace.
/// Token counts are estimates, and marked so. It sits behind the same provider seam as the HTTP
/// providers: its request carries the answer, `OfflineTransport` streams it, and its decoder reads
/// it back, so the whole engine runs for it as for a server.
public struct OfflineProvider: Provider {
  /// The model name it reports when none is given.
  public static let defaultModel = "offline"

  /// The seed that, with the messages, chooses the answer.
  public var seed: UInt64

  public let name = "offline"
  public let keyVariable: String? = nil
  public var usesNetwork: Bool { false }

  public func defaultBaseURL(environment: [String: String]) -> String { "offline" }

  /// The request: the answer itself, for `OfflineTransport` to write.
  public func request(_ call: LLMCall, baseURL: String, apiKey: String?) -> HTTPRequest {
    let brief = call.brief
    if brief.wantsJSON {
      let text = Self.jsonAnswer(
        title: brief.title, description: brief.description, schema: brief.jsonSchema,
        messages: call.messages, seed: seed)
      return HTTPRequest(url: "offline:", headers: [], body: text)
    }
    let text = Self.answer(
      title: brief.title, description: brief.description, instructions: brief.instructions,
      docTitle: brief.docTitle,
      messages: call.messages, seed: seed, targetWords: brief.targetWords)
    return HTTPRequest(url: "offline:", headers: [], body: text)
  }

  public func makeDecoder() -> any StreamDecoder { Decoder() }

  public func unreachable(_ detail: String, baseURL: String) -> SheafError {
    SheafError(.internal, "the offline provider failed: \(detail)")
  }

  /// Reads the pieces `OfflineTransport` writes, one a call: each is text; the end says `stop`
  /// and counts the pieces as output tokens.
  struct Decoder: StreamDecoder {
    var pieces = 0
    var pending: [UInt8] = []

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [StreamPiece] {
      pieces += 1
      pending.append(contentsOf: bytes)
      // Only whole UTF-8 sequences: keep an unfinished one for the next piece.
      var end = pending.count
      var back = 0
      while back < min(4, pending.count) && pending[pending.count - 1 - back] & 0xC0 == 0x80 {
        back += 1
      }
      if back < pending.count {
        let lead = pending[pending.count - 1 - back]
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        if length > back + 1 { end = pending.count - 1 - back }
      }
      let text = String(decoding: pending[..<end], as: UTF8.self)
      pending.removeFirst(end)
      return text.isEmpty ? [] : [.text(text)]
    }

    mutating func finish() -> [StreamPiece] {
      [.usage(input: nil, output: pieces), .finish("stop")]
    }

    var eventCount: Int { pieces }
  }

  private static let stopwords: Set<String> = [
    "about", "after", "again", "their", "there", "these", "those", "which", "while", "where",
    "would", "could", "should", "every", "other", "under", "until", "within", "without", "what",
    "when", "with", "from", "into", "that", "this", "they", "them", "than", "then", "each",
    "have", "will", "your", "more", "most", "over", "also", "such", "only", "just", "very",
    "everyone", "someone", "anyone", "something", "short", "first", "second", "their", "being",
  ]

  /// Whether a word is likely to name a thing (adverbs, past forms and gerunds read badly).
  private static func isNounLike(_ word: String) -> Bool {
    word.count >= 5 && !stopwords.contains(word) && !word.hasSuffix("ly") && !word.hasSuffix("ed")
      && !word.hasSuffix("ing")
  }

  /// The schema a JSON section without one gets: a title and a few points.
  static let defaultSchema =
    #"{"type":"object","properties":{"title":{"type":"string"},"points":{"type":"array","items":{"type":"string"},"minItems":3,"maxItems":5}},"required":["title","points"]}"#

  /// The answer for a JSON section: a value valid against its schema, chosen by the messages and
  /// the seed, worded from the section's title and description.
  public static func jsonAnswer(
    title: String, description: String, schema: String?, messages: [Message], seed: UInt64
  ) -> String {
    var digest = SHA256()
    for message in messages { digest.update(message.role + "\u{0}" + message.content + "\u{0}") }
    digest.update(String(seed))
    let rng = SeededGenerator(seed: UInt64(digest.hexDigest().prefix(16), radix: 16) ?? seed)
    let words = (title + " " + description).split(whereSeparator: {
      !$0.isLetter && !$0.isNumber
    }).map(String.init).filter { $0.count >= 3 }
    let parsed = schema.flatMap { try? JSON.parse($0) } ?? (try? JSON.parse(defaultSchema))
    guard let parsed else { return "{}" }
    var example = SchemaExample(schema: parsed, words: words, rng: rng)
    return example.value().compactText
  }

  /// The answer for a section.
  public static func answer(
    title: String, description: String, instructions: String?, docTitle: String?,
    messages: [Message], seed: UInt64, targetWords: ClosedRange<Int>?
  ) -> String {
    var digest = SHA256()
    for message in messages { digest.update(message.role + "\u{0}" + message.content + "\u{0}") }
    digest.update(String(seed))
    let hex = digest.hexDigest()
    var rng = SeededGenerator(seed: UInt64(hex.prefix(16), radix: 16) ?? seed)

    let words = (title + " " + description).split(whereSeparator: {
      !$0.isLetter && !$0.isNumber && $0 != "-"
    })
    .map { $0.lowercased() }
    var keywords: [String] = []
    for word in words where isNounLike(word) && !keywords.contains(word) { keywords.append(word) }
    if keywords.isEmpty { keywords = title.lowercased().split(separator: " ").map(String.init) }
    func keyword() -> String { keywords[Int.random(in: 0..<keywords.count, using: &rng)] }

    let target =
      targetWords.map { ($0.lowerBound + $0.upperBound) / 2 }
      ?? Int.random(in: 160...240, using: &rng)
    let subject = docTitle.map { " for \($0)" } ?? ""
    var paragraphs: [String] = []
    var opening = "This section sets out the \(title.lowercased())\(subject)."
    if !description.isEmpty {
      opening += " It answers one brief: \(lowercasedFirst(description.trimmed))"
      if !opening.hasSuffix(".") { opening += "." }
    }
    paragraphs.append(opening)
    if let instructions, !instructions.trimmed.isEmpty {
      var note = "As asked for this revision, it \(lowercasedFirst(instructions.trimmed))"
      if !note.hasSuffix(".") { note += "." }
      paragraphs.append(note)
    }
    // Sentences built from short parts (four words at most) around the section's own words, so
    // that two sections share no run of five words but what their topics share: the duplicate
    // and echo rules judge offline answers as they judge a model's.
    let leads = [
      "First,", "In practice,", "For this release,", "Above all,", "Day to day,", "Later,",
      "Where it matters,", "To be concrete,", "Before launch,", "Over time,",
    ]
    let links = [
      "shapes how we treat", "depends on", "comes before", "sets the bar for",
      "is measured against", "is weighed with", "limits", "makes room for", "decides",
      "is owned next to",
    ]
    let ends = [
      "and we say why", "with a number attached", "for one team to own",
      "before anything else ships", "as users see it", "once it is used",
      "with its risk named", "with a date to check it", "and nothing more",
      "written down with its reason",
    ]
    func pick(_ list: [String]) -> String { list[Int.random(in: 0..<list.count, using: &rng)] }
    var body: [String] = []
    var count = paragraphs.joined(separator: " ").split(separator: " ").count
    while count < target - 40 {
      let sentence = "\(pick(leads)) \(keyword()) \(pick(links)) \(keyword()) \(pick(ends))."
      body.append(capitalizedFirst(sentence))
      count += sentence.split(separator: " ").count
      if body.count == 4 {
        paragraphs.append(body.joined(separator: " "))
        body = []
      }
    }
    if !body.isEmpty { paragraphs.append(body.joined(separator: " ")) }
    let bullets = (0..<min(4, max(2, keywords.count))).map { index in
      "- **\(capitalizedFirst(keywords[index % keywords.count]))**: \(["what we commit to", "how we will measure it", "who decides", "what we leave out"][index % 4])."
    }
    paragraphs.append(bullets.joined(separator: "\n"))
    return paragraphs.joined(separator: "\n\n") + "\n"
  }

  /// The answer cut into streaming pieces: a word with its following space each.
  public static func pieces(_ text: String) -> [String] {
    var pieces: [String] = []
    var current = ""
    for character in text {
      current.append(character)
      if character == " " || character == "\n" {
        pieces.append(current)
        current = ""
      }
    }
    if !current.isEmpty { pieces.append(current) }
    return pieces
  }

  /// An estimate of the tokens in a text (about four characters each).
  public static func estimateTokens(_ text: String) -> Int {
    max(1, (text.utf8.count + 3) / 4)
  }

  private static func lowercasedFirst(_ text: String) -> String {
    guard let first = text.first else { return text }
    let second = text.dropFirst().first
    // Keep acronyms and names as they are ("API", "Morag").
    if second?.isUppercase == true { return text }
    return first.lowercased() + text.dropFirst()
  }

  private static func capitalizedFirst(_ text: String) -> String {
    guard let first = text.first else { return text }
    return first.uppercased() + text.dropFirst()
  }
}
