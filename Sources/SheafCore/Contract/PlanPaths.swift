import Foundation

/// Where a plan may read files: inside its own folder, unless the user allows more
/// (`--allow-outside` or `SHEAF_ALLOW_OUTSIDE=1`).
public enum PlanPaths {
  /// Whether the environment allows a plan to name files outside its folder.
  public static func allowOutside(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Bool {
    ["1", "yes", "true"].contains(environment["SHEAF_ALLOW_OUTSIDE"]?.lowercased() ?? "")
  }

  /// The path of `file` (a plan's `field`) relative to the plan's `folder`, or the one-line
  /// problem when it is absolute or leaves the folder (through `..` or a symbolic link).
  public static func resolve(_ file: String, field: String, folder: String, allowOutside: Bool)
    -> Result<
      String, PlanPathProblem
    >
  {
    let joined = file.hasPrefix("/") ? file : (folder.isEmpty ? file : "\(folder)/\(file)")
    if allowOutside { return .success(joined) }
    let refusal = PlanPathProblem(
      "\(field): '\(file)' is outside the plan's folder; a plan reads files in its own folder only "
        + "(pass --allow-outside, or ALLOW_OUTSIDE=1 to make, to let it)")
    if file.hasPrefix("/") || file.hasPrefix("~") { return .failure(refusal) }
    // Lexically: `..` may not climb above the folder.
    var depth = 0
    for part in file.split(separator: "/") {
      if part == ".." {
        depth -= 1
        if depth < 0 { return .failure(refusal) }
      } else if part != "." {
        depth += 1
      }
    }
    // Through links: the real path must stay inside the real folder.
    if let real = realPath(joined), let base = realPath(folder.isEmpty ? "." : folder) {
      let prefix = base.hasSuffix("/") ? base : base + "/"
      if real != base && !real.hasPrefix(prefix) { return .failure(refusal) }
    }
    return .success(joined)
  }

  /// The canonical absolute path, or `nil` when it does not exist.
  public static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }
}

/// A plan path that was refused, as one line.
public struct PlanPathProblem: Error {
  public var message: String
  public init(_ message: String) { self.message = message }
}
