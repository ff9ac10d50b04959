import Foundation

/// The other sections a prompt lists from the document's outline: all of them up to `limit`,
/// and in a longer plan the `limit` nearest the section in document order, so that a prompt, and
/// what every tool of a section's pipeline reads, stays the same size however long the plan.
///
/// plan-sections `--only` writes only the entries the selected sections' windows hold (with the
/// plan's `total`), and build-prompt takes the same window from whichever outline it is given:
/// the nearest `limit` of a list that holds them are the same entries.
public enum OutlineWindow {
  /// How many other sections a prompt lists at most.
  public static let limit = 100

  /// The indices of the window around `order` in `orders` (sorted ascending): the `limit` entries
  /// nearest it besides the entry at `order` itself (`own`, inside the range when there is one);
  /// on a tie the earlier entry is taken.
  public static func window(orders: [Int], around order: Int, limit: Int = limit) -> (
    range: Range<Int>, own: Int?
  ) {
    var low = 0
    var high = orders.count
    while low < high {
      let middle = (low + high) / 2
      if orders[middle] < order { low = middle + 1 } else { high = middle }
    }
    let own = low < orders.count && orders[low] == order ? low : nil
    var left = low - 1
    var right = own.map { $0 + 1 } ?? low
    var count = 0
    while count < limit, left >= 0 || right < orders.count {
      if right >= orders.count || (left >= 0 && order - orders[left] <= orders[right] - order) {
        left -= 1
      } else {
        right += 1
      }
      count += 1
    }
    return ((left + 1)..<right, own)
  }
}
