// Unit tests of ResponseParser's fast paths: the 8-byte name scan (`nonNameBytes`)
// against the byte rule for every byte value at every position, names with the rarer
// tchars and with bytes that must stop the scan, and the single-token Connection values
// and Content-Length digits read without the general code, and the note that a field may
// be an X-Accel-* one. Each head is parsed whole, byte by byte and split at every offset
// (ResponseSnapshot.allWays).

import Testing

@testable import SwiftginxHTTP

@Suite struct ResponseParserFastPathTests {
    /// The scalar rule the word scan must match: an ASCII letter, digit or '-'.
    static func isNameByte(_ c: UInt8) -> Bool {
        (c | 0x20) &- 0x61 < 26 || c &- 0x30 < 10 || c == 0x2D
    }

    @Test func nameScanMatchesTheByteRuleForEveryByte() {
        for position in 0..<8 {
            for value in 0...255 {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 8)
                bytes[position] = UInt8(value)
                let w = bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
                let m = ResponseParser.nonNameBytes(w)
                for i in 0..<8 {
                    let flagged = (m >> UInt64(i * 8 + 7)) & 1 == 1
                    #expect(flagged == !Self.isNameByte(bytes[i]), "byte \(value) at \(position), lane \(i)")
                }
                #expect(m & ~0x8080_8080_8080_8080 == 0)
            }
        }
    }

    @Test func namesOfEveryLengthAndShape() {
        // Long names (several words), rare tchars inside and after the first word, and
        // digits: all are fields, with their names kept whole.
        let names = [
            "X", "Ab", "Etag", "Content-Type", "Content-Length0", "X-Very-Long-Header-Name-Of-Many-Words",
            "X_Under", "Abcdefgh_ij", "Abcdefghij.k", "A!#$%&'*+-.^_`|~z", "X-Request-ID-1234567890",
        ]
        for name in names {
            let s = ResponseSnapshot.allWays("HTTP/1.1 200 OK\r\n\(name): v\r\nContent-Length: 0\r\n\r\n")
            #expect(s.result == .complete, "\(name)")
            #expect(s.headers.first == "\(name): v", "\(name)")
        }
    }

    @Test func bytesThatStopTheNameAreStillRefused() {
        // A space before the colon, a separator or obs-text in a long name: invalid, with
        // nginx's detail up to the offending byte.
        for (line, detail) in [
            ("Content-Type : x", "Content-Type\\x20..."),
            ("Content(Type: x", "Content\\x28..."),
            ("Abcdefghij\u{00E9}k: x", "Abcdefghij\\xc3..."),
            ("Abcdefgh\tX: x", "Abcdefgh\\x09..."),
        ] {
            let s = ResponseSnapshot.allWays("HTTP/1.1 200 OK\r\n\(line)\r\n\r\n")
            #expect(s.result == .error(.invalidHeader(detail)), "\(line)")
        }
    }

    @Test func connectionTokensReadDirectly() {
        func keepAlive(_ version: String, _ value: String) -> Bool {
            ResponseSnapshot.allWays("HTTP/\(version) 200 OK\r\nConnection: \(value)\r\nContent-Length: 0\r\n\r\n")
                .keepAlive
        }
        #expect(keepAlive("1.0", "keep-alive"))
        #expect(keepAlive("1.0", "Keep-Alive"))
        #expect(keepAlive("1.0", "KEEP-ALIVE"))
        #expect(!keepAlive("1.1", "close"))
        #expect(!keepAlive("1.1", "Close"))
        #expect(!keepAlive("1.1", "CLOSE"))
        #expect(keepAlive("1.1", "keep-alive"))
        // Look-alikes of the same length are other tokens, lists take the general path.
        #expect(keepAlive("1.1", "clos_"))
        #expect(!keepAlive("1.0", "keep_alive"))
        #expect(!keepAlive("1.1", "upgrade, close"))
        #expect(keepAlive("1.0", "Upgrade, keep-alive"))
        let upgrade = ResponseSnapshot.allWays(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(upgrade.upgrade)
    }

    @Test func xAccelFieldsAreNoted() {
        func noted(_ fields: String, kind: ResponseHeadKind = .http) -> Bool {
            var parser = ResponseParser()
            parser.kind = kind
            var head = ResponseHead()
            let text = (kind == .http ? "HTTP/1.1 200 OK\r\n" : "") + fields + "\r\n"
            let result = Array(text.utf8).withUnsafeBytes { parser.parse($0, into: &head) }
            #expect(result == .complete)
            return head.mayHaveXAccelField
        }
        #expect(noted("X-Accel-Redirect: /p\r\n"))
        #expect(noted("Content-Type: a/b\r\nx-accel-buffering: no\r\n"))
        #expect(noted("X-Accel-Expires: 5\r\nServer: s\r\n"))
        #expect(noted("X-Accel-Limit-Rate: 9\r\n"))
        #expect(noted("Status: 200\r\nX-Accel-Redirect: /p\r\n", kind: .cgi))
        #expect(!noted("X-Powered-By: x\r\nContent-Length: 0\r\n"))
        #expect(!noted("Transfer-Encoding: chunked\r\n"))
        #expect(!noted("Y-Accel-Redirect: /p\r\n"))
        // A new head forgets what the last one had.
        var parser = ResponseParser()
        var head = ResponseHead()
        _ = Array("HTTP/1.1 200 OK\r\nX-Accel-Redirect: /p\r\n\r\n".utf8).withUnsafeBytes {
            parser.parse($0, into: &head)
        }
        #expect(head.mayHaveXAccelField)
        parser.reset()
        _ = Array("HTTP/1.1 200 OK\r\nServer: s\r\n\r\n".utf8).withUnsafeBytes { parser.parse($0, into: &head) }
        #expect(!head.mayHaveXAccelField)
    }

    @Test func contentLengthDigits() {
        func length(_ value: String) -> ResponseParseResult {
            ResponseSnapshot.allWays("HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\n").result
        }
        #expect(ResponseSnapshot.allWays("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n").contentLength == 1024)
        #expect(
            ResponseSnapshot.allWays("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n").contentLength
                == 999_999_999_999_999_999)
        #expect(
            ResponseSnapshot.allWays("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n").contentLength
                == Int64.max)
        #expect(length("9223372036854775808") == .error(.invalidContentLength("Content-Length: 9223372036854775808")))
        #expect(length("12a") == .error(.invalidContentLength("Content-Length: 12a")))
        #expect(length("+1") == .error(.invalidContentLength("Content-Length: +1")))
    }
}
