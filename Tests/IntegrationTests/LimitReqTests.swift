// nginx's limit_req module over real sockets: requests beyond the rate and burst are
// refused with limit_req_status and nginx's log line (the refused ones not counted),
// requests within the burst are delayed on a timer (not a sleeping thread: another
// connection is served meanwhile) unless nodelay, dry run only logs, and
// $limit_req_status tells which.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct LimitReqTests {
    func start() throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    limit_req_zone $binary_remote_addr zone=one:1m rate=2r/s;
                    limit_req_zone $binary_remote_addr zone=slow:1m rate=30r/m;
                    limit_req_zone $binary_remote_addr zone=dry:1m rate=1r/m;
                    limit_req_zone $binary_remote_addr zone=held:1m rate=1r/m;
                    log_format lr '$uri $status $limit_req_status';
                    access_log logs/access.log lr;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /fast/ { limit_req zone=one burst=1 nodelay; limit_req_status 429; }
                        location /delay/ { limit_req zone=slow burst=2 delay=1; add_header X-Time $request_time; }
                        location /dry/ { limit_req zone=dry; limit_req_dry_run on; }
                        location /free/ { }
                        location /held/ { limit_req zone=held burst=5; }
                    }
                }
                """,
            files: [
                "html/fast/f.txt": "fast\n", "html/delay/f.txt": "delay\n", "html/dry/f.txt": "dry\n",
                "html/free/f.txt": "free\n", "html/held/f.txt": "held\n",
            ])
        try s.start()
        return s
    }

    @Test func overTheBurstIsRefusedAndNotCounted() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/fast/f.txt").status == 200)
        #expect(try get(s.port, "/fast/f.txt").status == 200)
        #expect(try get(s.port, "/fast/f.txt").status == 429)
        // The excess is 2 (or a little less, as time passed) when the third one comes.
        #expect(s.waitForFile("logs/error.log", containing: "limiting requests, excess: "))
        #expect(s.waitForFile("logs/error.log", containing: "by zone \"one\", client: 127.0.0.1"))
        #expect(s.waitForFile("logs/access.log", containing: "/fast/f.txt 429 REJECTED"))
        #expect(s.waitForFile("logs/access.log", containing: "/fast/f.txt 200 PASSED"))
        // A location without limit_req has no status.
        #expect(try get(s.port, "/free/f.txt").status == 200)
        #expect(s.waitForFile("logs/access.log", containing: "/free/f.txt 200 -"))
    }

    /// As nginx's reading test during the delay: a client that closes ends its delayed
    /// request at once (499), not when the delay (a minute here) is over.
    @Test func aClientClosingDuringTheDelayEndsTheRequest() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/held/f.txt").status == 200)
        let c = try RawClient(port: s.port)
        try c.send("GET /held/f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(s.waitForFile("logs/error.log", containing: "delaying request"))
        c.close()
        #expect(s.waitForFile("logs/access.log", containing: "/held/f.txt 499 DELAYED"))
        #expect(s.waitForFile("logs/error.log", containing: "client prematurely closed connection"))
    }

    @Test func withinTheBurstIsDelayedWithoutBlockingOthers() throws {
        let s = try start()
        defer { s.stop() }
        let first = try get(s.port, "/delay/f.txt")
        #expect(first.header("X-Time") == "0.000")
        #expect(try get(s.port, "/delay/f.txt").header("X-Time") == "0.000")
        // The third is over delay=1: it waits about two seconds (30r/m)...
        let c = try RawClient(port: s.port)
        try c.send("GET /delay/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        usleep(200_000)
        // ...while the worker goes on serving others (the fourth is over the burst).
        #expect(try get(s.port, "/delay/f.txt").status == 503)
        #expect(try get(s.port, "/free/f.txt").status == 200)
        let delayed = try c.readResponse()
        #expect(delayed.status == 200)
        #expect(delayed.header("X-Time") != "0.000")
        #expect(delayed.bodyText == "delay\n")
        #expect(s.waitForFile("logs/error.log", containing: "[warn]"))
        #expect(s.waitForFile("logs/error.log", containing: "delaying request, excess: "))
        #expect(s.waitForFile("logs/error.log", containing: ", by zone \"slow\""))
        #expect(s.waitForFile("logs/access.log", containing: "/delay/f.txt 200 DELAYED"))
    }

    @Test func dryRunOnlyLogs() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/dry/f.txt").status == 200)
        #expect(try get(s.port, "/dry/f.txt").status == 200)
        #expect(s.waitForFile("logs/error.log", containing: "limiting requests, dry run, excess: "))
        #expect(s.waitForFile("logs/error.log", containing: " by zone \"dry\""))
        #expect(s.waitForFile("logs/access.log", containing: "/dry/f.txt 200 REJECTED_DRY_RUN"))
    }

    @Test func aReloadThatKeepsTheZoneKeepsItsState() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/fast/f.txt").status == 200)
        #expect(try get(s.port, "/fast/f.txt").status == 200)
        let config = s.read("conf/swiftginx.conf")
        try s.writeConfig(
            config.replacingOccurrences(of: "root html;", with: "root html; add_header X-Generation two always;"))
        s.signal(SIGHUP)
        var afterReload: HTTPResponse? = nil
        for _ in 0..<50 {
            let r = try get(s.port, "/fast/f.txt")
            if r.header("X-Generation") == "two" {
                afterReload = r
                break
            }
            usleep(10_000)
        }
        // Still over the burst: the state was kept.
        #expect(try #require(afterReload, "the reload did not take effect").status == 429)
    }

    @Test func aReloadThatChangesAZoneKeyIsRefused() throws {
        let s = try start()
        defer { s.stop() }
        let config = s.read("conf/swiftginx.conf")
        try s.writeConfig(
            config.replacingOccurrences(
                of: "limit_req_zone $binary_remote_addr zone=one:1m", with: "limit_req_zone $uri zone=one:1m"))
        s.signal(SIGHUP)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing:
                    "limit_req \"one\" uses the \"$uri\" key while previously it used the \"$binary_remote_addr\" key"))
        #expect(try get(s.port, "/free/f.txt").status == 200)
    }
}
