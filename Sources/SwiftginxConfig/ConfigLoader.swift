// Entry point of configuration loading: read the file (and its includes) and the `-g`
// directives, parse them into a directive tree, check them against the directive
// table, and compile the result into a RuntimeConfig. The first error stops loading.

/// A configuration error, printed nginx's way by `description`:
/// `unknown directive "foo" in /prefix/conf/swiftginx.conf:12`.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public let file: String?
    public let line: Int?
    public init(_ message: String, file: String? = nil, line: Int? = nil) {
        self.message = message
        self.file = file
        self.line = line
    }
    public var description: String {
        if let file, file == "command line" { return "\(message) in command line" }
        if let file, let line { return "\(message) in \(file):\(line)" }
        return message
    }
}

public enum ConfigLoader {
    /// Loads and compiles a configuration.
    /// - Parameters:
    ///   - path: the configuration file, absolute (the caller resolves `-c` against the prefix).
    ///     Relative `include` paths resolve against its directory (nginx's conf prefix).
    ///   - prefix: the `-p` prefix, absolute, ending in "/"; relative `pid`, logs and `root` resolve against it.
    ///   - environment: where files are read and host names resolved (the server's is
    ///     backed by SwiftginxPosix).
    ///   - globalDirectives: the `-g` text, parsed as main-context directives before the file.
    ///   - defaultErrorLog: `-e`: the error log used when the main context names none
    ///     (absolute, or "stderr"); nil for nginx's `logs/error.log`.
    public static func load(
        path: String, prefix: String, environment: any ConfigEnvironment, globalDirectives: String? = nil,
        defaultErrorLog: String? = nil
    ) throws(ConfigError) -> RuntimeConfig {
        let normalizedPrefix = prefix.hasSuffix("/") ? prefix : prefix + "/"
        let parser = ConfigParser(confPrefix: ConfigFiles.directory(of: path), environment: environment)
        var tree: [ConfigDirective] = []
        var parseError: ConfigError? = nil
        do {
            if let globalDirectives { tree = try parser.parseCommandLine(globalDirectives) }
            tree += try parser.parseFile(path)
        } catch {
            tree += error.directives
            parseError = error.error
        }
        let compiler = ConfigCompiler(prefix: normalizedPrefix, environment: environment)
        compiler.defaultErrorLog = defaultErrorLog
        compiler.confPrefix = parser.confPrefix
        // Directives read before a syntax error are still checked first, so the error
        // reported is the first in file order, as nginx (which handles each directive
        // as soon as it is read) reports it.
        let config = try compiler.compile(tree, sources: parser.sources, complete: parseError == nil)
        if let parseError { throw parseError }
        return config
    }

    /// Parses only (no compilation): the directive tree of a file, includes expanded.
    public static func parse(path: String, environment: any ConfigEnvironment, globalDirectives: String? = nil)
        throws(ConfigError) -> [ConfigDirective]
    {
        let parser = ConfigParser(confPrefix: ConfigFiles.directory(of: path), environment: environment)
        do {
            var tree: [ConfigDirective] = []
            if let globalDirectives { tree = try parser.parseCommandLine(globalDirectives) }
            return tree + (try parser.parseFile(path))
        } catch { throw error.error }
    }
}
