// URIEscape against nginx's escape tables and its redirect unescaping.

import Testing

@testable import SwiftginxHTTP

@Suite struct URIEscapeTests {
    func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    @Test func uriTable() {
        #expect(text(URIEscape.uri.escaped(Array("/dir sp/".utf8))) == "/dir%20sp/")
        #expect(
            text(URIEscape.uri.escaped(Array("/auto \"#%<>?\\^`{|}".utf8)))
                == "/auto%20%22%23%25%3C%3E%3F%5C%5E%60%7B%7C%7D")
        #expect(text(URIEscape.uri.escaped(Array("/a:b@c!$&'()*+,;=".utf8))) == "/a:b@c!$&'()*+,;=")
        #expect(text(URIEscape.uri.escaped([0x01, 0x7F, 0xD1])) == "%01%7F%D1")
        #expect(URIEscape.uri.count(in: Array("/plain".utf8)) == 0)
    }

    @Test func argsAndComponentTables() {
        #expect(text(URIEscape.args.escaped(Array("/a%b&c+d;e".utf8))) == "/a%25b%26c%2Bd%3Be")
        #expect(text(URIEscape.uriComponent.escaped(Array("a:b/c?d".utf8))) == "a%3Ab%2Fc%3Fd")
        #expect(text(URIEscape.uriComponent.escaped(Array("A-z_0.9~".utf8))) == "A-z_0.9~")
    }

    @Test func redirectUnescaping() {
        func u(_ s: String) -> String { text(URIEscape.unescapeRedirect(Array(s.utf8))) }
        #expect(u("http%3A%2F%2Fexample.com%2F%3Ffrom") == "http://example.com/?from")
        // Control bytes stay escaped: no header splitting.
        #expect(u("http%3A%2F%2Fexample.com%0D%0Asplit") == "http://example.com%0D%0Asplit")
        // Unescaping stops at the first '?'.
        #expect(u("/a%20b%41?c%41d") == "/a%20bA?c%41d")
        #expect(u("/a%3Fb%3Dc") == "/a?b%3Dc")
        #expect(u("/a%25b") == "/a%25b")
        #expect(u("/bad%zz") == "/badzz")
    }

    /// Any bytes: no trap, and escaping then unescaping a path gives it back.
    @Test func arbitraryBytes() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0..<40, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            _ = URIEscape.unescapeRedirect(bytes)
            let path = bytes.filter { $0 != UInt8(ascii: "?") }
            let escaped = URIEscape.uri.escaped(path)
            #expect(escaped.allSatisfy { $0 > 0x20 && $0 < 0x7F })
        }
    }
}
