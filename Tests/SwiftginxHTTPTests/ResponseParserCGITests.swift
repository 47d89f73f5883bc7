// Unit tests of ResponseParser's CGI mode: FastCGI heads (no status line; `Status`,
// `Location` and the default 200), SCGI/uwsgi heads (an optional HTTP status line), nginx's
// "invalid status" error, each parsed whole, byte by byte and split at every offset.

import Testing

@testable import SwiftginxHTTP

@Suite struct ResponseParserCGITests {
    func parse(_ text: String, kind: ResponseHeadKind, cuts: [Int]? = nil) -> (ResponseParseResult, ResponseHead) {
        let bytes = Array(text.utf8)
        var parser = ResponseParser(maxHeadBytes: 4096)
        parser.kind = kind
        var head = ResponseHead()
        var result = ResponseParseResult.incomplete
        for n in (cuts ?? []) + [bytes.count] where n <= bytes.count {
            result = bytes[..<n].withUnsafeBytes { parser.parse($0, into: &head) }
            if result != .incomplete { break }
        }
        return (result, head)
    }

    /// Status, reason and header count, the same whole, byte by byte and split at every offset.
    func allWays(_ text: String, kind: ResponseHeadKind) -> (ResponseParseResult, Int, String, Int) {
        let bytes = Array(text.utf8)
        func summary(_ r: (ResponseParseResult, ResponseHead)) -> (ResponseParseResult, Int, String, Int) {
            (r.0, r.1.status, String(decoding: bytes[r.1.reason], as: UTF8.self), r.1.headers.count)
        }
        let whole = summary(parse(text, kind: kind))
        let bytewise = summary(parse(text, kind: kind, cuts: Array(0...bytes.count)))
        #expect(bytewise == whole, "byte by byte: \(text.debugDescription)")
        for cut in 0...bytes.count {
            #expect(summary(parse(text, kind: kind, cuts: [cut])) == whole, "split at \(cut)")
        }
        return whole
    }

    @Test func fastcgiHeads() {
        #expect(allWays("Content-Type: text/html\r\n\r\n", kind: .cgi) == (.complete, 200, "", 1))
        #expect(allWays("Location: http://x/\r\nContent-Type: a\r\n\r\n", kind: .cgi) == (.complete, 302, "", 2))
        #expect(allWays("Status: 404 Not Found\r\nLocation: /x\n\n", kind: .cgi) == (.complete, 404, "Not Found", 2))
        #expect(allWays("Status: 201\r\n\r\n", kind: .cgi) == (.complete, 201, "", 1))
        #expect(allWays("\r\n", kind: .cgi) == (.complete, 200, "", 0))
        // A status line is a malformed header line here, as in nginx.
        #expect(allWays("HTTP/1.1 200 OK\r\n\r\n", kind: .cgi).0 != .complete)
    }

    @Test func transferEncodingIsCheckedButDoesNotFrame() {
        for kind in [ResponseHeadKind.cgi, .statusLineOrCGI] {
            let (r, head) = parse("Transfer-Encoding: chunked\r\n\r\n", kind: kind)
            #expect(r == .complete && !head.isChunked)
            #expect(parse("Transfer-Encoding: gzip\r\n\r\n", kind: kind).0 == .error(.unknownTransferEncoding("gzip")))
        }
        #expect(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", kind: .http).1.isChunked)
    }

    @Test func invalidStatus() {
        let r = allWays("Status: OK\r\n\r\n", kind: .cgi)
        #expect(r.0 == .error(.invalidStatus("OK")))
        #expect(ResponseParseError.invalidStatus("OK").logMessage == "upstream sent invalid status \"OK\"")
        #expect(allWays("Status: 2\r\n\r\n", kind: .statusLineOrCGI).0 == .error(.invalidStatus("2")))
    }

    @Test func statusLineOrCGI() {
        #expect(
            allWays("HTTP/1.1 201 Created\r\nA: b\r\n\r\n", kind: .statusLineOrCGI) == (.complete, 201, "Created", 1))
        // With a status line, a Status field is just a field.
        #expect(allWays("HTTP/1.0 200 OK\r\nStatus: 500\r\n\r\n", kind: .statusLineOrCGI) == (.complete, 200, "OK", 1))
        #expect(allWays("Status: 503 Busy\r\n\r\n", kind: .statusLineOrCGI) == (.complete, 503, "Busy", 1))
        #expect(allWays("Location: /r\r\n\r\n", kind: .statusLineOrCGI) == (.complete, 302, "", 1))
        #expect(allWays("HTTX: y\r\n\r\n", kind: .statusLineOrCGI) == (.complete, 200, "", 1))
        // A plain HTTP parser still refuses a CGI head.
        #expect(allWays("Status: 200\r\n\r\n", kind: .http).0 == .error(.invalidStatusLine))
    }
}
