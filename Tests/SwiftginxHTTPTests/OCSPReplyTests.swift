// OCSPReply, the parser of OCSP responders' answers (OCSP stapling): the answers nginx
// accepts and refuses, every prefix of a valid answer, and random and mutated bytes
// (it must never trap, and a longer input never undoes a complete head).

import Testing

@testable import SwiftginxHTTP

@Suite struct OCSPReplyTests {
    static let valid = Array(
        "HTTP/1.0 200 OK\r\nContent-Type: application/ocsp-response\r\nContent-Length: 4\r\n\r\nDER!".utf8)

    @Test func aValidAnswerAndEachOfItsPrefixes() {
        #expect(OCSPReply.parse(Self.valid) == .complete(status: 200, body: Array("DER!".utf8)))
        let headEnd = Self.valid.count - 4
        for k in 0..<headEnd {
            #expect(OCSPReply.parse(Array(Self.valid[..<k])) == .incomplete, "prefix of \(k) bytes")
        }
        for k in headEnd...Self.valid.count {
            #expect(
                OCSPReply.parse(Array(Self.valid[..<k]))
                    == .complete(status: 200, body: Array(Self.valid[headEnd..<k])))
        }
    }

    @Test func answersNginxRefusesOrAccepts() {
        func parse(_ text: String) -> OCSPReply { OCSPReply.parse(Array(text.utf8)) }
        // No Content-Type is accepted; bare LF line ends too; the reason phrase is optional.
        #expect(parse("HTTP/1.1 200\n\nx") == .complete(status: 200, body: [UInt8(ascii: "x")]))
        #expect(parse("HTTP/1.0 404 Not Found\r\n\r\n") == .complete(status: 404, body: []))
        #expect(
            parse("HTTP/1.0 200 OK\r\ncontent-type:  Application/OCSP-Response \r\n\r\n")
                == .complete(status: 200, body: []))
        #expect(parse("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n") == .invalidContentType("text/html"))
        for bad in [
            "XTTP/1.0 200 OK\r\n\r\n", "HTTP/1 200 OK\r\n\r\n", "HTTP/1.0 20 OK\r\n\r\n", "HTTP/1.0 2000\r\n\r\n",
            "HTTP/1.0 abc\r\n\r\n", "HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\nno colon here\r\n\r\n",
            "HTTP/1.0 200 OK\r\n: empty name\r\n\r\n", "HTTP/1.0 200 OK\r\nbad name: x\r\n\r\n", "GARBAGE",
        ] {
            #expect(parse(bad) == .invalid, "\(bad.debugDescription)")
        }
        #expect(parse("") == .incomplete)
        #expect(parse("HTT") == .incomplete)
    }

    @Test func randomAndMutatedBytesNeverTrap() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array("HTTP/1.0 200 OK\r\n:;-aZ \t\u{0}\u{FF}".utf8)
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = Self.valid
                for _ in 0..<(1 + Int(next() % 4)) where !bytes.isEmpty {
                    let i = Int(next() % UInt64(bytes.count))
                    switch next() % 3 {
                    case 0: bytes[i] = alphabet[Int(next() % UInt64(alphabet.count))]
                    case 1: bytes.remove(at: i)
                    default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: i)
                    }
                }
            } else {
                bytes = (0..<Int(next() % 96)).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            }
            let whole = OCSPReply.parse(bytes)
            // A complete head stays complete (same status) with more bytes after it.
            if case .complete(let status, let body) = whole {
                #expect(OCSPReply.parse(bytes + [0x41]) == .complete(status: status, body: body + [0x41]))
            }
        }
    }
}
