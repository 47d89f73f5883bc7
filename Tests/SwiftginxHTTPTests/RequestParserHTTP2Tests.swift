// RequestParser on a head rebuilt from an HTTP/2 header list (`controlsInValues`): the
// stream has refused NUL, CR and LF already, and other control bytes in field values are
// taken, as nginx takes them over HTTP/2; an HTTP/1 head still refuses them.

import Testing

@testable import SwiftginxHTTP

@Suite struct RequestParserHTTP2Tests {
    @Test func controlsInValuesOnlyForHTTP2Heads() {
        let head = "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u{01}\u{0B}\u{7F}b\r\n\r\n"
        let (plain, _, _) = parseHead(head)
        #expect(plain == .error(.badRequest("client sent invalid header line")))
        var options = RequestParserOptions()
        options.controlsInValues = true
        let (r, h, b) = parseHead(head, options: options)
        #expect(r == .complete)
        #expect(b.string(h.headers[1].value) == "a\u{01}\u{0B}\u{7F}b")
    }
}
