import Foundation
import Testing

/// Every input bounded (issue 22): validate-format's memory stays a small multiple of what it
/// reads, whatever the Markdown.
struct BoundedInputTests {
  let scratch = Harness.scratch("bounded")

  /// validate-format on records whose content is `pattern` repeated to 0.5 MB and to 2.5 MB: its exit
  /// status, and what each byte more of input costs at the peak (the growth of peak memory over
  /// the growth of the input, so that the binary's own fixed size does not count).
  func peak(of pattern: String) throws -> (status: Int, multiple: Double) {
    let script = """
      import json, os, resource, subprocess, sys
      pattern = sys.argv[1].encode().decode('unicode_escape')
      path = sys.argv[2]
      def run(size):
          with open(path, 'w') as f:
              f.write(json.dumps({"id": "a", "status": "completed", "content": pattern * (size // len(pattern)),
                                  "format": {"type": "markdown", "min_words": 1}}) + "\\n")
          with open(path) as stdin, open(os.devnull, 'w') as out:
              proc = subprocess.Popen([sys.argv[3]], stdin=stdin, stdout=out)
              _, status, usage = os.wait4(proc.pid, 0)
          return os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, os.path.getsize(path)
      _, small, small_size = run(500_000)
      code, large, large_size = run(2_500_000)
      print(code, (large - small) / (large_size - small_size))
      """
    try Harness.write(script, to: "\(scratch)/peak.py")
    let escaped = pattern.replacingOccurrences(of: "\n", with: "\\n")
    let result = try Harness.run(
      "python3 \(scratch)/peak.py '\(escaped)' \(scratch)/in.ndjson \(Harness.products.path)/validate-format"
    )
    let parts = result.out.split(separator: " ").map {
      $0.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    return (Int(parts.first ?? "") ?? -1, Double(parts.last ?? "") ?? .infinity)
  }

  /// One block or inline per few bytes is what costs cmark most: each within 20 times its size.
  @Test(arguments: ["- a\n", "# h\n", "> q\n", "*_", "abcdefgh* ", "1. x\n", "[a](b) "])
  func denseMarkdownStaysWithinTwentyTimesItsSize(pattern: String) throws {
    let (status, multiple) = try peak(of: pattern)
    #expect(status == 0 || status == 1, "validate-format ran to its end")
    #expect(multiple < 20, "peak memory \(multiple)× the input")
  }
}
