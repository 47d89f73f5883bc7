// An SSI page's includes over real sockets, as nginx runs them: side by side, their
// bodies in document order. A rendezvous upstream answers only once both includes'
// requests have reached it, and answers the second first: includes run one after the
// other would time out (504 pages in the answer). The page goes out as it is ready: its
// head and the text before a running include reach the client before that include has
// answered (the test itself is the rendezvous upstream's second request, sent only once
// it has read them). Includes larger than proxy_buffers (kept in a temporary file until
// they are next) come out whole and in order; a client that stops reading is timed out
// (send_timeout). And an include of a cached location whose entry is stale, with
// proxy_cache_background_update: the page gets the stale answer at once while the
// update runs, and the update stores the new answer.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct SSIConcurrentTests {
    @Test func includesRunSideBySideAndComeOutInOrder() throws {
        let up = try RendezvousUpstream(count: 2)
        defer { up.stop() }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location / { ssi on; }
                        location /api/ { proxy_pass http://127.0.0.1:\(up.port); proxy_read_timeout 3s; }
                    }
                }
                """,
            files: [
                "html/page.html":
                    "A<!--# include virtual=\"/api/one\" -->B<!--# include virtual=\"/api/two\" -->C"
            ])
        try s.start()
        defer { s.stop() }
        let r = try get(s.port, "/page.html")
        #expect(r.status == 200)
        #expect(r.bodyText == "A/api/oneB/api/twoC")
    }

    @Test func thePageGoesOutAsItIsReady() throws {
        let up = try RendezvousUpstream(count: 2)
        defer { up.stop() }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location / { ssi on; }
                        location /api/ { proxy_pass http://127.0.0.1:\(up.port); proxy_read_timeout 5s; }
                    }
                }
                """,
            files: ["html/page.html": "HEAD-TEXT<!--# include virtual=\"/api/one\" -->TAIL"])
        try s.start()
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        try c.send("GET /page.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        // The head and the text before the include come while it waits for the upstream.
        #expect(try c.readUntil("HEAD-TEXT"))
        #expect(c.received.contains("Transfer-Encoding: chunked"))
        // Now the upstream has its second request and answers both.
        let direct = try RawClient(port: up.port)
        try direct.send("GET /direct HTTP/1.0\r\n\r\n")
        #expect(try direct.readResponse().bodyText == "/direct")
        #expect(try c.readUntil("/api/one"))
        #expect(try c.readUntil("TAIL"))
        #expect(try c.readUntil("0\r\n\r\n"))
    }

    @Test func largeIncludesComeOutWholeAndInOrder() throws {
        let b = try CountingBackend()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location / { ssi on; }
                        location /c/ { proxy_pass http://127.0.0.1:\(b.port); proxy_buffers 4 4k; }
                    }
                }
                """,
            files: [
                "html/page.html":
                    "[<!--# include virtual=\"/c/a?size=1000&ms=600\" -->]"
                    + "[<!--# include virtual=\"/c/b?size=300000\" -->]"
                    + "[<!--# include virtual=\"/c/c?size=70000\" set=\"v\" --><!--# echo var=\"v\" encoding=\"none\" -->]"
            ])
        try s.start()
        defer { s.stop() }
        func body(_ n: Int) -> [UInt8] { (0..<n).map { UInt8($0 % 251) } }
        let r = try get(s.port, "/page.html")
        #expect(r.status == 200)
        let expected = [91] + body(1000) + [93, 91] + body(300_000) + [93, 91] + body(70000) + [93]
        #expect(r.body.count == expected.count)
        #expect(r.body == expected)
    }

    /// A client that stops reading a streamed page: send_timeout ends the request.
    @Test func aClientThatStopsReadingTimesOut() throws {
        let b = try CountingBackend()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format p '$uri $status';
                    access_log logs/access.log p;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location / { ssi on; send_timeout 1s; }
                        location /c/ { proxy_pass http://127.0.0.1:\(b.port); }
                    }
                }
                """,
            files: ["html/page.html": "[<!--# include virtual=\"/c/big?size=20000000&ms=100\" -->]"])
        try s.start()
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        try c.send("GET /page.html HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(
            s.waitForFile(
                "logs/error.log", containing: "client timed out (110: Connection timed out) while sending response",
                timeout: 30))
        #expect(s.waitForFile("logs/access.log", containing: "/page.html 200", timeout: 10))
        c.close()
    }

    @Test func aStaleEntryIsIncludedWhileItIsUpdatedInTheBackground() throws {
        let b = try CountingBackend()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    proxy_cache_path PREFIXcache keys_zone=pages:1m;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location / { ssi on; }
                        location /c/ {
                            proxy_pass http://127.0.0.1:\(b.port);
                            proxy_cache pages;
                            proxy_cache_key $uri;
                            proxy_cache_valid 200 1s;
                            proxy_cache_use_stale updating;
                            proxy_cache_background_update on;
                            add_header X-Cache $upstream_cache_status;
                        }
                    }
                }
                """,
            files: [
                "html/page.html":
                    "[<!--# include virtual=\"/c/x?ms=1500\" -->]"
                    + "[<!--# include virtual=\"/c/big?size=100000&ms=200\" -->]"
            ])
        try s.start()
        defer { s.stop() }
        #expect(try get(s.port, "/c/x").header("X-Cache") == "MISS")
        // A stale answer larger than proxy_buffers stays in its subrequest while it updates.
        #expect(try get(s.port, "/c/big?size=100000").header("X-Cache") == "MISS")
        usleep(2_100_000)
        // The stale entries, not the answers the updates wait for.
        let page = try get(s.port, "/page.html")
        #expect(page.status == 200)
        let big = (0..<100_000).map { UInt8($0 % 251) }
        #expect(page.body == Array("[n=1 path=/c/x][".utf8) + big + [93])
        // The update stored the new answer.
        var updated = false
        for _ in 0..<50 where !updated {
            let r = try get(s.port, "/c/x")
            updated = r.header("X-Cache") == "HIT" && r.bodyText.hasSuffix(" path=/c/x?ms=1500")
            if !updated { usleep(100_000) }
        }
        #expect(updated)
        #expect(b.count == 4)
    }
}

/// An upstream that takes `count` requests and answers none until all have come, then
/// answers them last first: each answer's body is its request's path.
final class RendezvousUpstream {
    let fd: Int32
    let port: Int
    private let thread: Thread

    init(count: Int) throws {
        (fd, port) = try listenOnLoopback()
        let listener = fd
        // Every wait bounded: the listener gives up after 5 s.
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        thread = Thread {
            var clients: [(fd: Int32, path: String)] = []
            while clients.count < count {
                let c = accept(listener, nil, nil)
                guard c >= 0 else { break }
                var tv = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var request: [UInt8] = []
                var buf = [UInt8](repeating: 0, count: 4096)
                while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                    let n = recv(c, &buf, buf.count, 0)
                    if n <= 0 { break }
                    request += buf[0..<n]
                }
                let line = String(decoding: request, as: UTF8.self).split(separator: "\r\n").first ?? ""
                let parts = line.split(separator: " ")
                clients.append((c, parts.count > 1 ? String(parts[1]) : ""))
            }
            for (c, path) in clients.reversed() {
                let answer = Array(
                    ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(path.utf8.count)\r\n"
                        + "Connection: close\r\n\r\n\(path)").utf8)
                _ = answer.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(c)
            }
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
