// Reverse-proxy behaviour over real sockets against the echo upstream: response
// framing (length, chunked, close-delimited; HTTP/1.0 clients), errors and their
// log lines (502 refused, 504 timeout, premature close), proxy_next_upstream across
// peers, the keep-alive cache (reuse and the closed-under-us race), buffering to a
// temporary file for a slow client, unbuffered streaming, X-Accel-Redirect,
// intercepted errors, request-body limits and a 101 tunnel.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct ProxyTests {
    func start(_ backends: [EchoBackend], locations: String, http: String = "") throws -> TestServer {
        let servers = backends.map { "server 127.0.0.1:\($0.port) max_fails=1 fail_timeout=10s;" }.joined(
            separator: " ")
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format up '$status $upstream_addr $upstream_status $body_bytes_sent';
                    access_log logs/access.log up;
                    upstream pool { \(servers) keepalive 8; }
                    \(http)
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        root html;
                        \(locations)
                    }
                }
                """,
            files: ["html/protected/f.txt": "protected file\n", "html/err.html": "custom error page\n"])
        try server.start()
        return server
    }

    @Test func framingIsRebuiltForTheClient() throws {
        let b = try EchoBackend()
        let s = try start([b], locations: "location / { proxy_pass http://pool; }")
        defer {
            s.stop()
            b.stop()
        }
        let chunked = try request(s.port, "GET /chunked?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(chunked.status == 200)
        #expect(chunked.header("Transfer-Encoding") == "chunked")
        #expect(chunked.bodyText == "chunk 0\nchunk 1\nchunk 2\n")
        #expect(chunked.header("X-Backend") == "b1")
        // Close-delimited upstream body: chunked to an HTTP/1.1 client...
        let closed = try request(s.port, "GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(closed.header("Transfer-Encoding") == "chunked")
        #expect(closed.body.count == 1200)
        // ...and delimited by closing for an HTTP/1.0 client.
        let c = try RawClient(port: s.port)
        try c.send("GET /chunked?n=2 HTTP/1.0\r\nHost: x\r\n\r\n")
        let raw = String(decoding: c.readToEnd(), as: UTF8.self)
        #expect(raw.contains("Connection: close"))
        #expect(!raw.contains("Transfer-Encoding"))
        #expect(raw.hasSuffix("\r\n\r\nchunk 0\nchunk 1\n"))
        // A 1 MiB body with Content-Length, byte for byte.
        let big = try request(s.port, "GET /big?size=1048576 HTTP/1.1\r\nHost: x\r\n\r\n")
        let expected = (0..<1_048_576).map { UInt8($0 % 251) }
        #expect(big.header("Content-Length") == "1048576")
        #expect(big.body == expected)
        // Upstream's Date and Server are replaced; its other fields pass.
        #expect(big.header("Server") == "nginx/1.31.5")
    }

    @Test func refusedAndTimedOutUpstreamsAnswer502And504WithNginxLogLines() throws {
        let b = try EchoBackend()
        let dead = freePort()
        let s = try start(
            [b],
            locations: """
                location /dead/ { proxy_pass http://127.0.0.1:\(dead); }
                location /slow/ { proxy_pass http://127.0.0.1:\(b.port)/; proxy_read_timeout 300ms; }
                location /drop/ { proxy_pass http://127.0.0.1:\(b.port)/; }
                """)
        defer {
            s.stop()
            b.stop()
        }
        let r = try get(s.port, "/dead/x")
        #expect(r.status == 502)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing:
                    "connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, "
                    + "server: localhost, request: \"GET /dead/x HTTP/1.1\", upstream: \"http://127.0.0.1:\(dead)/dead/x\", "
                    + "host: \"localhost\""))
        let t = try get(s.port, "/slow/hang")
        #expect(t.status == 504)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "upstream timed out (110: Connection timed out) while reading response header from upstream"
            ))
        let d = try get(s.port, "/drop/drop")
        #expect(d.status == 502)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "upstream prematurely closed connection while reading response header from upstream"))
    }

    @Test func nextUpstreamSkipsADeadPeerWithoutClientErrors() throws {
        let a = try EchoBackend(name: "a")
        let b = try EchoBackend(name: "b")
        let s = try start([a, b], locations: "location / { proxy_pass http://pool; }")
        defer {
            s.stop()
            a.stop()
            b.stop()
        }
        var seen: [String: Int] = [:]
        for _ in 0..<6 { seen[try get(s.port, "/whoami").header("X-Backend") ?? "-", default: 0] += 1 }
        #expect(seen == ["a": 3, "b": 3])
        a.stop()
        for _ in 0..<10 {
            let r = try get(s.port, "/whoami")
            #expect(r.status == 200)
            #expect(r.header("X-Backend") == "b")
        }
        // A POST is not retried once sent, but a refused connect was never "sent".
        let post = try request(s.port, "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        #expect(post.status == 200)
        s.stop()
        let log = s.read("logs/access.log")
        #expect(log.contains("200 127.0.0.1:\(a.port), 127.0.0.1:\(b.port) 502, 200"))
    }

    @Test func statusConditionsRetryOnlyWhenConfigured() throws {
        let a = try EchoBackend(name: "a")
        let s = try start(
            [a],
            locations: """
                location /retry/ {
                    proxy_pass http://127.0.0.1:\(a.port)/;
                    proxy_next_upstream error timeout http_503;
                }
                location /intercept/ {
                    proxy_pass http://127.0.0.1:\(a.port)/;
                    proxy_intercept_errors on;
                    error_page 503 /err.html;
                }
                location /plain/ { proxy_pass http://127.0.0.1:\(a.port)/; }
                """)
        defer {
            s.stop()
            a.stop()
        }
        // One peer: nothing to retry on, the upstream's own 503 goes to the client.
        let r = try get(s.port, "/retry/status/503")
        #expect(r.status == 503)
        #expect(r.bodyText == "status body\n")
        let i = try get(s.port, "/intercept/status/503")
        #expect(i.status == 503)
        #expect(i.bodyText == "custom error page\n")
        let p = try get(s.port, "/plain/status/404")
        #expect(p.status == 404)
        #expect(p.bodyText == "status body\n")
    }

    @Test func keepAliveConnectionsAreReusedAndTheCloseRaceIsRetried() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; }
                """)
        defer {
            s.stop()
            b.stop()
        }
        // The echo backend reports its client's port in no header; the upstream sees
        // HTTP/1.1 without Connection: close, and every answer is right.
        for _ in 0..<20 {
            let r = try get(s.port, "/ka")
            #expect(r.status == 200)
            #expect(!r.bodyText.contains("Connection"))
        }
        // A cached connection that the server closes as it is reused (before any
        // response byte) is retried on a fresh one, for any method, uncounted.
        let first = try get(s.port, "/drop-next")
        #expect(first.status == 200)
        let raced = try request(s.port, "POST /after-drop HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        #expect(raced.status == 200)
        #expect(raced.bodyText.contains("\"length\": 2"))
        // Restart the backend: every cached connection is now closed under us; the
        // next requests must still succeed (retried on fresh connections).
        let port = b.port
        b.stop()
        let again = try EchoBackend.restart(on: port)
        defer { again.stop() }
        for _ in 0..<10 {
            let r = try get(s.port, "/after")
            #expect(r.status == 200)
        }
        #expect(!s.read("logs/error.log").contains("[error]"))
    }

    @Test func slowClientGetsABufferedBodyAndStreamingPassesChunksAtOnce() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location /buffered/ { proxy_pass http://127.0.0.1:\(b.port)/; proxy_buffers 2 4k; }
                location /stream/ { proxy_pass http://127.0.0.1:\(b.port)/; proxy_buffering off; }
                """)
        defer {
            s.stop()
            b.stop()
        }
        // 4 MiB through 8 KiB of memory: the rest waits in a temporary file.
        let c = try RawClient(port: s.port)
        try c.send("GET /buffered/big?size=4194304 HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(500_000)  // the client does not read for a while
        let r = try c.readResponse()
        #expect(r.body == (0..<4_194_304).map { UInt8($0 % 251) })
        // Unbuffered: the first chunk arrives long before the last is produced.
        let t0 = Date()
        let sc = try RawClient(port: s.port)
        try sc.send("GET /stream/stream?n=3&ms=400 HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try sc.readUntil("chunk 0\n")
        #expect(first)
        #expect(Date().timeIntervalSince(t0) < 0.35)
        let rest = try sc.readUntil("chunk 2\n")
        #expect(rest)
    }

    @Test func acceleratedRedirectServesAnInternalLocation() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location /app/ { proxy_pass http://127.0.0.1:\(b.port)/; }
                location /protected/ {
                    internal;
                    if ($arg_up) { proxy_pass http://127.0.0.1:\(b.port); }
                }
                location /maybe/ {
                    if ($arg_up) { proxy_pass http://127.0.0.1:\(b.port); }
                    alias html/protected/;
                }
                """)
        defer {
            s.stop()
            b.stop()
        }
        #expect(try get(s.port, "/protected/f.txt").status == 404)
        // proxy_pass inside if (nginx's "if in location"): proxied only when the condition holds.
        #expect(try get(s.port, "/maybe/f.txt").bodyText == "protected file\n")
        let up = try get(s.port, "/maybe/f.txt?up=1")
        #expect(up.header("X-Backend") == "b1")
        #expect(up.bodyText.contains("\"target\": \"/maybe/f.txt?up=1\""))
        let r = try get(s.port, "/app/accel?to=/protected/f.txt")
        #expect(r.status == 200)
        #expect(r.bodyText == "protected file\n")
        #expect(r.header("Content-Disposition") == "attachment; filename=f.txt")
        #expect(r.header("Content-Type") == "application/x-special")
        #expect(r.header("X-Accel-Redirect") == nil)
    }

    @Test func requestBodiesAreBufferedAndLimited() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location / { proxy_pass http://127.0.0.1:\(b.port); client_max_body_size 1m; client_body_buffer_size 16k; }
                """)
        defer {
            s.stop()
            b.stop()
        }
        // 600 KiB: most of it goes through the temporary file.
        let body = (0..<614_400).map { UInt8($0 % 241) }
        let c = try RawClient(port: s.port)
        try c.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
        try c.send(body)
        let r = try c.readResponse()
        #expect(r.bodyText.contains("\"length\": 614400"))
        // Expect: 100-continue is answered before the body is sent.
        let e = try RawClient(port: s.port)
        try e.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        #expect(try e.readUntil("HTTP/1.1 100 Continue\r\n\r\n"))
        try e.send("hello")
        let er = try e.readResponse()
        #expect(er.status == 200)
        #expect(er.bodyText.contains("\"length\": 5"))
        // A chunked body over client_max_body_size: 413.
        let big = try RawClient(port: s.port)
        try big.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = [UInt8](repeating: 65, count: 65536)
        for _ in 0..<20 {
            guard (try? big.send(Array("10000\r\n".utf8) + chunk + Array("\r\n".utf8))) != nil else { break }
        }
        #expect(try big.readResponse().status == 413)
        #expect(s.waitForFile("logs/error.log", containing: "client intended to send too large chunked body"))
    }

    @Test func unbufferedRequestBodiesStreamUpstream() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location / {
                    proxy_pass http://127.0.0.1:\(b.port);
                    proxy_request_buffering off;
                    proxy_http_version 1.1;
                }
                """)
        defer {
            s.stop()
            b.stop()
        }
        let body = (0..<300_000).map { UInt8($0 % 239) }
        let c = try RawClient(port: s.port)
        try c.send("POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n")
        try c.send(Array(body[0..<1000]))
        usleep(200_000)
        try c.send(Array(body[1000...]))
        let r = try c.readResponse()
        #expect(r.bodyText.contains("\"length\": 300000"))
        #expect(r.bodyText.contains(sha256Hex(body)))
        // A chunked body stays chunked on its way upstream (HTTP/1.1).
        let k = try RawClient(port: s.port)
        try k.send("POST /k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        usleep(100_000)
        try k.send("6\r\n world\r\n0\r\n\r\n")
        let kr = try k.readResponse()
        #expect(kr.bodyText.contains("\"length\": 11"))
        #expect(kr.bodyText.contains("[\"Transfer-Encoding\", \"chunked\"]"))
    }

    @Test func proxiedResponsesAreCompressedOnTheFly() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location /gz/ {
                    proxy_pass http://127.0.0.1:\(b.port)/;
                    gzip on;
                    gzip_types application/octet-stream;
                    gzip_vary on;
                }
                """)
        defer {
            s.stop()
            b.stop()
        }
        let r = try request(
            s.port, "GET /gz/big?size=200000 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(r.header("Content-Encoding") == "gzip")
        #expect(r.header("Vary") == "Accept-Encoding")
        #expect(r.header("Content-Length") == nil)
        #expect(r.header("Transfer-Encoding") == "chunked")
        #expect(r.body.count < 200_000 / 4)
        // curl decodes it back to the upstream's bytes.
        let out = s.prefix + "curl-body"
        let c = try runCommand([
            "/usr/bin/curl", "-s", "--compressed", "-o", out, "http://127.0.0.1:\(s.port)/gz/big?size=200000",
        ])
        #expect(c.status == 0)
        let decoded = FileManager.default.contents(atPath: out).map { [UInt8]($0) } ?? []
        #expect(decoded == (0..<200_000).map { UInt8($0 % 251) })
        // HTTP/1.0 (gzip_http_version 1.1) and a non-listed type pass uncompressed.
        let old = try request(s.port, "GET /gz/big?size=1000 HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(old.header("Content-Encoding") == nil)
        #expect(old.body.count == 1000)
        let json = try request(s.port, "GET /gz/j HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(json.header("Content-Encoding") == nil)
    }

    @Test func upgradeBecomesATunnel() throws {
        let b = try EchoBackend()
        let s = try start(
            [b],
            locations: """
                location /app/ { proxy_pass http://127.0.0.1:\(b.port)/; }
                location /ws {
                    proxy_pass http://127.0.0.1:\(b.port);
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
                """)
        defer {
            s.stop()
            b.stop()
        }
        // nginx's auto-redirect for a proxied prefix location ending in "/".
        let redirect = try get(s.port, "/app?x=1")
        #expect(redirect.status == 301)
        #expect(redirect.header("Location") == "http://localhost:\(s.port)/app/?x=1")
        let c = try RawClient(port: s.port)
        try c.send("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        #expect(try c.readUntil("\r\n\r\n"))
        #expect(c.received.hasPrefix("HTTP/1.1 101 "))
        #expect(c.received.contains("Connection: upgrade"))
        #expect(c.received.contains("Upgrade: websocket"))
        let payload = (0..<300_000).map { UInt8($0 % 256) }
        try c.send(payload)
        #expect(try c.readExactly(payload.count) == payload)
        c.close()
    }
}
