// Path helpers for configuration loading: include patterns, and nginx's rules for
// resolving relative paths against the prefix or the configuration's directory. The
// files themselves are read through the loader's ConfigEnvironment.

enum ConfigFiles {
    static func isGlob(_ path: String) -> Bool { path.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) }

    /// `path` if absolute, else `base` + `path` (`base` ends in "/").
    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// The directory of a file path, with a trailing "/".
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "./" }
        return String(path[...slash])
    }
}
