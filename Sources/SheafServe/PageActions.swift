import Foundation
import Hummingbird
import SheafCore
import SheafRun

/// The page's actions (POST, with the token): each is the command a terminal user would type.
///
/// - `/api/regen` `{"section", "note", "cascade": "yes"|"no"|"a,b", "dry"}`:
///   `make regen DOC=… SECTION=… NOTE=… CASCADE=… [DRY=1]`
/// - `/api/approve` `{"section"}`: `sheaf-run approve --run R ID`
/// - `/api/pause`: `sheaf-run pause --run R`
/// - `/api/run`: `make doc PLAN=<the run's plan> MODE=<its mode>` (builds what is stale)
///
/// A dry run, an approval and a pause answer when done (200 with what they said, 422 when they
/// failed) and may run beside anything, as at a terminal; a regeneration or a `make doc` answers
/// 202 at once and `/api/action` follows it. A second one while one runs, or while another
/// `make doc` holds the run's lock: 409.
enum PageActions {
  static func add<Methods: RouterMethods<BasicRequestContext>>(
    to router: Methods, site pick: @escaping Routes.Pick
  ) {
    router.post("/api/regen") { request, context in
      await answer {
        let site = try Self.site(pick, context)
        let body = try await Self.body(request)
        let section = try Self.section(body, site: site)
        let cascade = try Self.cascade(body["cascade"]?.string ?? "yes", of: section, site: site)
        var variables = ["SECTION=\(section)", "CASCADE=\(cascade)"]
        if let note = body["note"]?.string?.trimmed, !note.isEmpty {
          guard !note.contains("\n") else {
            throw Actions.Refusal(status: 400, message: "a note is one line")
          }
          variables.append("NOTE=\(note)")
        }
        let command = site.actions.make("regen", variables)
        if body["dry"]?.bool == true {
          return (200, await site.actions.runNow("make regen DRY=1", command + ["DRY=1"]))
        }
        return (202, try site.actions.start("make regen", command))
      }
    }
    router.post("/api/approve") { request, context in
      await answer {
        let site = try Self.site(pick, context)
        let section = try Self.section(try await Self.body(request), site: site)
        let command = site.actions.step(["approve", "--run", site.run.path, section])
        return (200, await site.actions.runNow("sheaf-run approve", command))
      }
    }
    router.post("/api/pause") { _, context in
      await answer {
        let site = try Self.site(pick, context)
        let command = site.actions.step(["pause", "--run", site.run.path])
        return (200, await site.actions.runNow("sheaf-run pause", command))
      }
    }
    router.post("/api/run") { _, context in
      await answer {
        let site = try Self.site(pick, context)
        guard let plan = site.run.state?["plan"]?.string else {
          throw Actions.Refusal(status: 409, message: "no make doc has run here yet")
        }
        var variables = ["PLAN=\(plan)"]
        if let mode = site.run.state?["mode"]?.string, !mode.isEmpty {
          variables.append("MODE=\(mode)")
        }
        let command = site.actions.make("doc", variables)
        return (202, try site.actions.start("make doc", command))
      }
    }
  }

  /// The run a request is for, or a 404.
  private static func site(_ pick: Routes.Pick, _ context: BasicRequestContext) throws -> Site {
    guard let site = pick(context) else {
      throw Actions.Refusal(status: 404, message: "no such document")
    }
    return site
  }

  /// The action's answer: its JSON with `status`, or `{"error"}` with the refusal's status.
  private static func answer(_ body: () async throws -> (Int, Actions.Action)) async -> Response {
    do {
      let (status, action) = try await body()
      let failed = status == 200 && (action.status ?? 0) != 0
      return Routes.json(
        action.json.compactText, status: .init(code: failed ? 422 : status))
    } catch let refusal as Actions.Refusal {
      return Routes.problem(.init(code: refusal.status), refusal.message)
    } catch {
      return Routes.problem(.badRequest, "\(error)")
    }
  }

  /// The request's JSON object (at most 64 KiB).
  private static func body(_ request: Request) async throws -> JSON {
    var request = request
    let buffer = try await request.collectBody(upTo: 64 << 10)
    let text = String(buffer: buffer)
    if text.trimmed.isEmpty { return JSON.object() }
    guard let value = try? JSON.parse(text), value.kind == .object else {
      throw Actions.Refusal(status: 400, message: "the body is not a JSON object")
    }
    return value
  }

  /// The body's `section`, one of the run's.
  private static func section(_ body: JSON, site: Site) throws -> String {
    guard let id = body["section"]?.string, !id.isEmpty else {
      throw Actions.Refusal(status: 400, message: "name a section (\"section\": id)")
    }
    guard site.sections().contains(where: { $0.id == id }) else {
      throw Actions.Refusal(status: 404, message: "no section '\(id)' in this run")
    }
    return id
  }

  /// CASCADE=: yes, no, or ids among the sections that use `section`.
  private static func cascade(_ given: String, of section: String, site: Site) throws -> String {
    let value = given.trimmed
    if ["yes", "no"].contains(value.lowercased()) { return value.lowercased() }
    let users = site.run.affected(by: section)
    let chosen = value.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
    for id in chosen where !users.contains(id) {
      throw Actions.Refusal(status: 400, message: "'\(id)' does not use '\(section)'")
    }
    return chosen.isEmpty ? "no" : chosen.joined(separator: ",")
  }
}
