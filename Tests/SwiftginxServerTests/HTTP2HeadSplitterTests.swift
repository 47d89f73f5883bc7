// The trusted splitter that turns the server's own HTTP/1.1 response head into an
// HTTP/2 HEADERS frame's field list (HTTP2HeadSplitter): every byte but NUL, CR and LF
// in a value (nginx's h2_headers.t "all chars"), names lower-cased, the connection's
// fields left out, chunked framing recognized, and a head that does not split refused.

import Testing

@testable import SwiftginxServer

@Suite struct HTTP2HeadSplitterTests {
    /// Splits `head`; the status and the fields as (name, value) byte arrays, or nil.
    static func split(_ head: [UInt8], _ dropped: HTTP2HeadSplitter.Dropped = .response)
        -> (status: Int, chunked: Bool, fields: [([UInt8], [UInt8])])?
    {
        head.withUnsafeBytes { b in
            guard let (status, start) = HTTP2HeadSplitter.statusLine(b) else { return nil }
            var block: [UInt8] = []
            var offsets: [(name: Range<Int>, value: Range<Int>)] = []
            guard
                let chunked = HTTP2HeadSplitter.split(
                    b, from: start, dropping: dropped, into: &block, offsets: &offsets)
            else { return nil }
            return (status, chunked, offsets.map { (Array(block[$0.name]), Array(block[$0.value])) })
        }
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func everyByteButNULCRAndLFStaysInAValue() throws {
        let value: [UInt8] = Array(repeating: 97, count: 10) + Array(1...9) + [11, 12] + Array(14...255)
        let head =
            Self.bytes("HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Sent-Foo: ") + value
            + Self.bytes("\r\nContent-Length: 2\r\n\r\n")
        let r = try #require(Self.split(head))
        #expect(r.status == 200 && !r.chunked)
        #expect(r.fields.map(\.0) == ["server", "x-sent-foo", "content-length"].map(Self.bytes))
        #expect(r.fields[1].1 == value)
    }

    @Test func namesLowerCasedValuesTrimmed() throws {
        let r = try #require(Self.split(Self.bytes("HTTP/1.0 404\r\nX-A:  \tv w \t\r\nETag:\"x\"\r\nX-Empty:\r\n\r\n")))
        #expect(r.status == 404)
        #expect(r.fields.map(\.0) == ["x-a", "etag", "x-empty"].map(Self.bytes))
        #expect(r.fields.map(\.1) == ["v w", "\"x\"", ""].map(Self.bytes))
    }

    @Test func connectionFieldsAreLeftOut() throws {
        let head = Self.bytes(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nUpgrade: h2c\r\n"
                + "Proxy-Connection: close\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"
                + "Sec-WebSocket-Accept: x\r\nX-Kept: 1\r\n\r\n")
        let r = try #require(Self.split(head))
        #expect(r.chunked)
        #expect(r.fields.map(\.0) == ["content-length", "sec-websocket-accept", "x-kept"].map(Self.bytes))
        let t = try #require(Self.split(head, .responseAndLength))
        #expect(t.fields.map(\.0) == ["sec-websocket-accept", "x-kept"].map(Self.bytes))
        let w = try #require(Self.split(head, .tunnel))
        #expect(!w.chunked)
        #expect(w.fields.map(\.0) == ["proxy-connection", "x-kept"].map(Self.bytes))
    }

    @Test func headsThatDoNotSplitAreRefused() {
        for bad in [
            "HTTP/1.1 200 OK\r\nX-A: a\nb\r\n\r\n",  // a bare LF in a value
            "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n",  // a bare CR
            "HTTP/1.1 200 OK\r\nX-A: a\u{0}b\r\n\r\n",  // NUL
            "HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
            "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX A: space in a name\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX-A: unfinished\r\n",
            "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 200 OK\n\r\n",
        ] {
            #expect(Self.split(Self.bytes(bad)) == nil, "\(bad.debugDescription)")
        }
    }

    @Test func splitAtEveryLengthNeverReadsPastTheHead() {
        // Truncated heads (the splitter only ever sees whole heads, but must not trap).
        let head = Self.bytes("HTTP/1.1 200 OK\r\nX-A: 1\r\nConnection: close\r\n\r\n")
        for n in 0..<head.count { #expect(Self.split(Array(head[..<n])) == nil) }
        #expect(Self.split(head) != nil)
    }
}
