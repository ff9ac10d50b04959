import Testing

@testable import SheafCore
@testable import SheafLLM

/// The cache key is the whole request: two requests that differ in one thing that reaches the
/// wire never share a key (and so never an answer).
struct RequestKeyTests {
  static let base =
    #"{"id":"s","status":"pending","llm":{"provider":"openai","model":"m","base_url":"http://127.0.0.1:9/v1","temperature":0.5,"max_tokens":100},"format":{"type":"json","schema":{"type":"object"}},"messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}]}"#

  func key(_ text: String, seed: UInt64 = 0) throws -> String {
    var options = CallOptions()
    options.environment = [:]
    options.seed = seed
    return try ResolvedCall.resolve(Record(try JSON.parse(text)), options: options).requestKey
  }

  @Test(arguments: [
    (#""provider":"openai""#, #""provider":"ollama""#),
    (#""model":"m""#, #""model":"n""#),
    (#""base_url":"http://127.0.0.1:9/v1""#, #""base_url":"http://127.0.0.1:8/v1""#),
    (#""temperature":0.5"#, #""temperature":0.6"#),
    (#""max_tokens":100"#, #""max_tokens":101"#),
    (#""max_tokens":100"#, #""max_tokens":100,"top_p":0.9"#),
    (#""max_tokens":100"#, #""max_tokens":100,"seed":3"#),
    (#""max_tokens":100"#, #""max_tokens":100,"stop":["x"]"#),
    (#""max_tokens":100"#, #""max_tokens":100,"extra":{"a":1}"#),
    (#""schema":{"type":"object"}"#, #""schema":{"type":"array"}"#),
    (#""format":{"type":"json""#, #""format":{"type":"markdown""#),
    (#""content":"S""#, #""content":"T""#),
    (#""content":"U""#, #""content":"V""#),
    (#""role":"system""#, #""role":"user""#),
  ])
  func aRequestThatDiffersInOneFieldHasAnotherKey(_ from: String, _ to: String) throws {
    let changed = Self.base.replacingOccurrences(of: from, with: to)
    #expect(changed != Self.base)
    #expect(try key(changed) != key(Self.base))
  }

  @Test func whatReachesNoWireChangesNoKey() throws {
    // A Markdown format's rules, a timeout, a price: the same request, the same key.
    let markdown = Self.base.replacingOccurrences(
      of: #""format":{"type":"json","schema":{"type":"object"}}"#,
      with: #""format":{"type":"markdown","min_words":10}"#)
    let other = markdown.replacingOccurrences(of: #""min_words":10"#, with: #""min_words":20"#)
      .replacingOccurrences(of: #""max_tokens":100"#, with: #""max_tokens":100,"timeout_s":9"#)
    #expect(try key(markdown) == key(other))
  }

  @Test func theOfflineSeedIsPartOfTheKey() throws {
    let offline = Self.base.replacingOccurrences(
      of: #""provider":"openai""#, with: #""provider":"offline""#)
    #expect(try key(offline, seed: 1) != key(offline, seed: 2))
  }
}
