import Foundation

/// What of the document a section's templates read: the inputs they name and whether they show
/// its title, so that a section's fingerprint changes with those and not with the rest (a row of
/// `make docs` whose `notes` changed rebuilds only the sections whose prompts show `notes`).
///
/// It is read from the tags of the system template, the section's template and every partial
/// they include. A template that takes `doc` whole, `doc.inputs` or `doc.inputs_list` (the
/// default set lists every input), or `{{.}}`, may read any of it: everything.
struct TemplateReads: Equatable {
  /// The inputs read by name; `nil`: every input.
  var inputs: Set<String>?
  /// Whether `doc.title` is shown.
  var title: Bool

  /// Everything the document has.
  static let everything = TemplateReads(inputs: nil, title: true)

  /// What the templates whose tags are `trees` read.
  static func of(_ trees: [[TemplateNode]]) -> TemplateReads {
    var reads = TemplateReads(inputs: [], title: false)
    func visit(_ nodes: [TemplateNode]) {
      for node in nodes {
        switch node {
        case .variable(let name, _):
          reads.take(name)
        case .section(let name, _, _, let children):
          reads.take(name)
          visit(children)
        case .partial:
          break
        }
      }
    }
    for nodes in trees { visit(nodes) }
    return reads
  }

  /// Counts one name a tag uses.
  private mutating func take(_ name: String) {
    if ["doc", "doc.inputs", "doc.inputs_list", "."].contains(name)
      || name.hasPrefix("doc.inputs_list.")
    {
      self = .everything
      return
    }
    if name == "doc.title" || name.hasPrefix("doc.title.") { title = true }
    for prefix in ["doc.inputs.", "doc.audience"] where name.hasPrefix(prefix) {
      let rest = name.dropFirst(prefix.count)
      let input =
        prefix == "doc.audience" ? "audience" : String(rest.prefix { $0 != "." })
      if !input.isEmpty { inputs?.insert(input) }
    }
  }
}
