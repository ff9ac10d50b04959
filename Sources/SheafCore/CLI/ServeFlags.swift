import ArgumentParser

/// The options of a run's live page, shared by `sheaf-run serve` (which checks them and starts
/// sheaf-serve) and sheaf-serve itself.
public struct ServeFlags: ParsableArguments, Sendable {
  @Option(help: ArgumentHelp("The run directory (runs/<doc>).", valueName: "dir"))
  public var run: String?
  @Option(
    help: ArgumentHelp(
      "With --rows: a set of documents (make docs): the page lists them and opens each.",
      valueName: "plan"))
  public var plan: String?
  @Option(help: ArgumentHelp("The set's table of inputs (make docs ROWS=).", valueName: "file"))
  public var rows: String?
  @Option(
    name: .customLong("doc-id"),
    help: ArgumentHelp("With --rows: each row's document id (make docs DOC_ID=).", valueName: "id"))
  public var docID: String?
  @Option(help: ArgumentHelp("With --rows: this machine's share (i/N).", valueName: "i/N"))
  public var shard: String?
  @Option(help: ArgumentHelp("With --rows: where the runs are.", valueName: "dir"))
  public var runs = "runs"
  @Option(
    help: ArgumentHelp(
      "The address to listen on. Anything but 127.0.0.1 (or ::1) lets others on the network read the page; the actions still need the token.",
      valueName: "address"))
  public var host = "127.0.0.1"
  @Option(help: ArgumentHelp("The port (0: a free one).", valueName: "n"))
  public var port = 0
  @Option(
    help: ArgumentHelp(
      "The makefile the page's actions run make with (make serve passes its own).",
      valueName: "file"))
  public var makefile = "Makefile"

  public init() {}

  /// The flags as arguments again, for the server.
  public var arguments: [String] {
    var out: [String] = []
    for (flag, value) in [
      ("--run", run), ("--plan", plan), ("--rows", rows), ("--doc-id", docID), ("--shard", shard),
    ] {
      if let value, !value.isEmpty { out += [flag, value] }
    }
    return out + ["--host", host, "--port", String(port), "--makefile", makefile, "--runs", runs]
  }

  /// Whether the page is a set's (`--plan` and `--rows`), not one run's.
  public var isSet: Bool { !(rows ?? "").isEmpty }

  public func validate() throws {
    if isSet {
      guard !(plan ?? "").isEmpty else { throw ValidationError("--rows needs --plan") }
    } else if (run ?? "").isEmpty {
      throw ValidationError("give --run runs/<doc>, or --plan and --rows for a set")
    }
  }

  /// The help both commands show after their options.
  public static let discussion = """
    Serves one page for the run at http://127.0.0.1:<port>/ and prints its address with a secret \
    token (?token=…). The page shows every section in document order with its status, the text \
    being written, the stage, done/total, elapsed, ETA, cost, each section's tries, repairs and \
    error with its hint, and the document's status; it follows the run's events.ndjson over \
    server-sent events, so a reload or a dropped connection goes on where it stopped, and it \
    shows any make doc of this run, started from the page or a terminal. The finished document \
    reads well with scripts off.

    With the token (the printed address carries it), the page can regenerate a section with a \
    note and a choice of the sections that use it (make regen … CASCADE=, with DRY=1 first for \
    the cost), approve a section held for review (sheaf-run approve), pause the run (sheaf-run \
    pause) and start make doc for what is stale: the same commands as at a terminal, run with \
    the makefile of --makefile and the variables make serve was given. An action while the run \
    is busy is refused (409). A request without the token gets 403; a Host header that is not \
    this server's address gets 403; nothing outside the run directory is served.

    With --plan and --rows (make serve PLAN= ROWS=), the page is a set's: / lists every \
    document of the table with its status, sections done, cost, and a link to its own page at \
    /d/<id>/, which is the page above (with its actions) for that document.

    The page's routes: / (the page), /events (server-sent events; ids are offsets in \
    events.ndjson; ?from=, Last-Event-ID), /api/state, /api/section/<id>, /api/affected/<id>, \
    /api/action, /timeline.svg, /graph.svg; POST /api/regen, /api/approve, /api/pause, /api/run \
    with the X-Sheaf-Token header. A set's page: /, /api/set, and each document's routes under \
    /d/<id>/.

    EXAMPLES
      make serve DOC=prd                       (then make doc PLAN=pipelines/prd/plan.json)
      make serve PLAN=pipelines/prd/plan.json ROWS=products.csv DOC_ID=product
      sheaf-run serve --run runs/prd --port 8080
    """
}
