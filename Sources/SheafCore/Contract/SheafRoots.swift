import Foundation

/// Where sheaf's shared files (the driver, the prompt sets, the examples) may be, in order:
/// `SHEAF_SHARE`, `share/sheaf` beside the tools (`bin/../share/sheaf`), and the checkout the
/// tools were built in (`.build/release/../..`, or the `.build/<triple>/release` the link leads
/// to).
public enum SheafRoots {
  /// The candidate folders, each laid out as `pipelines/`, `prompts/`.
  public static let candidates: [String] = {
    var roots: [String] = []
    if let given = ProcessInfo.processInfo.environment["SHEAF_SHARE"], !given.isEmpty {
      roots.append(given)
    }
    let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
      .deletingLastPathComponent()
    roots.append(exe.appendingPathComponent("../share/sheaf").standardized.path)
    // A checkout only where there is one (not the folders above an installed bin/).
    for relative in ["../..", "../../.."] {
      let root = exe.appendingPathComponent(relative).standardized.path
      if FileManager.default.fileExists(atPath: root + "/Package.swift") { roots.append(root) }
    }
    return roots
  }()
}
