import Foundation
import SheafCore

/// The merged Markdown in the formats people send (`merge-doc --to`, `make doc FORMAT=`): docx,
/// pdf, epub, html and odt, by pandoc, each written atomically next to the Markdown.
///
/// The document's `# title` becomes its title (pandoc's `--shift-heading-level-by=-1`), with the
/// plan's `inputs.author` and today's date; a document of more than eight sections gets a table
/// of contents. A missing pandoc (or PDF engine) is one line saying what to install; the Markdown
/// is written whatever happens.
public enum DocumentExport {
  /// The formats, as pandoc names its writers.
  public static let formats = ["docx", "pdf", "epub", "html", "odt"]

  /// The engines pandoc can make a PDF with, in the order they are tried.
  static let pdfEngines = ["xelatex", "lualatex", "pdflatex", "wkhtmltopdf", "weasyprint"]

  /// Converts the Markdown file at `markdown` into each of `targets`; returns one line per
  /// format that could not be written (what to install, or pandoc's own message).
  public static func convert(
    markdown: String, to targets: [String], author: String?, sections: Int,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> [String] {
    guard !targets.isEmpty else { return [] }
    guard let pandoc = Subprocess.find("pandoc", environment: environment) else {
      return [
        "pandoc not found: \(targets.joined(separator: ", ")) not written (the Markdown is); install it with: sudo apt-get install pandoc"
      ]
    }
    var problems: [String] = []
    let base = (markdown as NSString).deletingPathExtension
    let filter = NSTemporaryDirectory() + "sheaf-no-images-\(getpid()).lua"
    try? AtomicFile.write("function Image(image)\n  return image.caption\nend\n", to: filter)
    defer { unlink(filter) }
    for target in targets {
      // What a model wrote is text: an image it names becomes its words (pandoc reads no file
      // and fetches no URL for it), and no raw HTML or TeX of its own goes into the document.
      // (pandoc's own --sandbox cannot write docx in Debian's 2.17.)
      var arguments = [
        markdown, "--lua-filter", filter, "--from", "markdown-raw_html-raw_tex-raw_attribute",
        "--shift-heading-level-by=-1", "--standalone", "--metadata", "date=\(today())",
      ]
      if let author, !author.isEmpty { arguments += ["--metadata", "author=\(author)"] }
      if sections > 8 { arguments.append("--toc") }
      if target == "pdf" {
        guard
          let engine = pdfEngines.first(where: {
            Subprocess.find($0, environment: environment) != nil
          })
        else {
          problems.append(
            "pdf not written: pandoc needs a PDF engine; install one with: sudo apt-get install texlive-latex-recommended (or wkhtmltopdf)"
          )
          continue
        }
        arguments += ["--pdf-engine", engine]
      } else {
        arguments += ["--to", target == "html" ? "html5" : target]
      }
      let final = "\(base).\(target)"
      let temporary =
        ((final as NSString).deletingLastPathComponent as NSString).appendingPathComponent(
          ".\((final as NSString).lastPathComponent).\(getpid()).tmp.\(target)")
      arguments += ["--output", temporary]
      // A conversion that hangs is stopped: the Markdown is written either way.
      let (status, errors) = Subprocess.run(pandoc, arguments, keep: .errors, timeout: 300)
      guard status == 0, rename(temporary, final) == 0 else {
        unlink(temporary)
        let said = errors.split(separator: "\n").first.map(String.init) ?? "exit \(status)"
        problems.append("\(target) not written: pandoc: \(said)")
        continue
      }
    }
    return problems
  }

  /// Today as `2026-12-06`.
  static func today() -> String {
    String(Event.timestamp().prefix(10))
  }
}
