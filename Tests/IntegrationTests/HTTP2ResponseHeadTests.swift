// The answer's header fields over HTTP/2 carry what nginx sends: a client's field echoed
// by `add_header X-Sent-Foo $http_x_foo` with every byte but NUL, CR and LF
// (nginx's h2_headers.t "all chars"), and a decoded control byte of the URI in `$uri`,
// the same bytes an HTTP/1.1 client gets. A value the server cannot send as one field (a
// bare LF from the URI) is a 502, not a split field.

import Foundation
import Testing

@Suite(.serialized) struct HTTP2ResponseHeadTests {
    /// The bytes 1–255 but CR and LF, after 10 × "a" (as the suite's field, shorter).
    static let field: [UInt8] = Array(repeating: 97, count: 10) + Array(1...9) + [11, 12] + Array(14...255)

    static func latin1(_ bytes: [UInt8]) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    static func bytes(_ latin1: String) -> [UInt8] {
        latin1.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
    }

    @Test func fieldValuesCarryEveryByteButNULCRLF() throws {
        let s = try H2ConformanceServer.start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location / { add_header X-Sent-Foo $http_x_foo; add_header X-Uri $uri; return 200 "ok"; }
            }
            """)
        defer { s.stop() }
        let head = [[":method", "GET"], [":scheme", "http"], [":authority", "localhost"]]
        let out = try H2Script.run(
            s.port,
            [
                "requests": [
                    ["headers": head + [[":path", "/"], ["x-foo", Self.latin1(Self.field)]]],
                    ["headers": head + [[":path", "/a%01b%7F%C3%A9"]]],
                    ["headers": head + [[":path", "/a%0Ab"]]],
                ]
            ])
        let all = H2Script.stream(out, 1)
        #expect(all["status"] as? Int == 200, "\(out) \(s.read("logs/error.log"))")
        let echoed = (all["headers"] as? [[String]] ?? []).first { $0[0] == "x-sent-foo" }?[1]
        #expect(echoed.map(Self.bytes) == Self.field, "\(all)")
        #expect(all["data"] as? String == "ok")
        let uri = H2Script.stream(out, 3)
        #expect(uri["status"] as? Int == 200)
        let sent = (uri["headers"] as? [[String]] ?? []).first { $0[0] == "x-uri" }?[1]
        #expect(sent.map(Self.bytes) == Array("/a\u{1}b\u{7F}".utf8) + [0xC3, 0xA9], "\(uri)")
        // A bare LF cannot be sent inside one HTTP/2 field (RFC 9113 §8.2.1).
        #expect(H2Script.stream(out, 5)["status"] as? Int == 502, "\(out)")

        // HTTP/1.1 gets the same bytes in its head, as nginx writes them.
        let h1 = try RawClient(port: s.port)
        try h1.send(Array("GET /a%01b%7F HTTP/1.0\r\n\r\n".utf8))
        let answer = h1.readToEnd()
        #expect(answer.starts(with: Array("HTTP/1.1 200 OK\r\n".utf8)))
        let needle = Array("\r\nX-Uri: /a\u{1}b\u{7F}\r\n".utf8)
        #expect(
            (0...(answer.count - needle.count)).contains { Array(answer[$0..<$0 + needle.count]) == needle },
            "\(String(decoding: answer, as: UTF8.self))")
    }
}
