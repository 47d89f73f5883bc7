// The uwsgi, FastCGI and SCGI exchanges driven by the worker's loop without the binary:
// the request head each writes in place is byte for byte what the pure encoders of
// SwiftginxHTTP (UwsgiPacket, FastCGIRecord, SCGIRequest) make of the same parameters —
// `*_param` values, an empty `if_not_empty` one left out, a long value, repeated client
// headers joined, a header a param overrides left out — and a FastCGI answer that arrives
// one byte at a time, with STDERR between its STDOUT records, is relayed whole with the
// stderr text in the error log.

import Foundation
import Glibc
import SwiftginxHTTP
import Testing

@testable import SwiftginxServer

@Suite struct CGIExchangeTests {
    static let long = String(repeating: "v", count: 200)

    func harness(_ upstream: TestUpstream, _ proto: String) throws -> Harness {
        try Harness(
            config: """
                daemon off;
                events {}
                http {
                    server {
                        listen 127.0.0.1:8080;
                        location / {
                            \(proto)_pass 127.0.0.1:\(upstream.port);
                            \(proto)_param A $arg_a;
                            \(proto)_param EMPTY "" if_not_empty;
                            \(proto)_param LONG \(Self.long);
                            \(proto)_param HTTP_X_OVER over;
                        }
                    }
                }
                """)
    }

    /// Everything the upstream's newest connection has sent so far.
    func received(_ up: TestUpstream) -> [UInt8] {
        guard let a = up.accepted.last else { return [] }
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(a, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
            all += buffer[0..<n]
        }
        return all
    }

    static let request =
        "GET /x?a=1 HTTP/1.1\r\nHost: h\r\nCookie: a\r\nX-Over: client\r\nx-a: 1\r\nCookie: b\r\nX-A: 2\r\n\r\n"

    static let params: [(key: [UInt8], value: [UInt8])] = [
        ("A", "1"), ("LONG", long), ("HTTP_X_OVER", "over"), ("HTTP_HOST", "h"), ("HTTP_COOKIE", "a; b"),
        ("HTTP_X_A", "1, 2"),
    ].map { (Array($0.0.utf8), Array($0.1.utf8)) }

    func upstreamBytes(_ proto: String) throws -> [UInt8] {
        let up = try TestUpstream()
        let h = try harness(up, proto)
        let c = try h.connect()
        c.send(Self.request)
        var bytes: [UInt8] = []
        h.run {
            up.acceptWaiting()
            bytes += received(up)
            switch proto {
            case "fastcgi": return bytes.suffix(8) == [1, 5, 0, 1, 0, 0, 0, 0]
            case "scgi": return bytes.last == UInt8(ascii: ",")
            default: return bytes.count >= 4 && bytes.count == 4 + Int(bytes[1]) + Int(bytes[2]) << 8
            }
        }
        return bytes
    }

    @Test func fastcgiHeadIsTheEncodersOwn() throws {
        var expected: [UInt8] = []
        #expect(FastCGIRecord.appendRequestStart(params: Self.params, keepConnection: false, to: &expected) == nil)
        expected += [1, 5, 0, 1, 0, 0, 0, 0]
        #expect(try upstreamBytes("fastcgi") == expected)
    }

    @Test func scgiHeadIsTheEncodersOwn() throws {
        var expected: [UInt8] = []
        SCGIRequest.append(contentLength: 0, params: Self.params, to: &expected)
        #expect(try upstreamBytes("scgi") == expected)
    }

    @Test func uwsgiPacketIsTheEncodersOwn() throws {
        var expected: [UInt8] = []
        #expect(UwsgiPacket.append(params: Self.params, modifier1: 0, modifier2: 0, to: &expected))
        let got = try upstreamBytes("uwsgi")
        #expect(
            got == expected, "\(got.count) \(expected.count) \(Array(got.prefix(40))) \(Array(expected.prefix(40)))")
    }

    @Test func aFastCGIAnswerByteByByte() throws {
        let up = try TestUpstream()
        let h = try harness(up, "fastcgi")
        let c = try h.connect()
        c.send("GET /x HTTP/1.1\r\nHost: h\r\n\r\n")
        h.run {
            up.acceptWaiting()
            return received(up).suffix(8) == [1, 5, 0, 1, 0, 0, 0, 0]
        }
        func record(_ type: UInt8, _ content: String, padding: Int = 0) -> [UInt8] {
            let b = Array(content.utf8)
            return [1, type, 0, 1, UInt8(b.count >> 8), UInt8(b.count & 0xFF), UInt8(padding), 0] + b
                + [UInt8](repeating: 0, count: padding)
        }
        // Byte by byte, except the STDERR record (nginx logs each piece that arrives).
        let first = record(6, "Status: 201 Made\r\nX-Fr", padding: 3)
        let rest =
            record(6, "om: app\r\n\r\nhel") + record(6, "lo") + record(6, "")
            + [1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let pieces = first.map { [$0] } + [record(7, "careful.\n")] + rest.map { [$0] }
        for piece in pieces {
            let a = up.accepted.last!
            _ = piece.withUnsafeBytes { send(a, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            h.turn()
            c.read()
        }
        let done = h.run {
            c.read()
            return c.text.hasSuffix("\r\n0\r\n\r\n")
        }
        #expect(done, "\(c.text)")
        // The chunks the client got (one per byte that came) spell the body.
        let body = c.text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            .components(separatedBy: "\r\n").enumerated().filter { $0.offset % 2 == 1 }.map(\.element).joined()
        #expect(body == "hello")
        #expect(c.statuses == [201])
        #expect(c.text.hasPrefix("HTTP/1.1 201 Made\r\n"))
        #expect(c.text.contains("\r\nX-From: app\r\n"))
        #expect(!c.text.contains("Status:"))
        #expect(h.errorLog.contains("FastCGI sent in stderr: \"careful\" while reading response header from upstream"))
    }
}
