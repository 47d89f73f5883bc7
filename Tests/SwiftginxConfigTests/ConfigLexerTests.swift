// The tokenizer against nginx's rules: quotes, escapes, comments, `${var}` inside words,
// a quoted string that must be followed by a separator, and line counting.

import Testing

@testable import SwiftginxConfig

@Suite struct ConfigLexerTests {
    func tokens(_ text: String) throws(ConfigError) -> [ConfigToken] {
        var lexer = ConfigLexer(bytes: Array(text.utf8), file: "t.conf", isParameter: false)
        var out: [ConfigToken] = []
        while true {
            let t = try lexer.next()
            out.append(t)
            if case .fileDone = t { return out }
        }
    }

    func words(_ text: String) throws -> [String] {
        let first = try tokens(text).first
        guard case .statement(let w) = first else {
            Issue.record("no statement first in \(text): \(String(describing: first))")
            return []
        }
        return w
    }

    @Test func wordsQuotesAndEscapes() throws {
        #expect(try words("root /var/www;") == ["root", "/var/www"])
        #expect(try words("a 'b c' \"d e\";") == ["a", "b c", "d e"])
        #expect(try words(#"a "q\"uote" 'it\'s' "back\\slash";"#) == ["a", "q\"uote", "it's", "back\\slash"])
        #expect(try words(#"a "t\tr\rn\n";"#) == ["a", "t\tr\rn\n"])
        // Other escapes are kept as written (PCRE needs them).
        #expect(try words(#"location ~ \.php$;"#) == ["location", "~", "\\.php$"])
        #expect(try words("a \"\";") == ["a", ""])
        #expect(try words("a b\\ c;") == ["a", "b\\ c"])
    }

    @Test func variablesAndBraces() throws {
        #expect(try words("return 200 ${host}x;") == ["return", "200", "${host}x"])
        #expect(try words("return 200 a${b}c;") == ["return", "200", "a${b}c"])
        guard case .blockStart(let w) = try tokens("location /x{").first else {
            Issue.record("expected a block")
            return
        }
        #expect(w == ["location", "/x"])
    }

    @Test func commentsAndLines() throws {
        var lexer = ConfigLexer(
            bytes: Array("# comment ; {\n\na # not this\n b;\n}".utf8), file: "t", isParameter: false)
        guard case .statement(let w) = try lexer.next() else {
            Issue.record("expected a statement")
            return
        }
        #expect(w == ["a", "b"])
        #expect(lexer.line == 4)
        guard case .blockDone = try lexer.next() else {
            Issue.record("expected }")
            return
        }
        #expect(lexer.line == 5)
    }

    @Test func quotedStringNeedsSeparator() {
        #expect(throws: ConfigError("unexpected \"x\"", file: "t.conf", line: 1)) { try self.tokens("a \"b\"x;") }
        #expect(throws: Never.self) { try self.tokens("a \"b\";") }
        #expect(throws: Never.self) { try self.tokens("a \"b\"{") }
    }

    @Test func endOfInput() {
        #expect(throws: ConfigError("unexpected end of file, expecting \";\" or \"}\"", file: "t.conf", line: 2)) {
            try self.tokens("a b\n")
        }
        var lexer = ConfigLexer(bytes: Array("a".utf8), file: "command line", isParameter: true)
        #expect(throws: ConfigError("unexpected end of parameter, expecting \";\"", file: "command line", line: 1)) {
            try lexer.next()
        }
    }

    @Test func crlfAndTabs() throws {
        #expect(try words("a\tb\r\n c;") == ["a", "b", "c"])
    }
}
