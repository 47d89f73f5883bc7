// Upstream keep-alive reuse under many concurrent HTTP/2 streams: far more requests in
// flight than the `keepalive` cache holds. A request that finds no idle connection
// waits for the end of the worker's loop turn, when answers of the same turn have
// given theirs back (Proxy/UpstreamConnectWait.swift), so the upstream sees few
// connections, and the cache is back at its size once the load stops.

import Foundation
import Testing

@Suite(.serialized) struct HTTP2ProxyReuseTests {
    @Test func concurrentStreamsReuseCachedUpstreamConnections() throws {
        try HTTP2Tests.requireClients()
        // The upstream is another server process; its access log lines name the
        // connection each request came on.
        let back = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format conn '$uri $connection $status';
                    access_log logs/access.log conn;
                    server {
                        listen 127.0.0.1:PORT;
                        keepalive_requests 100000;
                        location /b/ { return 200 "back\\n"; }
                    }
                }
                """)
        try back.start()
        defer { back.stop() }
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log logs/access.log;
                    upstream back { server 127.0.0.1:\(back.port); keepalive 8; }
                    server {
                        listen 127.0.0.1:PORT;
                        http2 on;
                        location /p/ {
                            proxy_pass http://back/b/;
                            proxy_http_version 1.1;
                            proxy_set_header Connection "";
                        }
                    }
                }
                """)
        try server.start()
        defer { server.stop() }
        let requests = 5000
        let r = try runCommand(
            [
                "/usr/bin/h2load", "-n", "\(requests)", "-c", "10", "-m", "10",
                "http://127.0.0.1:\(server.port)/p/",
            ], timeout: 120)
        #expect(r.stdout.contains("\(requests) succeeded, 0 failed, 0 errored"), "\(r.stdout)")
        #expect(back.waitForFile("logs/access.log", containing: "/b/", timeout: 10))
        Thread.sleep(forTimeInterval: 1.5)  // access logs are flushed once a second
        var upstreamConnections = Set<Substring>()
        var proxied = 0
        for line in back.read("logs/access.log").split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 3, f[0] == "/b/", f[2] == "200" else { continue }
            upstreamConnections.insert(f[1])
            proxied += 1
        }
        #expect(proxied == requests)
        // 100 streams at once need about 100 connections; the cache's churn made it
        // about 3 in 4 requests (3,800 of 5,000), reuse keeps it near the concurrency.
        #expect(upstreamConnections.count < requests / 4, "\(upstreamConnections.count) upstream connections")
        // Once the load stops, the cache holds at most `keepalive` idle connections.
        // Established connections to the upstream's port (/proc/net/tcp: state 01).
        // (read with cat: /proc files have no size, Foundation reads only their start)
        let table = try runCommand(["/bin/cat", "/proc/net/tcp"], timeout: 10).stdout
        let port = String(back.port, radix: 16, uppercase: true)
        let idle = table.split(separator: "\n").dropFirst().filter { line in
            let f = line.split(separator: " ")
            return f.count > 3 && f[3] == "01"
                && f[2].hasSuffix(":" + String(repeating: "0", count: 4 - port.count) + port)
        }.count
        #expect(idle > 0 && idle <= 8, "\(idle) idle upstream connections")
    }
}
