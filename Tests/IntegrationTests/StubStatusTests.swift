// stub_status over real sockets, with two worker threads whose counts are summed:
// nginx's exact page (trailing spaces included) next to nginx-light's own, the counts
// advancing by exactly what was sent, idle keep-alive connections as Waiting, a head
// still arriving as Reading, a request waiting on a slow upstream as Writing, and the
// $connections_* variables in a `return` and in an access log.

import Foundation
import Glibc
import Testing

/// One stub_status page, parsed.
struct StubStatus: Equatable {
    var active = 0
    var accepts = 0
    var handled = 0
    var requests = 0
    var reading = 0
    var writing = 0
    var waiting = 0

    /// Parses nginx's exact format; nil when a byte differs.
    init?(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count == 5, lines[4].isEmpty, lines[1] == "server accepts handled requests",
            lines[0].hasPrefix("Active connections: "), lines[0].hasSuffix(" "),
            lines[2].hasPrefix(" "), lines[2].hasSuffix(" ")
        else { return nil }
        func number(_ s: Substring) -> Int? { s.allSatisfy(\.isNumber) ? Int(s) : nil }
        guard let a = number(lines[0].dropFirst(20).dropLast()) else { return nil }
        let counts = lines[2].dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: false)
        guard counts.count == 3, let ap = number(counts[0]), let hn = number(counts[1]), let rq = number(counts[2])
        else { return nil }
        let words = lines[3].split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 7, words[0] == "Reading:", words[2] == "Writing:", words[4] == "Waiting:",
            words[6].isEmpty, let rd = number(words[1]), let wr = number(words[3]), let wa = number(words[5])
        else { return nil }
        (active, accepts, handled, requests, reading, writing, waiting) = (a, ap, hn, rq, rd, wr, wa)
    }
}

@Suite(.serialized) struct StubStatusTests {
    static func config(backendPort: Int = 9) -> String {
        """
        daemon off;
        worker_processes 2;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 256; }
        http {
            log_format counts '$uri active=$connections_active reading=$connections_reading writing=$connections_writing waiting=$connections_waiting';
            access_log logs/access.log counts;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root html;
                location = /basic_status { stub_status; }
                location = /old_style { stub_status on; }
                location = /vars {
                    return 200 "$connections_active $connections_reading $connections_writing $connections_waiting\\n";
                }
                location /slow { proxy_pass http://127.0.0.1:\(backendPort)/slow?ms=1500; }
            }
            server {
                listen 127.0.0.1:PORT;
                server_name status.test;
                stub_status;
                location /files/ { }
            }
        }
        """
    }

    func start(backendPort: Int = 9) throws -> TestServer {
        let s = try TestServer(config: Self.config(backendPort: backendPort), files: ["html/files/a.txt": "a\n"])
        try s.start()
        return s
    }

    func status(_ port: Int, _ path: String = "/basic_status", host: String = "localhost") throws -> StubStatus {
        let r = try get(port, path, host: host)
        #expect(r.status == 200)
        guard let s = StubStatus(r.bodyText) else {
            throw TestFailure("not nginx's stub_status format: \(r.bodyText.debugDescription)")
        }
        return s
    }

    /// Polls until `check` holds for a page (connections close asynchronously); the last page.
    func waitForStatus(_ port: Int, _ check: (StubStatus) -> Bool) throws -> StubStatus {
        var last = try status(port)
        for _ in 0..<100 where !check(last) {
            usleep(20_000)
            last = try status(port)
        }
        return last
    }

    /// A baseline once the start-up probe (TestServer.start connects once, sending
    /// nothing) has been accepted by its worker and closed: every later connection
    /// makes at least one request.
    func settled(_ port: Int) throws -> StubStatus {
        try waitForStatus(port) { $0.active == 1 && $0.accepts - $0.requests == 1 }
    }

    @Test func thePageIsNginxsFormatWithTextPlain() throws {
        let s = try start()
        defer { s.stop() }
        for path in ["/basic_status", "/old_style"] {
            let r = try get(s.port, path)
            #expect(r.status == 200)
            #expect(r.header("Content-Type") == "text/plain")
            #expect(r.header("Content-Length") == String(r.body.count))
            #expect(StubStatus(r.bodyText) != nil, "\(r.bodyText.debugDescription)")
        }
        // The only connection is the one asking, and its request is being answered.
        let quiet = try waitForStatus(s.port) { $0.active == 1 && $0.waiting == 0 }
        #expect(quiet.active == 1 && quiet.reading == 0 && quiet.writing == 1 && quiet.waiting == 0)
        #expect(quiet.accepts == quiet.handled)
        let body = try get(s.port, "/basic_status").bodyText
        let digitsOut = body.replacingOccurrences(of: "[0-9]+", with: "N", options: .regularExpression)
        #expect(
            digitsOut
                == "Active connections: N \nserver accepts handled requests\n N N N \nReading: N Writing: N Waiting: N \n"
        )
        // HEAD: the head only; other methods: 405, as nginx.
        let head = try request(
            s.port, "HEAD /basic_status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.status == 200 && head.body.isEmpty)
        let post = try request(
            s.port, "POST /basic_status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab"
        )
        #expect(post.status == 405)
        // At server level it answers what no location matches; locations serve as before.
        #expect(StubStatus(try get(s.port, "/anything", host: "status.test").bodyText) != nil)
        #expect(try get(s.port, "/files/a.txt", host: "status.test").bodyText == "a\n")
    }

    @Test func acceptsHandledAndRequestsAdvanceByWhatWasSentOverBothWorkers() throws {
        let s = try start()
        defer { s.stop() }
        let before = try settled(s.port)
        // Six connections of one request each, one keep-alive connection with three
        // (two of them pipelined), one 404 and one rejected head.
        for _ in 0..<6 { #expect(try get(s.port, "/files/a.txt").status == 200) }
        let c = try RawClient(port: s.port)
        try c.send("GET /files/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        try c.send(
            "GET /files/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /missing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        #expect(try c.readResponse().status == 200)
        #expect(try c.readResponse().status == 404)
        #expect(try request(s.port, "BAD\r\n\r\n").status == 400)
        // A head cut short by the client is a request too, as in nginx.
        let cut = try RawClient(port: s.port)
        try cut.send("GET /files/a.txt HT")
        _ = try waitForStatus(s.port) { $0.reading == 1 }
        cut.close()
        let after = try waitForStatus(s.port) { $0.active == 1 }
        // + the status request's own connection and request.
        // + the status requests' own connections and requests (counted from the reply
        // that saw the cut head reading: one more than those since `before`).
        let polls = after.accepts - before.accepts - (6 + 1 + 1 + 1)
        #expect(polls >= 2)
        #expect(after.handled - before.handled == after.accepts - before.accepts)
        #expect(after.requests - before.requests == 6 + 3 + 1 + 1 + polls)
        #expect(after.active == 1 && after.reading == 0 && after.writing == 1 && after.waiting == 0)
    }

    @Test func idleKeepAliveConnectionsAreWaitingAndPartialHeadsReading() throws {
        let s = try start()
        defer { s.stop() }
        let before = try settled(s.port)
        // Twenty keep-alive connections, each after one request: spread over both workers.
        var idle: [RawClient] = []
        for _ in 0..<20 {
            let c = try RawClient(port: s.port)
            try c.send("GET /files/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(try c.readResponse().status == 200)
            idle.append(c)
        }
        // Two connections that have sent part of a head.
        var partial: [RawClient] = []
        for _ in 0..<2 {
            let c = try RawClient(port: s.port)
            try c.send("GET /files/a.txt HTTP/1.1\r\nHo")
            partial.append(c)
        }
        let busy = try waitForStatus(s.port) { $0.active == 23 && $0.reading == 2 }
        #expect(busy.active == 1 + 20 + 2)
        #expect(busy.waiting == 20)
        #expect(busy.reading == 2)
        #expect(busy.writing == 1)
        // Every connection since `before` (the status polls too) made one request,
        // except the two whose heads are still arriving.
        #expect(busy.accepts - before.accepts >= 20 + 2 + 1)
        #expect(busy.requests - before.requests == busy.accepts - before.accepts - 2)
        #expect(busy.handled == busy.accepts)
        // The partial heads finish: they are requests of their own.
        for c in partial {
            try c.send("st: localhost\r\n\r\n")
            #expect(try c.readResponse().status == 200)
        }
        let done = try waitForStatus(s.port) { $0.reading == 0 && $0.waiting == 22 }
        #expect(done.active == 23 && done.reading == 0 && done.writing == 1 && done.waiting == 22)
        #expect(done.requests - before.requests == done.accepts - before.accepts)
        for c in idle + partial { c.close() }
        let closed = try waitForStatus(s.port) { $0.active == 1 }
        #expect(closed.active == 1 && closed.waiting == 0 && closed.reading == 0 && closed.writing == 1)
    }

    @Test func aRequestWaitingOnASlowUpstreamIsWriting() throws {
        let b = try EchoBackend()
        let s = try start(backendPort: b.port)
        defer {
            s.stop()
            b.stop()
        }
        _ = try settled(s.port)
        let slow = try RawClient(port: s.port)
        try slow.send("GET /slow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let during = try waitForStatus(s.port) { $0.writing == 2 }
        #expect(during.active == 2 && during.writing == 2 && during.reading == 0 && during.waiting == 0)
        let r = try slow.readResponse()
        #expect(r.status == 200 && r.bodyText == "slow done\n")
        let after = try waitForStatus(s.port) { $0.active == 1 }
        #expect(after.writing == 1)
    }

    @Test func theConnectionVariablesInAReturnAndAnAccessLog() throws {
        let s = try start()
        defer { s.stop() }
        _ = try settled(s.port)
        let idle = try RawClient(port: s.port)
        try idle.send("GET /files/a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try idle.readResponse().status == 200)
        _ = try waitForStatus(s.port) { $0.waiting == 1 }
        #expect(try get(s.port, "/vars").bodyText == "2 0 1 1\n")
        #expect(s.waitForFile("logs/access.log", containing: "/vars active=2 reading=0 writing=1 waiting=1"))
        idle.close()
    }

    @Test func sameFormatAndHeadersAsNginx() throws {
        try requireNginx()
        let s = try start()
        defer { s.stop() }
        let (prefix, nginx) = try PrefixNginx.serving(
            """
            server {
                listen 127.0.0.1:PORT;
                location = /basic_status { stub_status; }
                location = /old_style { stub_status on; }
                location = /vars {
                    return 200 "$connections_active $connections_reading $connections_writing $connections_waiting\\n";
                }
            }
            """)
        defer {
            nginx.stop()
            prefix.cleanup()
        }
        for path in ["/basic_status", "/old_style"] {
            var reference = try get(nginx.port, path)
            for _ in 0..<100 where StubStatus(reference.bodyText)?.active != 1 {
                usleep(20_000)
                reference = try get(nginx.port, path)
            }
            let ours = try get(s.port, path)
            #expect(reference.status == ours.status)
            #expect(reference.header("Content-Type") == ours.header("Content-Type"))
            #expect(reference.header("Content-Length") == nil || ours.header("Content-Length") != nil)
            let shape = { (t: String) in t.replacingOccurrences(of: "[0-9]+", with: "N", options: .regularExpression) }
            #expect(shape(reference.bodyText) == shape(ours.bodyText))
            let n = try #require(StubStatus(reference.bodyText))
            let o = try waitForStatus(s.port) { $0.active == 1 }
            let theirs: [Int] = [n.active, n.reading, n.writing, n.waiting]
            #expect(theirs == [o.active, o.reading, o.writing, o.waiting])
            #expect(n.accepts == n.handled)
        }
        // (A connection the client just closed may still be counted for a moment by either
        // server: compare once both have settled, within a bound.)
        var pair = (try get(nginx.port, "/vars").bodyText, try get(s.port, "/vars").bodyText)
        for _ in 0..<50 where pair.0 != pair.1 {
            usleep(20_000)
            pair = (try get(nginx.port, "/vars").bodyText, try get(s.port, "/vars").bodyText)
        }
        #expect(pair.0 == pair.1)
        let post = "POST /basic_status HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        #expect(try request(nginx.port, post).status == (try request(s.port, post).status))
    }
}
