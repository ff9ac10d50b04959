import Foundation
import Testing

/// A long plan costs each section the same as a short one (issue 22): a prompt lists at most the
/// 100 sections nearest its own, and a section's pipeline reads no more than that.
struct ScaleTests {
  let scratch = Harness.scratch("scale")

  /// A plan of `count` offline sections in the blog prompt set.
  func plan(_ count: Int) throws -> String {
    let sections = (0..<count).map {
      "{\"id\": \"s\($0)\", \"title\": \"Section \($0)\", \"description\": \"Part \($0).\"}"
    }
    let text = """
      {"id": "long", "title": "Long", "llm": {"provider": "offline"}, "prompt_set": "blog",
       "inputs": {"brief": "A long post."}, "sections": [\(sections.joined(separator: ","))]}
      """
    try Harness.write(text, to: "\(scratch)/long/plan.json")
    return "\(scratch)/long/plan.json"
  }

  /// The user message and fingerprint build-prompt gives each record of `ndjson`, by id.
  func prompts(_ ndjson: String) -> [String: (message: String, fingerprint: String)] {
    var found: [String: (String, String)] = [:]
    for line in ndjson.split(separator: "\n") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let id = object["id"] as? String, let messages = object["messages"] as? [[String: Any]],
        let user = messages.last?["content"] as? String
      else { continue }
      let fingerprint =
        (try? JSONSerialization.data(
          withJSONObject: object["fingerprint"] ?? [:], options: .sortedKeys)).map {
          String(decoding: $0, as: UTF8.self)
        } ?? ""
      found[id] = (user, fingerprint)
    }
    return found
  }

  @Test func aPromptListsTheHundredNearestSectionsWhicheverWayItIsBuilt() throws {
    let path = try plan(300)
    let whole = try Harness.run(
      "plan-sections \(path) | build-prompt")
    #expect(whole.status == 0, "\(whole.err)")
    let all = prompts(whole.out)
    #expect(all.count == 300)
    for id in ["s0", "s150", "s299"] {
      let one = try Harness.run(
        "plan-sections --only \(id) \(path) | tee \(scratch)/long/\(id).ndjson | build-prompt")
      #expect(one.status == 0, "\(one.err)")
      let alone = prompts(one.out)[id]
      #expect(alone?.message == all[id]?.message, "\(id): the same prompt either way")
      #expect(alone?.fingerprint == all[id]?.fingerprint, "\(id): the same fingerprint either way")
      let listed = (all[id]?.message ?? "").split(separator: "\n").filter {
        $0.hasPrefix("- Section ")
      }
      #expect(listed.count == 100, "\(id) lists \(listed.count) other sections")
      #expect(all[id]?.message.contains("- … and 199 more") == true)
      let outline = try String(contentsOfFile: "\(scratch)/long/\(id).ndjson", encoding: .utf8)
      #expect(outline.utf8.count < 30_000, "the outline event holds the window only")
    }
    let middle = all["s150"]?.message ?? ""
    #expect(middle.contains("- Section 100\n") && middle.contains("- Section 200\n"))
    #expect(!middle.contains("- Section 99\n") && !middle.contains("- Section 201\n"))
  }

  @Test func aShortPlanListsEveryOtherSection() throws {
    let path = try plan(12)
    let built = try Harness.run("plan-sections --only s3 \(path) | build-prompt")
    let message = prompts(built.out)["s3"]?.message ?? ""
    #expect(message.split(separator: "\n").filter { $0.hasPrefix("- Section ") }.count == 11)
    #expect(!message.contains("more"))
  }

  /// Lines as JSON values without their time, for comparing what two tools wrote.
  func timeless(_ text: String) -> [NSDictionary] {
    text.split(separator: "\n").compactMap { line in
      guard var object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
      else { return nil }
      object["ts"] = nil
      return object as NSDictionary
    }
  }

  @Test(arguments: [12, 300])
  func aSectionsPlannedFileIsWhatPlanSectionsGivesForIt(count: Int) throws {
    let path = try plan(count)
    let runs = "\(scratch)/runs\(count)"
    let prepared = try Harness.run("sheaf-run prepare --plan \(path) --runs \(runs)")
    #expect(prepared.status == 0, "\(prepared.err)")
    for id in ["s0", "s7", "s\(count - 1)"] {
      let only = try Harness.run("plan-sections --only \(id) \(path)")
      let planned = try String(contentsOfFile: "\(runs)/long/planned/\(id).ndjson", encoding: .utf8)
      #expect(timeless(planned) == timeless(only.out), "\(id)")
      #expect(timeless(planned).count == 2, "the outline event and the record")
    }
  }
}
