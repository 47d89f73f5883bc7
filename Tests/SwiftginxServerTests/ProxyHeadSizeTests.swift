// An upstream's response head may be as large as proxy_buffer_size: a 20 KB header
// field passes with `proxy_buffer_size 32k` (the head parser's own default limit is
// 8 KiB) and is nginx's "upstream sent too big header" 502 with the default size.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@testable import SwiftginxServer

@Suite struct ProxyHeadSizeTests {
    func harness(_ upstream: TestUpstream) throws -> Harness {
        try Harness(
            config: """
                daemon off;
                events {}
                http {
                    server {
                        listen 127.0.0.1:8080;
                        location /large/ { proxy_pass http://127.0.0.1:\(upstream.port); proxy_buffer_size 32k; }
                        location / { proxy_pass http://127.0.0.1:\(upstream.port); }
                    }
                }
                """)
    }

    static let answer =
        "HTTP/1.1 200 OK\r\nX-Big: \(String(repeating: "b", count: 20_000))\r\nContent-Length: 3\r\n\r\nok\n"

    func status(_ path: String) throws -> (Int?, String) {
        let up = try TestUpstream()
        let h = try harness(up)
        let c = try h.connect()
        c.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { up.acceptWaiting() > 0 && !up.readRequest().isEmpty }
        up.answer(Self.answer)
        h.run {
            c.read()
            return !c.statuses.isEmpty
        }
        return (c.statuses.first, h.errorLog)
    }

    @Test func aHeadUpToProxyBufferSizePasses() throws {
        let (status, _) = try status("/large/x")
        #expect(status == 200)
    }

    @Test func aHeadBeyondItIsTooBig() throws {
        let (status, log) = try status("/x")
        #expect(status == 502)
        #expect(log.contains("upstream sent too big header while reading response header from upstream"))
    }
}
