// `early_hints`: an upstream's 103 answer reaches an HTTP/1.1 client before the final
// answer when the location's condition is true ("HTTP/1.1 103 Early Hints", the
// upstream's fields less the hidden ones), and not when it is "0", nor to an HTTP/1.0
// client, nor without the directive.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@testable import SwiftginxServer

@Suite struct EarlyHintsTests {
    func harness(_ upstream: TestUpstream) throws -> Harness {
        try Harness(
            config: """
                daemon off;
                events {}
                http {
                    server {
                        listen 127.0.0.1:8080;
                        early_hints $arg_hints;
                        location / { proxy_pass http://127.0.0.1:\(upstream.port); }
                        location /none/ { proxy_pass http://127.0.0.1:\(upstream.port); early_hints 0 ""; }
                    }
                }
                """)
    }

    static let answer =
        "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\nServer: hidden\r\n\r\n"
        + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"

    func exchange(_ request: String) throws -> String {
        let up = try TestUpstream()
        let h = try harness(up)
        let c = try h.connect()
        c.send(request)
        h.run { up.acceptWaiting() > 0 && !up.readRequest().isEmpty }
        up.answer(Self.answer)
        h.run {
            c.read()
            return c.text.hasSuffix("ok\n")
        }
        return c.text
    }

    @Test func hintsGoFirstWhenTheConditionIsTrue() throws {
        let text = try exchange("GET /a?hints=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(
            text.hasPrefix("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n"))
        #expect(!text.contains("Server: hidden"))
        #expect(text.hasSuffix("ok\n"))
    }

    @Test func noHintsOtherwise() throws {
        for request in [
            "GET /a?hints=0 HTTP/1.1\r\nHost: x\r\n\r\n", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /a?hints=1 HTTP/1.0\r\nHost: x\r\n\r\n", "GET /none/?hints=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        ] {
            let text = try exchange(request)
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(request)")
            #expect(!text.contains("103"))
        }
    }
}
