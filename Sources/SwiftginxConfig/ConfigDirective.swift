// The parsed form of a configuration: a tree of directives, each with its arguments
// (quotes removed, escapes resolved, variables still as text) and the file and line
// where nginx would report it (the line of its terminating ";" or "{").

/// One directive as written, with its block's directives when it has a block.
public struct ConfigDirective: Sendable {
    public let name: String
    public let args: [String]
    /// Absolute file path, or "command line" for `-g` directives.
    public let file: String
    /// Line of the terminating ";" or "{" (nginx reports errors there).
    public let line: Int
    /// The directives inside `{ }`, nil for a simple directive.
    public var block: [ConfigDirective]?

    public init(name: String, args: [String], file: String, line: Int, block: [ConfigDirective]? = nil) {
        self.name = name
        self.args = args
        self.file = file
        self.line = line
        self.block = block
    }

    /// An error located at this directive.
    func error(_ message: String) -> ConfigError { ConfigError(message, file: file, line: line) }

    /// nginx's `"name" directive <reason>` error.
    func directiveError(_ reason: String) -> ConfigError { error("\"\(name)\" directive \(reason)") }
}
