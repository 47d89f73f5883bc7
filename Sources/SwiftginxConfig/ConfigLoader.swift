// Entry point of configuration loading: read the file (and its includes), parse
// it into a directive tree, check it against the directive table, and compile it
// into a RuntimeConfig. PLACEHOLDER body until the config work lands.

/// A configuration error, printed nginx's way by `description`:
/// `unknown directive "foo" in /prefix/conf/swiftginx.conf:12`.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let file: String?
    public let line: Int?
    public init(_ message: String, file: String? = nil, line: Int? = nil) {
        self.message = message
        self.file = file
        self.line = line
    }
    public var description: String {
        if let file, let line { return "\(message) in \(file):\(line)" }
        return message
    }
}

public enum ConfigLoader {
    /// Loads and compiles a configuration.
    /// - Parameters:
    ///   - path: the configuration file, absolute (the caller resolves `-c` against the prefix).
    ///   - prefix: the `-p` prefix, absolute, ending in "/"; relative `pid`, logs and `root` resolve against it.
    ///   - globalDirectives: the `-g` text, parsed as main-context directives before the file.
    public static func load(path: String, prefix: String, globalDirectives: String? = nil) throws(ConfigError)
        -> RuntimeConfig
    {
        throw ConfigError("configuration loading is not built yet")
    }
}
