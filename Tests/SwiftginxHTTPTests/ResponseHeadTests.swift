// Unit tests of ResponseHead: header lookup, reset keeping capacity, interim status.

import Testing

@testable import SwiftginxHTTP

@Suite struct ResponseHeadTests {
    @Test func headerLookup() {
        let bytes = Array(
            "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nContent-Type: text/html\r\n\r\n".utf8)
        var p = ResponseParser()
        var h = ResponseHead()
        #expect(bytes.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        bytes.withUnsafeBytes { buf in
            #expect(bytes.string(h.header("set-cookie", in: buf)) == "a=1")
            #expect(bytes.string(h.header(Array("content-type".utf8), in: buf)) == "text/html")
            #expect(h.header("location", in: buf) == nil)
        }
    }

    @Test func resetKeepsCapacity() {
        var h = ResponseHead()
        h.headers.reserveCapacity(64)
        h.headers.append(HeaderField(name: 0..<1, value: 2..<3))
        h.status = 404
        h.contentLength = 7
        h.isChunked = true
        h.keepAlive = true
        h.connectionUpgrade = true
        h.headLength = 9
        let cap = h.headers.capacity
        h.reset()
        #expect(h.headers.isEmpty && h.headers.capacity == cap)
        #expect(h.status == 0 && h.contentLength == nil && !h.isChunked && !h.keepAlive && !h.connectionUpgrade)
        #expect(h.headLength == 0 && h.reason == 0..<0 && h.version == .http11)
    }

    @Test func informational() {
        var h = ResponseHead()
        for (status, interim) in [(100, true), (101, true), (103, true), (199, true), (200, false), (304, false)] {
            h.status = status
            #expect(h.isInformational == interim, "\(status)")
        }
    }
}
