import Foundation
import SheafCore
import SheafValidate

/// One section as the plan defines it.
public struct PlanSection {
  /// The slug that names the section (and its files).
  public var id: String
  /// Its heading in the document.
  public var title: String
  /// What it should say.
  public var description: String
  /// The stage given in the plan, if any.
  public var stage: Int?
  /// Hard dependencies: these must complete first.
  public var dependsOn: [String]
  /// Soft dependencies: their content is shown if it exists.
  public var context: [String]
  /// Prompt template name (default: the id).
  public var template: String?
  /// Output format spec (a named format is resolved to its object).
  public var format: JSON?
  /// Model settings of the section itself.
  public var llm: JSON?
  /// The modes the section belongs to (`nil`: every mode).
  public var modes: [String]?
  /// Extra instructions.
  public var instructions: String?
  /// What it does when a section it uses did not complete (`nil`: the plan's).
  public var onDependencyFailure: DependencyPolicy?
  /// Every other field, in plan order, passed through to the record.
  public var extra: [(key: String, value: JSON)]
  /// 1-based position in the plan's list of sections.
  public var index: Int
}

/// A document's definition (DESIGN.md section 2), read from a JSON plan or a Markdown outline.
public struct Plan {
  /// Document id (a slug).
  public var id: String
  /// Document title.
  public var title: String
  /// Document inputs, resolved to text (files read), in plan order.
  public var inputs: [(key: String, value: String)]
  /// The files the inputs were read from, for make's prerequisites.
  public var inputFiles: [String]
  /// Plan-wide model settings.
  public var llm: JSON?
  /// Model settings per stage.
  public var stageLLM: [Int: JSON]
  /// Named formats sections may refer to.
  public var formats: [String: JSON]
  /// The modes the plan declares, in order.
  public var modes: [String]
  /// The mode used when none is asked for.
  public var defaultMode: String?
  /// The prompt set build-prompt should use.
  public var promptSet: String?
  /// What sections do when a section they use did not complete (`nil`: skip).
  public var onDependencyFailure: DependencyPolicy?
  /// The sections, in plan order.
  public var sections: [PlanSection]
  /// Where the plan came from: its path, or `stdin`.
  public var source: String
  /// The plan's own id when `id` is one document of it (a row of `make docs`): the prompt set a
  /// plan that names none uses, as for the plan itself.
  public var planID: String? = nil

  /// The plan as one document of a set: its id, the row's fields as inputs (replacing the plan's
  /// inputs of the same name, the others added after them) and the row's `title`, if it has one,
  /// as the document's title.
  public mutating func document(_ document: String, row: [(key: String, value: String)]) {
    if document != id {
      planID = planID ?? id
      id = document
    }
    for (key, value) in row {
      if let index = inputs.firstIndex(where: { $0.key == key }) {
        inputs[index].value = value
      } else {
        inputs.append((key, value))
      }
      if key == "title", !value.isEmpty { title = value }
    }
  }
}

/// Every problem found in a plan, reported together, one line each; nothing is emitted.
public struct PlanProblems: Error {
  /// One line per problem, each naming its place and the ids involved.
  public var lines: [String]
}
