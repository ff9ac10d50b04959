import Foundation

extension String {
  /// The string without leading and trailing white space.
  public var trimmed: String {
    var slice = Substring(self)
    while let first = slice.first, first.isWhitespace { slice.removeFirst() }
    while let last = slice.last, last.isWhitespace { slice.removeLast() }
    return String(slice)
  }
}

/// The items of repeatable, comma-separated flag values (`--warn a,b --warn c`), trimmed, empty
/// ones left out.
public func commaSeparated(_ values: [String]) -> [String] {
  values.flatMap { $0.split(separator: ",").map { String($0).trimmed } }.filter { !$0.isEmpty }
}
