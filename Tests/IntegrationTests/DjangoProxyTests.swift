// swiftginx in front of the real Django app servers: every example configuration of
// conf/examples/ with its backend (the same checks nginx passes in
// ExampleConfigsUnderNginxTests), then gunicorn end to end — a 20 MiB upload hashed
// on both ends, a 5 MiB download, streaming arrival, redirect and cookies, 413, 502,
// 504 — two gunicorns in round robin with one killed mid-test, and the keep-alive
// race against gunicorn --keep-alive 1 under load with zero 5xx.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct DjangoProxyTests {
    /// Runs a configuration rendered for the test's prefix.
    func startSwiftginx(_ config: String) throws -> TestServer {
        var lines = config.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines = lines.map { $0.trimmingCharacters(in: .whitespaces).hasPrefix("pid ") ? "pid logs/swiftginx.pid;" : $0 }
        let server = try TestServer(config: lines.joined(separator: "\n"))
        try server.start()
        return server
    }

    @Test(arguments: ExampleConfig.all.map(\.name))
    func exampleConfigUnderSwiftginx(_ name: String) throws {
        try Backends.require()
        let kind = ExampleConfig.all.first { $0.name == name }!.kind
        let backend = try Backend.start(kind, name: name)
        defer { backend.stop() }
        // The rendered config listens on the TestServer's port (PORT is replaced there).
        let server = try startSwiftginx(
            ExampleConfig.render(name, backend: backend, listenPort: 0).replacingOccurrences(
                of: "127.0.0.1:0;", with: "127.0.0.1:PORT;"))
        defer { server.stop() }
        try ExampleConfigsUnderNginxTests.checkExample(
            kind: kind, backend: backend, port: server.port, serverPrefix: "nginx/1.31.5",
            log: { server.read("logs/error.log") })
    }

    func gunicornConfig(_ backends: [Backend], extra: String = "") -> String {
        let servers = backends.map { "server \($0.address) max_fails=1 fail_timeout=30s;" }.joined(separator: " ")
        return """
            \(TestServer.preamble)
            http {
                log_format up '$status $upstream_addr $upstream_status';
                access_log logs/access.log up;
                upstream django { \(servers) keepalive 16; }
                server {
                    listen 127.0.0.1:PORT;
                    server_name localhost;
                    client_max_body_size 25m;
                    location / {
                        proxy_pass http://django;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    }
                    location /stream/ { proxy_pass http://django; proxy_buffering off; }
                    location /slow/ { proxy_pass http://django; proxy_read_timeout 1s; }
                    \(extra)
                }
            }
            """
    }

    @Test func gunicornEndToEnd() throws {
        try Backends.require()
        let backend = try Backend.start(.gunicornTCP, name: "g1")
        defer { backend.stop() }
        let server = try startSwiftginx(gunicornConfig([backend]))
        defer { server.stop() }
        let port = server.port

        // 20 MiB upload, hashed by Django.
        let body = (0..<(20 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let c = try RawClient(port: port, timeoutSeconds: 30)
        try c.send("POST /upload/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\n\r\n")
        try c.send(body)
        let u = try BackendSmokeTests.json(c.readResponse())
        #expect(u["length"] as? Int == body.count)
        #expect(u["sha256"] as? String == sha256Hex(body))

        // 5 MiB download, byte for byte.
        let size = 5 << 20
        let d = try RawClient(port: port, timeoutSeconds: 30)
        try d.send("GET /download/?size=\(size) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let dr = try d.readResponse()
        #expect(dr.status == 200)
        #expect(dr.body.count == size)
        #expect(dr.body == (0..<size).map { UInt8($0 % 251) })

        // Streaming: the first line arrives while Django is still producing the rest.
        let t0 = Date()
        let s = try RawClient(port: port, timeoutSeconds: 10)
        try s.send("GET /stream/?chunks=3&delay=0.6 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try s.readUntil("chunk 0 "))
        #expect(Date().timeIntervalSince(t0) < 0.5)
        #expect(try s.readUntil("chunk 2 "))

        // Redirect with two cookies, relayed as Django sent them.
        let r = try get(port, "/redirect/")
        #expect(r.status == 302)
        #expect(r.header("Location") == "/headers/")
        #expect(r.headers.filter { $0.0.lowercased() == "set-cookie" }.count == 2)

        // 413 before anything reaches Django.
        let big = try request(port, "POST /upload/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 30000000\r\n\r\n")
        #expect(big.status == 413)

        // 504 from proxy_read_timeout 1s, then 502 once the backend is gone.
        let slow = try get(port, "/slow/?s=3")
        #expect(slow.status == 504)
        backend.kill()
        backend.waitUntilGone()
        let gone = try get(port, "/headers/")
        #expect(gone.status == 502)
        #expect(server.waitForFile("logs/error.log", containing: "while connecting to upstream"))
    }

    @Test func roundRobinSurvivesAKilledGunicorn() throws {
        try Backends.require()
        let a = try Backend.start(.gunicornTCP, name: "a")
        let b = try Backend.start(.gunicornTCP, name: "b")
        defer {
            a.stop()
            b.stop()
        }
        let server = try startSwiftginx(gunicornConfig([a, b]))
        defer { server.stop() }
        var seen: [String: Int] = [:]
        for _ in 0..<10 { seen[try get(server.port, "/whoami/").bodyText, default: 0] += 1 }
        #expect(seen["a"] == 5 && seen["b"] == 5, "\(seen)")
        a.kill()
        a.waitUntilGone()
        for _ in 0..<20 {
            let r = try get(server.port, "/whoami/")
            #expect(r.status == 200)
            #expect(r.bodyText == "b")
        }
    }

    @Test func activeHealthChecksWithGunicorn() throws {
        try Backends.require()
        let a = try Backend.start(.gunicornTCP, name: "a")
        let b = try Backend.start(.gunicornTCP, name: "b")
        defer {
            a.stop()
            b.stop()
        }
        let server = try startSwiftginx(
            gunicornConfig(
                [a, b],
                extra: """
                    location /checked/ {
                        proxy_pass http://django/;
                        health_check interval=300ms fails=1 passes=1 uri=/health/ mandatory;
                    }
                    location = /upstreams { upstream_status; }
                    """))
        defer { server.stop() }
        // mandatory: traffic starts once the first checks passed.
        #expect(
            server.waitForFile("logs/error.log", containing: "127.0.0.1:\(b.port) in upstream \"django\" is healthy"))
        #expect(
            server.waitForFile("logs/error.log", containing: "127.0.0.1:\(a.port) in upstream \"django\" is healthy"))
        var seen: [String: Int] = [:]
        for _ in 0..<10 { seen[try get(server.port, "/checked/whoami/").bodyText, default: 0] += 1 }
        #expect(seen["a"] == 5 && seen["b"] == 5, "\(seen)")
        // Kill one while requests flow: no client sees an error, and the dead one is
        // taken out by the checks (logged) rather than by failing requests.
        a.kill()
        var statuses: [Int] = []
        for _ in 0..<30 {
            statuses.append(try get(server.port, "/checked/whoami/").status)
            usleep(20_000)
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(
            server.waitForFile("logs/error.log", containing: "127.0.0.1:\(a.port) in upstream \"django\" is unhealthy"))
        for _ in 0..<5 { #expect(try get(server.port, "/checked/whoami/").bodyText == "b") }
        let status = try get(server.port, "/upstreams").bodyText
        #expect(status.contains("\"state\":\"unhealthy\""))
    }

    @Test func webSocketsSurviveReloads() throws {
        try Backends.require()
        let backend = try Backend.start(.daphne, name: "d1")
        defer { backend.stop() }
        func config(_ generation: Int) -> String {
            """
            \(TestServer.preamble)
            http {
                \(backend.webSocketProxy.map)
                server {
                    listen 127.0.0.1:PORT;
                    add_header X-Generation \(generation);
                    \(backend.webSocketProxy.location)
                }
            }
            """
        }
        let server = try startSwiftginx(config(0))
        defer { server.stop() }
        let ws = try WebSocketClient.connect(port: server.port, path: "/ws/echo/")
        try ws.send(text: "before")
        #expect(try ws.receiveText() == "before")
        // Three reloads while the WebSocket is open: it keeps echoing through each, and
        // new requests see the new configuration.
        for generation in 1...3 {
            try server.writeConfig(config(generation))
            server.signal(SIGHUP)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline
                && (try? get(server.port, "/health/"))?.header("X-Generation") != "\(generation)"
            {
                usleep(50_000)
            }
            #expect(try get(server.port, "/health/").header("X-Generation") == "\(generation)")
            try ws.send(text: "after reload \(generation)")
            #expect(try ws.receiveText() == "after reload \(generation)")
        }
        let big = (0..<(256 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        try ws.send(binary: big)
        #expect(try ws.receive().payload == big)
        #expect(try ws.close(code: 1000) == 1000)
    }

    @Test func keepAliveRaceUnderLoadGivesNo5xx() throws {
        try Backends.require()
        // gunicorn closes idle keep-alive connections after 1 s: requests spaced around
        // that make cached connections die just as they are reused.
        let backend = try Backend.start(.gunicornTCP, name: "ka", extraArgs: ["--keep-alive", "1"])
        defer { backend.stop() }
        let server = try startSwiftginx(gunicornConfig([backend]))
        defer { server.stop() }
        let port = server.port
        let statuses = Mutex5xx()
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            for round in 0..<8 {
                for _ in 0..<5 {
                    let status = (try? get(port, "/health/").status) ?? -1
                    statuses.record(status)
                }
                // 0.9 s ... 1.1 s: around gunicorn's keep-alive timeout.
                usleep(useconds_t(900_000 + ((worker * 37 + round * 53) % 200) * 1000))
            }
        }
        #expect(statuses.total == 240)
        #expect(statuses.bad == 0, "statuses: \(statuses.counts)")
    }
}

/// Status counts from several threads.
final class Mutex5xx: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var counts: [Int: Int] = [:]
    func record(_ status: Int) {
        lock.lock()
        counts[status, default: 0] += 1
        lock.unlock()
    }
    var total: Int { counts.values.reduce(0, +) }
    var bad: Int { counts.filter { $0.key < 200 || $0.key >= 500 }.values.reduce(0, +) }
}
