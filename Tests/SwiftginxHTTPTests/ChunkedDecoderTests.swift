// Unit tests of ChunkedDecoder: valid bodies in any split, and each strict rule.

import Testing

@testable import SwiftginxHTTP

@Suite struct ChunkedDecoderTests {
    enum Result: Equatable {
        case body([UInt8], consumed: Int)
        case incomplete([UInt8])
        case error
    }

    /// Decodes `text` fed in pieces of `step` bytes.
    func decode(_ bytes: [UInt8], step: Int = Int.max) -> Result {
        var dec = ChunkedDecoder()
        var body: [UInt8] = []
        var buf: [UInt8] = []
        var offset = 0
        var fed = 0
        while true {
            let n = min(step, bytes.count - fed)
            buf += bytes[fed..<(fed + n)]
            fed += n
            inner: while true {
                let s = buf.withUnsafeBytes { dec.next($0, offset: &offset) }
                switch s {
                case .data(let r): body += buf[r]
                case .needMore: break inner
                case .done: return .body(body, consumed: offset)
                case .error(let e):
                    #expect(e == .badRequest("client sent invalid chunked body"))
                    return .error
                }
            }
            if fed == bytes.count { return .incomplete(body) }
        }
    }

    func decodeAllWays(_ text: String) -> Result {
        let bytes = Array(text.utf8)
        let whole = decode(bytes)
        #expect(decode(bytes, step: 1) == whole, "\(text.debugDescription) byte by byte")
        #expect(decode(bytes, step: 3) == whole, "\(text.debugDescription) by 3")
        return whole
    }

    /// `keepsTrailers`: the trailer section's field lines are kept (split anywhere);
    /// by default nothing is.
    @Test func keptTrailers() {
        let bytes = Array("3\r\nabc\r\n0\r\nX-A: 1\r\nX-B: two\r\n\r\n".utf8)
        for split in 1...bytes.count {
            var dec = ChunkedDecoder()
            dec.keepsTrailers = true
            for part in [Array(bytes[..<split]), Array(bytes[split...])] {
                var offset = 0
                loop: while true {
                    switch part.withUnsafeBytes({ dec.next($0, offset: &offset) }) {
                    case .data: continue
                    default: break loop
                    }
                }
            }
            #expect(dec.isDone)
            #expect(dec.trailerSection == Array("X-A: 1\r\nX-B: two\r\n".utf8))
        }
        var plain = ChunkedDecoder()
        var offset = 0
        while case .data = bytes.withUnsafeBytes({ plain.next($0, offset: &offset) }) {}
        #expect(plain.isDone && plain.trailerSection.isEmpty)
    }

    @Test func validBodies() {
        #expect(decodeAllWays("5\r\nhello\r\n0\r\n\r\nNEXT") == .body(Array("hello".utf8), consumed: 15))
        #expect(
            decodeAllWays("A\r\n0123456789\r\n1;a=b\r\nx\r\n0\r\n\r\n")
                == .body(Array("0123456789x".utf8), consumed: 30))
        #expect(decodeAllWays("0005\r\nHELLO\r\n000\r\n\r\n") == .body(Array("HELLO".utf8), consumed: 20))
        #expect(
            decodeAllWays("5 ; name = \"v;\\\"x\" ; n2\r\nHELLO\r\n0\r\n\r\n")
                == .body(Array("HELLO".utf8), consumed: 37))
        #expect(decodeAllWays("0\r\nX-T: 1\r\nContent-Length: 5\r\n\r\n") == .body([], consumed: 32))
        #expect(decodeAllWays("3\r\nab") == .incomplete(Array("ab".utf8)))
    }

    @Test func invalidSizes() {
        for bad in [
            "\r\n", "0x5\r\nHELLO\r\n0\r\n\r\n", "+5\r\nHELLO\r\n", "-5\r\n", " 5\r\nHELLO\r\n", "5 \r\nHELLO\r\n",
            "5\t\r\nHELLO\r\n", "g\r\n", "5_0\r\n", "10000000000000005\r\nHELLO\r\n", "8000000000000000\r\n",
        ] {
            #expect(decodeAllWays(bad) == .error, "\(bad.debugDescription)")
        }
        // the largest size that fits is accepted (as a header); the body then never ends
        #expect(decodeAllWays("7fffffffffffffff\r\nab") == .incomplete(Array("ab".utf8)))
    }

    @Test func lineEndingsAndDataTerminator() {
        for bad in [
            "5\nHELLO\r\n0\r\n\r\n", "5\rHELLO\r\n", "5\r\nHELLOXX0\r\n\r\n", "5\r\nHELLO\n0\r\n\r\n",
            "5\r\nHELLO\r\n0\r\n\n", "0\r\nX: 1\n\r\n", "0\r\n\r\r\n",
        ] {
            #expect(decodeAllWays(bad) == .error, "\(bad.debugDescription)")
        }
    }

    @Test func extensions() {
        for bad in [
            "5;x\nHELLO\r\n", "5;x\rHELLO\r\n", "5;\r\nHELLO\r\n", "5;x=\r\nHELLO\r\n", "5;x=\"a\r\nHELLO\r\n",
            "5;x=a \r\nHELLO\r\n", "5;x \r\n", "5;x=\"a\" \r\n", "5;(\r\n", "5;x=a\u{01}\r\n",
        ] {
            #expect(decodeAllWays(bad) == .error, "\(bad.debugDescription)")
        }
        let long = "1;" + String(repeating: "a", count: ChunkedDecoder.maxSizeLine) + "\r\nx\r\n0\r\n\r\n"
        #expect(decode(Array(long.utf8)) == .error)
        let fits = "1;" + String(repeating: "a", count: ChunkedDecoder.maxSizeLine - 3) + "\r\nx\r\n0\r\n\r\n"
        #expect(decode(Array(fits.utf8)) == .body(Array("x".utf8), consumed: fits.utf8.count))
    }

    @Test func trailers() {
        for bad in ["0\r\n X: 1\r\n\r\n", "0\r\nX : 1\r\n\r\n", "0\r\n: 1\r\n\r\n", "0\r\nX: \u{00}\r\n\r\n"] {
            #expect(decodeAllWays(bad) == .error, "\(bad.debugDescription)")
        }
        let big = "0\r\n" + String(repeating: "X: 1234567890\r\n", count: 1000) + "\r\n"
        #expect(decode(Array(big.utf8)) == .error)
    }

    /// Upstream responses use the same coding: gunicorn and uWSGI write "%X\r\n" sizes
    /// (upper-case hex), Daphne/Twisted lower-case; each is decoded byte by byte.
    @Test func upstreamChunkedResponses() {
        let gunicorn = "1A\r\n<!doctype html><title>xy\r\n\r\nD\r\n</title></h1>\r\n0\r\n\r\n"
        #expect(
            decodeAllWays(gunicorn)
                == .body(Array("<!doctype html><title>xy\r\n</title></h1>".utf8), consumed: gunicorn.utf8.count))
        let uwsgi = "D\r\nHello, world!\r\n1\r\n\n\r\n0\r\n\r\n"
        #expect(decodeAllWays(uwsgi) == .body(Array("Hello, world!\n".utf8), consumed: uwsgi.utf8.count))
        let payload = String(repeating: "0123456789abcdef", count: 20)  // 320 = 0x140 bytes
        let daphne = "140\r\n" + payload + "\r\n5\r\n{\"a\"}\r\n0\r\n\r\n"
        #expect(decodeAllWays(daphne) == .body(Array((payload + "{\"a\"}").utf8), consumed: daphne.utf8.count))
        // a whole response: head through ResponseParser, then the body, one byte at a time
        let response = Array(
            ("HTTP/1.1 200 OK\r\nServer: gunicorn\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                + "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n").utf8)
        var parser = ResponseParser()
        var head = ResponseHead()
        var received: [UInt8] = []
        var dec = ChunkedDecoder()
        var body: [UInt8] = []
        var offset = -1
        var done = false
        for byte in response {
            received.append(byte)
            if offset < 0 {
                let r = received.withUnsafeBytes { parser.parse($0, into: &head) }
                if r == .incomplete { continue }
                #expect(r == .complete && head.isChunked)
                offset = head.headLength
            }
            inner: while true {
                switch received.withUnsafeBytes({ dec.next($0, offset: &offset) }) {
                case .data(let r): body += received[r]
                case .needMore: break inner
                case .done:
                    done = true
                    break inner
                case .error(let e): Issue.record("\(e)")
                }
            }
        }
        #expect(done && body == Array("hello, world".utf8) && offset == response.count)
    }

    @Test func stateAfterEnd() {
        var dec = ChunkedDecoder()
        let b = Array("0\r\n\r\n".utf8)
        var off = 0
        #expect(b.withUnsafeBytes { dec.next($0, offset: &off) } == .done)
        #expect(dec.isDone && off == 5)
        #expect(b.withUnsafeBytes { dec.next($0, offset: &off) } == .done)
        var bad = ChunkedDecoder()
        var o2 = 0
        let x = Array("z".utf8)
        #expect(x.withUnsafeBytes { bad.next($0, offset: &o2) } != .done)
        #expect(
            x.withUnsafeBytes { bad.next($0, offset: &o2) } == .error(.badRequest("client sent invalid chunked body")))
    }
}
