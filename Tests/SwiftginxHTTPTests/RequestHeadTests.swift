// Unit tests of RequestHead's header lookup and HTTPMethod / HTTPVersion helpers.

import Testing

@testable import SwiftginxHTTP

@Suite struct RequestHeadTests {
    @Test func headerLookup() {
        let (r, h, b) = parseHead("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1\r\nx-forwarded-for: 2\r\n\r\n")
        #expect(r == .complete)
        b.withUnsafeBytes { buf in
            #expect(b.string(h.header("x-forwarded-for", in: buf)) == "1")
            #expect(b.string(h.header(Array("host".utf8), in: buf)) == "a")
            #expect(h.header("cookie", in: buf) == nil)
        }
    }

    @Test func methodAndVersion() {
        #expect(Array("DELETE".utf8).withUnsafeBytes { HTTPMethod.classify($0) } == .delete)
        #expect(Array("GETS".utf8).withUnsafeBytes { HTTPMethod.classify($0) } == .other)
        #expect(HTTPVersion.http11.isAtLeast11 && !HTTPVersion.http10.isAtLeast11)
    }
}
