// nginx's limit_conn module over real sockets: requests in progress per key (here the
// client address) are capped while a slow proxied request holds its place, the refused
// one gets 503 (or limit_conn_status) with nginx's log line, the place is given back
// when the request ends (so a keep-alive connection's sequential requests all pass),
// dry run only logs, and $limit_conn_status reports what happened.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct LimitConnTests {
    func start(_ b: EchoBackend) throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    limit_conn_zone $binary_remote_addr zone=addr:1m;
                    log_format lc '$uri $status $limit_conn_status';
                    access_log logs/access.log lc;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /slow/ { limit_conn addr 1; proxy_pass http://127.0.0.1:\(b.port)/slow?ms=1500; }
                        location /files/ { limit_conn addr 1; }
                        location /teapot/ {
                            limit_conn addr 1;
                            limit_conn_status 429;
                            limit_conn_log_level warn;
                            proxy_pass http://127.0.0.1:\(b.port)/slow?ms=1500;
                        }
                        location /dry/ { limit_conn addr 1; limit_conn_dry_run on; }
                    }
                }
                """, files: ["html/files/f.txt": "file\n", "html/dry/f.txt": "dry\n"])
        try s.start()
        return s
    }

    /// Sends a request on a new connection and leaves it in progress.
    func startSlow(_ port: Int, _ path: String) throws -> RawClient {
        let c = try RawClient(port: port)
        try c.send("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        usleep(300_000)
        return c
    }

    @Test func aSecondRequestFromTheSameAddressIsRefusedWhileTheFirstIsInProgress() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let slow = try startSlow(s.port, "/slow/")
        // The slow request holds the address's one place in the zone.
        #expect(try get(s.port, "/files/f.txt").status == 503)
        #expect(s.waitForFile("logs/error.log", containing: "limiting connections by zone \"addr\", client: 127.0.0.1"))
        #expect(try slow.readResponse().status == 200)
        // Its place is given back when it ends.
        #expect(try get(s.port, "/files/f.txt").status == 200)
        #expect(s.waitForFile("logs/access.log", containing: "/files/f.txt 503 REJECTED"))
        #expect(s.waitForFile("logs/access.log", containing: "/files/f.txt 200 PASSED"))
    }

    @Test func sequentialRequestsOnAKeepAliveConnectionAllPass() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let c = try RawClient(port: s.port)
        for _ in 0..<4 {
            try c.send("GET /files/f.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try c.readResponse().status == 200)
        }
    }

    @Test func statusLogLevelAndDryRun() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let slow = try startSlow(s.port, "/teapot/")
        // The zone is per address, shared by every location that names it.
        let refused = try get(s.port, "/teapot/")
        #expect(refused.status == 429)
        #expect(s.waitForFile("logs/error.log", containing: "[warn]"))
        // Dry run: logged, let through.
        #expect(try get(s.port, "/dry/f.txt").bodyText == "dry\n")
        #expect(s.waitForFile("logs/error.log", containing: "limiting connections, dry run, by zone \"addr\""))
        #expect(s.waitForFile("logs/access.log", containing: "/dry/f.txt 200 REJECTED_DRY_RUN"))
        #expect(try slow.readResponse().status == 200)
    }

    @Test func aReloadThatKeepsTheZoneKeepsItsCounts() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let slow = try startSlow(s.port, "/slow/")
        // Reload the same configuration with a marker: the new generation serves, and the
        // zone (same size and key) still counts the slow request.
        let config = s.read("conf/swiftginx.conf")
        try s.writeConfig(
            config.replacingOccurrences(of: "root html;", with: "root html; add_header X-Generation two always;"))
        s.signal(SIGHUP)
        var afterReload: HTTPResponse? = nil
        for _ in 0..<50 {
            let r = try get(s.port, "/files/f.txt")
            if r.header("X-Generation") == "two" {
                afterReload = r
                break
            }
            usleep(10_000)
        }
        let r = try #require(afterReload, "the reload did not take effect")
        #expect(r.status == 503)
        #expect(try slow.readResponse().status == 200)
        #expect(try get(s.port, "/files/f.txt").status == 200)
    }

    @Test func anUndefinedZoneIsRefusedAsNginxDoes() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http { server { listen 127.0.0.1:PORT; location / { limit_conn nope 1; } } }
                """)
        let t = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(t.status == 1)
        #expect(t.stderr.contains("zero size shared memory zone \"nope\""))
        try s.writeConfig(
            """
            \(TestServer.preamble)
            http { limit_conn_zone $binary_remote_addr zone=a:1m; server { listen 127.0.0.1:PORT; location / { limit_conn a 0; } } }
            """)
        let zero = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(zero.stderr.contains("invalid number of connections \"0\""))
    }
}
