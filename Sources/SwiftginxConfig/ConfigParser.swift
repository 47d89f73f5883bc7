// nginx's configuration grammar: a tokenizer that follows ngx_conf_read_token (words,
// '…' and "…" strings, backslash escapes, `${var}`, `#` comments, `;`, `{`, `}`) and a
// parser that builds the directive tree, expanding `include` (globs sorted) in place and
// applying the directive table's generic checks as each directive is read, so that the
// first error in file order is the one reported, with nginx's wording and line.

/// A parse that stopped at an error, with the directives read before it.
struct PartialParse: Error {
    var directives: [ConfigDirective]
    let error: ConfigError
}

final class ConfigParser {
    /// Directory that relative `include` paths resolve against (ends in "/").
    let confPrefix: String
    /// Where files and include patterns are read.
    let environment: any ConfigEnvironment
    /// Every file read, main file first, for `-T`.
    private(set) var sources: [ConfigSource] = []

    init(confPrefix: String, environment: any ConfigEnvironment) {
        self.confPrefix = confPrefix
        self.environment = environment
    }

    /// Parses the main file (context main).
    func parseFile(_ path: String) throws(PartialParse) -> [ConfigDirective] {
        try parseFile(path, context: .main)
    }

    /// Parses `-g` text as main-context directives ("command line" in errors).
    func parseCommandLine(_ text: String) throws(PartialParse) -> [ConfigDirective] {
        var lexer = ConfigLexer(bytes: Array(text.utf8), file: "command line", isParameter: true)
        return try parseBlock(&lexer, context: .main, kind: .parameter)
    }

    private enum BlockKind { case file, block, parameter }

    private func parseFile(_ path: String, context: DirectiveContext) throws(PartialParse) -> [ConfigDirective] {
        let bytes: [UInt8]
        switch environment.readFile(path) {
        case .success(let b): bytes = b
        case .failure(let e): throw PartialParse(directives: [], error: ConfigError(e.message(subject: path)))
        }
        if !sources.contains(where: { $0.path == path }) {
            sources.append(ConfigSource(path: path, text: String(decoding: bytes, as: UTF8.self)))
        }
        var lexer = ConfigLexer(bytes: bytes, file: path, isParameter: false)
        return try parseBlock(&lexer, context: context, kind: .file)
    }

    private func parseBlock(_ lexer: inout ConfigLexer, context: DirectiveContext, kind: BlockKind)
        throws(PartialParse) -> [ConfigDirective]
    {
        var items: [ConfigDirective] = []
        func fail(_ message: String) -> PartialParse {
            PartialParse(directives: items, error: ConfigError(message, file: lexer.file, line: lexer.line))
        }
        while true {
            let token: ConfigToken
            do { token = try lexer.next() } catch { throw PartialParse(directives: items, error: error) }
            let args: [String]
            let opensBlock: Bool
            switch token {
            case .blockDone:
                if kind != .block { throw fail("unexpected \"}\"") }
                return items
            case .fileDone:
                if kind == .block { throw fail("unexpected end of file, expecting \"}\"") }
                return items
            case .statement(let a):
                args = a
                opensBlock = false
            case .blockStart(let a):
                if kind == .parameter { throw fail("block directives are not supported in -g option") }
                args = a
                opensBlock = true
            }
            let line = lexer.line
            let name = args[0]
            let rest = Array(args.dropFirst())

            if context == .types || context == .map {
                // Lines of types and map blocks are "type ext...;" / "key value;" (nginx's
                // custom handlers), not directives.
                if opensBlock { throw fail("unexpected \"{\"") }
                if name == "include" && rest.count == 1 {
                    do { items += try include(rest[0], context: context, file: lexer.file, line: line) } catch {
                        throw PartialParse(directives: items + error.directives, error: error.error)
                    }
                    continue
                }
                items.append(ConfigDirective(name: name, args: rest, file: lexer.file, line: line))
                continue
            }

            guard let spec = DirectiveTable.spec(name, in: context) else { throw fail("unknown directive \"\(name)\"") }
            if !spec.contexts.contains(context) { throw fail("\"\(name)\" directive is not allowed here") }
            if spec.block == nil && opensBlock { throw fail("directive \"\(name)\" is not terminated by \";\"") }
            if spec.block != nil && !opensBlock { throw fail("directive \"\(name)\" has no opening \"{\"") }
            if !spec.arity.accepts(rest.count) { throw fail("invalid number of arguments in \"\(name)\" directive") }

            if name == "include" {
                do { items += try include(rest[0], context: context, file: lexer.file, line: line) } catch {
                    throw PartialParse(directives: items + error.directives, error: error.error)
                }
                continue
            }
            var directive = ConfigDirective(name: name, args: rest, file: lexer.file, line: line)
            if let inner = spec.block {
                do { directive.block = try parseBlock(&lexer, context: inner, kind: .block) } catch {
                    directive.block = error.directives
                    items.append(directive)
                    throw PartialParse(directives: items, error: error.error)
                }
            }
            items.append(directive)
        }
    }

    private func include(_ target: String, context: DirectiveContext, file: String, line: Int)
        throws(PartialParse) -> [ConfigDirective]
    {
        let path = ConfigFiles.resolve(target, against: confPrefix)
        guard ConfigFiles.isGlob(path) else {
            do { return try parseFile(path, context: context) } catch {
                // An open() failure is reported at the include directive.
                if error.directives.isEmpty && error.error.file == nil {
                    throw PartialParse(directives: [], error: ConfigError(error.error.message, file: file, line: line))
                }
                throw error
            }
        }
        let paths: [String]
        switch environment.glob(path) {
        case .success(let p): paths = p
        case .failure(let e):
            throw PartialParse(directives: [], error: ConfigError(e.message(subject: path), file: file, line: line))
        }
        var items: [ConfigDirective] = []
        for p in paths {
            do { items += try parseFile(p, context: context) } catch {
                if error.directives.isEmpty && error.error.file == nil {
                    throw PartialParse(
                        directives: items, error: ConfigError(error.error.message, file: file, line: line))
                }
                throw PartialParse(directives: items + error.directives, error: error.error)
            }
        }
        return items
    }
}

enum ConfigToken {
    /// Words terminated by ";".
    case statement([String])
    /// Words terminated by "{".
    case blockStart([String])
    case blockDone
    case fileDone
}

/// The tokenizer, byte for byte nginx's ngx_conf_read_token state machine.
struct ConfigLexer {
    let bytes: [UInt8]
    let file: String
    /// True for `-g` text (different end-of-input message).
    let isParameter: Bool
    var position = 0
    /// Current line (1-based), as nginx counts it when reporting.
    var line = 1

    init(bytes: [UInt8], file: String, isParameter: Bool) {
        self.bytes = bytes
        self.file = file
        self.isParameter = isParameter
    }

    private static let lf = UInt8(ascii: "\n")
    private static func isSpace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == lf
    }

    mutating func next() throws(ConfigError) -> ConfigToken {
        var args: [String] = []
        var needSpace = false
        var lastSpace = true
        var sharpComment = false
        var variable = false
        var quoted = false
        var singleQuoted = false
        var doubleQuoted = false
        var start = position

        func error(_ message: String) -> ConfigError { ConfigError(message, file: file, line: line) }

        while true {
            guard position < bytes.count else {
                if !args.isEmpty || !lastSpace {
                    if isParameter { throw error("unexpected end of parameter, expecting \";\"") }
                    throw error("unexpected end of file, expecting \";\" or \"}\"")
                }
                return .fileDone
            }
            let ch = bytes[position]
            position += 1
            if ch == ConfigLexer.lf {
                line += 1
                sharpComment = false
            }
            if sharpComment { continue }
            if quoted {
                quoted = false
                continue
            }
            if needSpace {
                if ConfigLexer.isSpace(ch) {
                    lastSpace = true
                    needSpace = false
                    continue
                }
                if ch == UInt8(ascii: ";") { return .statement(args) }
                if ch == UInt8(ascii: "{") { return .blockStart(args) }
                if ch == UInt8(ascii: ")") {
                    lastSpace = true
                    needSpace = false
                } else {
                    throw error("unexpected \"\(Character(Unicode.Scalar(ch)))\"")
                }
            }
            if lastSpace {
                start = position - 1
                if ConfigLexer.isSpace(ch) { continue }
                switch ch {
                case UInt8(ascii: ";"), UInt8(ascii: "{"):
                    if args.isEmpty { throw error("unexpected \"\(Character(Unicode.Scalar(ch)))\"") }
                    return ch == UInt8(ascii: "{") ? .blockStart(args) : .statement(args)
                case UInt8(ascii: "}"):
                    if !args.isEmpty { throw error("unexpected \"}\"") }
                    return .blockDone
                case UInt8(ascii: "#"):
                    sharpComment = true
                    continue
                case UInt8(ascii: "\\"):
                    quoted = true
                    lastSpace = false
                    continue
                case UInt8(ascii: "\""):
                    start += 1
                    doubleQuoted = true
                    lastSpace = false
                    continue
                case UInt8(ascii: "'"):
                    start += 1
                    singleQuoted = true
                    lastSpace = false
                    continue
                case UInt8(ascii: "$"):
                    variable = true
                    lastSpace = false
                    continue
                default:
                    lastSpace = false
                    continue
                }
            }
            if ch == UInt8(ascii: "{") && variable { continue }
            variable = false
            if ch == UInt8(ascii: "\\") {
                quoted = true
                continue
            }
            if ch == UInt8(ascii: "$") {
                variable = true
                continue
            }
            var found = false
            if doubleQuoted {
                if ch == UInt8(ascii: "\"") {
                    doubleQuoted = false
                    needSpace = true
                    found = true
                }
            } else if singleQuoted {
                if ch == UInt8(ascii: "'") {
                    singleQuoted = false
                    needSpace = true
                    found = true
                }
            } else if ConfigLexer.isSpace(ch) || ch == UInt8(ascii: ";") || ch == UInt8(ascii: "{") {
                lastSpace = true
                found = true
            }
            if found {
                args.append(ConfigLexer.unescape(bytes[start..<(position - 1)]))
                if ch == UInt8(ascii: ";") { return .statement(args) }
                if ch == UInt8(ascii: "{") { return .blockStart(args) }
            }
        }
    }

    /// nginx resolves \" \' \\ \t \r \n; any other backslash stays as written.
    static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let c = raw[i]
            if c == UInt8(ascii: "\\") && i + 1 < raw.endIndex {
                switch raw[i + 1] {
                case UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "\\"):
                    out.append(raw[i + 1])
                    i += 2
                    continue
                case UInt8(ascii: "t"):
                    out.append(UInt8(ascii: "\t"))
                    i += 2
                    continue
                case UInt8(ascii: "r"):
                    out.append(UInt8(ascii: "\r"))
                    i += 2
                    continue
                case UInt8(ascii: "n"):
                    out.append(UInt8(ascii: "\n"))
                    i += 2
                    continue
                default: break
                }
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }
}
