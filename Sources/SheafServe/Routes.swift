import Foundation
import HTTPTypes
import Hummingbird
import SheafCore
import SheafRun

/// Every request: answered only when its `Host` is the server's own address (a page of another
/// site that resolves its name to 127.0.0.1 gets nothing), an action only with the token, and
/// every answer with headers that keep it to this page (no framing, no sniffing, no referrer, a
/// content security policy of the page's own files; no CORS header, ever).
struct Guard<Context: RequestContext>: RouterMiddleware {
  let door: Door

  func handle(
    _ request: Request, context: Context,
    next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    guard door.answers(to: request.head.authority) else {
      return Self.secured(
        Routes.text(
          .forbidden,
          "sheaf: this server answers only to its own address (Host: \(request.head.authority ?? "none"))\n"
        ))
    }
    if request.method == .post {
      let origin = request.headers[.origin]
      if let origin, !door.answers(to: origin.replacingOccurrences(of: "http://", with: "")) {
        return Self.secured(Routes.problem(.forbidden, "a request from another site"))
      }
      guard door.isToken(request.headers[.sheafToken]) else {
        return Self.secured(
          Routes.problem(
            .forbidden,
            "no token, or not this server's: open the address sheaf-run serve printed (with ?token=…)"
          ))
      }
    }
    do {
      return Self.secured(try await next(request, context))
    } catch let error as any HTTPResponseError {
      return Self.secured(try error.response(from: request, context: context))
    } catch {
      return Self.secured(Routes.problem(.internalServerError, "\(error)"))
    }
  }

  static func secured(_ response: Response) -> Response {
    var response = response
    response.headers[.cacheControl] = "no-store"
    response.headers[.xContentTypeOptions] = "nosniff"
    response.headers[.frameOptions] = "DENY"
    response.headers[.referrerPolicy] = "no-referrer"
    response.headers[.contentSecurityPolicy] =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    return response
  }
}

/// The page's routes: a fixed list; no part of a URL is ever a path on disk (a section is
/// looked up among the run's sections by id, a document of a set among the set's).
///
/// The page names its files and routes relative to itself, so the same routes serve one run at
/// `/` and each document of a set at `/d/<id>/`.
enum Routes {
  /// The run a request is for (`nil`: none such).
  typealias Pick = @Sendable (BasicRequestContext) -> Site?

  /// The routes of a run's page; `inSet`: a document of a set's page (it links back to the set).
  static func add<Methods: RouterMethods<BasicRequestContext>>(
    to router: Methods, inSet: Bool = false, site pick: @escaping Pick
  ) {
    router.get("/") { request, context in
      guard let site = pick(context) else { return problem(.notFound, "no such document") }
      // The page's links are relative to it: a document's page is at /d/<id>/, with its slash.
      let path = request.uri.path
      guard path.hasSuffix("/") else {
        // Relative to the request (its last part and a slash): never another host, whatever
        // slashes the path starts with.
        let last = path.split(separator: "/").last.map(String.init) ?? ""
        var headers = HTTPFields()
        headers[.location] =
          (last.isEmpty ? "./" : last + "/") + (request.uri.query.map { "?" + $0 } ?? "")
        return Response(status: .movedPermanently, headers: headers)
      }
      let (state, contents) = site.withView { view -> (JSON, [String: String]) in
        let state = view.snapshot()
        site.running(state)
        var contents: [String: String] = [:]
        for section in state["sections"]?.array ?? [] {
          guard let id = section["id"]?.string, let record = site.run.record(id) else { continue }
          contents[id] = RunView.contentHTML(record)
        }
        return (state, contents)
      }
      // A document of a set links back to the set's page.
      return html(Page.render(state, contents: contents, inSet: inSet))
    }
    router.get("/page.js") { _, _ in
      respond(.ok, "text/javascript; charset=utf-8", PageScript.text)
    }
    router.get("/page.css") { _, _ in respond(.ok, "text/css; charset=utf-8", Page.style) }
    router.get("/events") { request, context in
      guard let site = pick(context) else { return problem(.notFound, "no such document") }
      return events(request, site: site)
    }
    router.get("/api/state") { _, context in
      guard let site = pick(context) else { return problem(.notFound, "no such document") }
      return json(site.state())
    }
    router.get("/api/section/:id") { _, context in
      guard let site = pick(context), let id = context.parameters.get("id"),
        site.sections().contains(where: { $0.id == id })
      else { return problem(.notFound, "no such section") }
      let content = site.run.record(id).map(RunView.contentHTML) ?? ""
      return html(content)
    }
    router.get("/api/affected/:id") { _, context in
      guard let site = pick(context), let id = context.parameters.get("id"),
        site.sections().contains(where: { $0.id == id })
      else { return problem(.notFound, "no such section") }
      let titles = Dictionary(site.sections().map { ($0.id, $0.title) }) { a, _ in a }
      let out = JSON.object()
      out["id"] = JSON(id)
      out["affected"] = JSON.array(
        site.run.affected(by: id).map { user -> JSON in
          let entry = JSON.object()
          entry["id"] = JSON(user)
          entry["title"] = JSON(titles[user] ?? user)
          return entry
        })
      return json(out.compactText)
    }
    router.get("/api/action") { _, context in
      guard let site = pick(context) else { return problem(.notFound, "no such document") }
      return json(site.actions.state?.json.compactText ?? "null")
    }
    router.get("/timeline.svg") { _, context in
      guard let site = pick(context) else { return problem(.notFound, "no such document") }
      do { return respond(.ok, "image/svg+xml", try Timeline.svg(run: site.run)) } catch {
        return problem(.notFound, "no run here yet")
      }
    }
    router.get("/graph.svg") { _, context in
      guard let site = pick(context) else { return problem(.notFound, "no such document") }
      do { return respond(.ok, "image/svg+xml", try RunGraph.svg(run: site.run)) } catch {
        return problem(.notFound, "no run here yet")
      }
    }
    PageActions.add(to: router, site: pick)
  }

  /// The run's events from where the viewer left off, as server-sent events whose ids are
  /// offsets in `events.ndjson`; a comment every few seconds keeps the connection (and tells a
  /// gone viewer from a quiet run).
  static func events(_ request: Request, site: Site) -> Response {
    let path = site.run.layout.events
    let fallback = UInt64(max(0, site.run.state?["events_offset"]?.int ?? 0))
    let start = EventTail.start(
      lastEventID: request.headers[.lastEventID],
      from: request.uri.queryParameters.get("from"), fallback: fallback, path: path)
    var headers = HTTPFields()
    headers[.contentType] = "text/event-stream; charset=utf-8"
    return Response(
      status: .ok, headers: headers,
      body: ResponseBody { writer in
        var tail = EventTail(path: path, offset: start.offset)
        var quiet = 0
        try await writer.write(ByteBuffer(string: "retry: 1000\n\n"))
        if start.beyond {
          // An id past the end of the log: the run directory was made again since.
          try await writer.write(ByteBuffer(string: "event: reset\ndata: {}\n\n"))
        }
        while !Task.isCancelled {
          switch tail.next() {
          case .replaced:
            try await writer.write(ByteBuffer(string: "event: reset\ndata: {}\n\n"))
          case .lines(let lines) where !lines.isEmpty:
            var buffer = ByteBuffer()
            for (text, end) in lines {
              buffer.writeString("id: \(end)\ndata: ")
              buffer.writeBytes(text)
              buffer.writeString("\n\n")
            }
            try await writer.write(buffer)
            quiet = 0
          case .lines:
            quiet += 1
            if quiet >= 20 {
              try await writer.write(ByteBuffer(string: ": still here\n\n"))
              quiet = 0
            }
            try await Task.sleep(nanoseconds: 150_000_000)
          }
        }
        try await writer.finish(nil)
      })
  }

  static func respond(_ status: HTTPResponse.Status, _ type: String, _ text: String) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = type
    return Response(
      status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  static func html(_ text: String) -> Response { respond(.ok, "text/html; charset=utf-8", text) }

  static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    respond(status, "application/json", text)
  }

  static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
    respond(status, "text/plain; charset=utf-8", text)
  }

  /// `{"error": message}` with `status`.
  static func problem(_ status: HTTPResponse.Status, _ message: String) -> Response {
    let out = JSON.object()
    out["error"] = JSON(message)
    return json(out.compactText, status: status)
  }
}

extension HTTPField.Name {
  /// The header that carries the page's token on an action.
  static let sheafToken = Self.named("X-Sheaf-Token")
  static let frameOptions = Self.named("X-Frame-Options")
  static let referrerPolicy = Self.named("Referrer-Policy")
  static let lastEventID = Self.named("Last-Event-ID")

  /// A header name this file spells (a valid token, so never the fallback).
  private static func named(_ name: String) -> Self { Self(name) ?? .via }
}
