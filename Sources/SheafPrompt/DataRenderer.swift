import Foundation
import SheafCore

/// Shows a JSON section's value through a Mustache template of its prompt set: the one its
/// format names in `render` (`{{#data}}…{{/data}}`, with `section.title` and `section.id`).
public final class DataRenderer {
  private let library: TemplateLibrary

  /// A renderer looking in these prompt folders first, then as build-prompt does.
  public init(promptDirs: [String] = []) {
    library = TemplateLibrary(promptDirs: promptDirs)
  }

  /// The Markdown for `data` through template `name` of prompt set `set`, or the error that
  /// stops it (no such template, or one that does not parse).
  public func render(
    _ data: JSON, name: String, set: String, planDir: String?, id: String, title: String
  ) -> Result<String, SheafError> {
    let folders = library.folders(set: set, planDir: planDir)
    guard PromptName.isValid(name), let path = library.find(name, in: folders) else {
      return .failure(
        SheafError(
          .template,
          "no render template '\(name).mustache' in prompt set '\(set)' (looked in \(folders.joined(separator: ", ")))",
          hint: "add prompts/\(set)/\(name).mustache, or drop render from the format"))
    }
    do {
      let template = try library.load(path)
      let (partials, _, _) = try library.library(for: [template], folders: folders)
      let context: [String: Any] = [
        "data": PromptBuilder.plain(data), "section": ["id": id, "title": title],
      ]
      return .success(PromptBuilder.tidy(template.template.render(context, library: partials)))
    } catch let failure as ToolFailure {
      return .failure(SheafError(.template, failure.message))
    } catch {
      return .failure(SheafError(.template, "\(error)"))
    }
  }
}
