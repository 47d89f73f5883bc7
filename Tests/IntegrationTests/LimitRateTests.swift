// limit_rate over real sockets: a rate-limited body arrives whole, the rate can come
// from variables and from `set $limit_rate`, and a client that goes away during a
// limit_rate pause is noticed at once (nginx's test_reading), not at the next write.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct LimitRateTests {
    func start() throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format r '$uri $status $limit_rate';
                    access_log logs/access.log r;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /var/ { limit_rate $arg_l; limit_rate_after $arg_a; }
                        location /slow/ { limit_rate 15; }
                    }
                }
                """,
            files: ["html/var/f.txt": String(repeating: "v", count: 5000)])
        try s.start()
        return s
    }

    @Test func aLimitedBodyArrivesWhole() throws {
        let s = try start()
        defer { s.stop() }
        // Limited after the first 4000 bytes: the rest waits for the next second.
        let r = try get(s.port, "/var/f.txt?l=2k&a=4000")
        #expect(r.body.count == 5000)
        #expect(s.waitForFile("logs/access.log", containing: "/var/f.txt 200 2048\n"))
        // An empty value is no limit.
        #expect(try get(s.port, "/var/f.txt").body.count == 5000)
        #expect(s.waitForFile("logs/access.log", containing: "/var/f.txt 200 0\n"))
    }

    @Test func aClientGoneDuringAPauseIsClosedAtOnce() throws {
        let s = try start()
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        // A 404 page at 15 bytes a second would take over ten seconds.
        try c.send("GET /slow/missing HTTP/1.0\r\n\r\n")
        usleep(300_000)
        c.close()
        #expect(s.waitForFile("logs/access.log", containing: "/slow/missing 404 15", timeout: 0.8))
        #expect(s.waitForFile("logs/error.log", containing: "client prematurely closed connection", timeout: 1))
    }
}
