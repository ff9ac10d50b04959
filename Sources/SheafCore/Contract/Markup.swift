/// Text made safe to put in HTML or SVG: in an element's text or a double-quoted attribute.
public enum Markup {
  /// `&`, `<`, `>` and `"` as entities (one pass).
  public static func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
      switch character {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      default: out.append(character)
      }
    }
    return out
  }
}
