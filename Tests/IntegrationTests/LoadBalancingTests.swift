// Load balancing and health checks over real sockets with several echo upstreams:
// hash consistent and ip_hash choose the same peers as nginx itself for the same
// configuration, least_conn avoids a busy peer, active health checks take a dead
// peer out within an interval and bring it back after `passes`, `match` + `mandatory`
// keep a not-ready peer out from the start, and upstream_status reports it all.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct LoadBalancingTests {
    func config(_ backends: [EchoBackend], method: String, preamble: String, temp: String = "", extra: String = "")
        -> String
    {
        let servers = backends.map { "server 127.0.0.1:\($0.port);" }.joined(separator: " ")
        return """
            \(preamble)
            http {
                access_log off;
                \(temp)
                upstream pool { \(method) \(servers) }
                server {
                    listen 127.0.0.1:PORT;
                    server_name localhost;
                    location / { proxy_pass http://pool; }
                    \(extra)
                }
            }
            """
    }

    func backendName(_ port: Int, _ path: String, from: String? = nil) throws -> String {
        let c = try RawClient(port: port, from: from)
        try c.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return try c.readResponse().header("X-Backend") ?? "-"
    }

    @Test(arguments: ["hash $arg_k consistent;", "hash $arg_k;", "ip_hash;"])
    func samePeersAsNginx(_ method: String) throws {
        try requireNginx()
        let backends = try ["a", "b", "c", "d"].map { try EchoBackend(name: $0) }
        defer { for b in backends { b.stop() } }
        let server = try TestServer(config: config(backends, method: method, preamble: TestServer.preamble))
        let nginx = try PrefixNginx(
            prefix: server.prefix,
            config: config(backends, method: method, preamble: PrefixNginx.preamble, temp: PrefixNginx.tempPaths))
        try server.start()
        defer {
            nginx.stop()
            server.stop()
        }
        var spread: Set<String> = []
        for k in 0..<40 {
            // ip_hash: clients from 127.<k>.<k*7>.1 (the first three octets count).
            let from = method == "ip_hash;" ? "127.\(k).\((k * 7) % 256).1" : nil
            let ours = try backendName(server.port, "/x?k=key\(k)", from: from)
            let theirs = try backendName(nginx.port, "/x?k=key\(k)", from: from)
            #expect(ours == theirs, "\(method) key\(k): swiftginx \(ours), nginx \(theirs)")
            spread.insert(ours)
        }
        #expect(spread.count >= 2)
    }

    @Test func leastConnAvoidsABusyPeer() throws {
        let a = try EchoBackend(name: "a")
        let b = try EchoBackend(name: "b")
        defer {
            a.stop()
            b.stop()
        }
        let server = try TestServer(config: config([a, b], method: "least_conn;", preamble: TestServer.preamble))
        try server.start()
        defer { server.stop() }
        // Hold one request on whichever peer gets it, then every other request goes elsewhere.
        let slow = try RawClient(port: server.port)
        try slow.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: localhost\r\n\r\n")
        usleep(200_000)
        var names: Set<String> = []
        for _ in 0..<8 { names.insert(try backendName(server.port, "/quick")) }
        #expect(names.count == 1)
        let busy = try slow.readResponse().header("X-Backend") ?? "-"
        #expect(!names.contains(busy))
    }

    @Test func activeChecksTakeADeadPeerOutAndBringItBack() throws {
        let a = try EchoBackend(name: "a")
        let b = try EchoBackend(name: "b")
        defer {
            a.stop()
            b.stop()
        }
        let server = try TestServer(
            config: config(
                [a, b], method: "", preamble: TestServer.preamble,
                extra: """
                    location /checked/ {
                        proxy_pass http://pool/;
                        health_check interval=200ms fails=2 passes=2 uri=/health;
                        proxy_connect_timeout 1s;
                        proxy_read_timeout 1s;
                    }
                    location = /status { upstream_status; }
                    """))
        try server.start()
        defer { server.stop() }
        let aPort = a.port
        a.stop()
        // Within fails × interval (plus a round) the peer is out, without a client request.
        #expect(
            server.waitForFile(
                "logs/error.log", containing: "peer 127.0.0.1:\(aPort) in upstream \"pool\" is unhealthy"))
        for _ in 0..<10 { #expect(try backendName(server.port, "/checked/x") == "b") }
        let status = try get(server.port, "/status")
        #expect(status.header("Content-Type") == "application/json")
        #expect(status.bodyText.contains("\"server\":\"127.0.0.1:\(aPort)\""))
        #expect(status.bodyText.contains("\"state\":\"unhealthy\""))
        // Back after `passes` good checks.
        let again = try EchoBackend.restart(on: aPort, name: "a")
        defer { again.stop() }
        #expect(
            server.waitForFile("logs/error.log", containing: "peer 127.0.0.1:\(aPort) in upstream \"pool\" is healthy"))
        var seen: Set<String> = []
        for _ in 0..<6 { seen.insert(try backendName(server.port, "/checked/x")) }
        #expect(seen == ["a", "b"])
        let json = try JSONSerialization.jsonObject(with: Data(try get(server.port, "/status").body)) as? [String: Any]
        let pool = (json?["upstreams"] as? [String: Any])?["pool"] as? [String: Any]
        let peers = pool?["peers"] as? [[String: Any]] ?? []
        #expect(peers.count == 2)
        #expect(peers.allSatisfy { $0["state"] as? String == "up" })
        #expect(peers.allSatisfy { (($0["health_checks"] as? [String: Any])?["checks"] as? Int ?? 0) > 2 })
    }

    @Test func reloadsLeaveNoRetiredHealthCheckerBehind() throws {
        let a = try EchoBackend(name: "a")
        defer { a.stop() }
        let server = try TestServer(
            config: config(
                [a], method: "", preamble: TestServer.preamble,
                extra: """
                    location /checked/ {
                        proxy_pass http://pool/;
                        health_check interval=100ms uri=/health;
                    }
                    """))
        try server.start()
        defer { server.stop() }
        /// The process's virtual size: a thread started per generation and joined by
        /// nobody keeps its stack (8 MiB) mapped even once finished, so it shows here.
        func virtualKiB() -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(server.pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmSize:") } ?? ""
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
        }
        func reload(_ n: Int) {
            server.signal(SIGHUP)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline
                && server.read("logs/error.log").components(separatedBy: "reconfigured").count - 1 < n
            {
                usleep(20_000)
            }
            usleep(300_000)  // the housekeeping loop has taken the new generation's checks
        }
        func threads() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/task").count) ?? -1
        }
        reload(1)
        let before = virtualKiB()
        let threadsBefore = threads()
        for n in 2...9 { reload(n) }
        let after = virtualKiB()
        #expect(before > 0)
        // Eight checker threads left behind by the retired generations would add 8 × 8 MiB.
        #expect(after - before < 24 * 1024, "VmSize grew from \(before) to \(after) KiB over 8 reloads")
        // The checks of every generation run on the one housekeeping thread.
        #expect(threads() == threadsBefore, "threads: \(threadsBefore) before 8 reloads, \(threads()) after")
    }

    @Test func mandatoryMatchKeepsANotReadyPeerOut() throws {
        let a = try EchoBackend(name: "a")
        let b = try EchoBackend(name: "b")
        defer {
            a.stop()
            b.stop()
        }
        let server = try TestServer(
            config: config(
                [a, b], method: "", preamble: TestServer.preamble,
                extra: """
                    location /checked/ {
                        proxy_pass http://pool/;
                        health_check interval=200ms uri=/ready match=ready mandatory;
                    }
                    location = /status { upstream_status; }
                    """
            ).replacingOccurrences(
                of: "http {",
                with:
                    "http {\n    match ready { status 200; header X-Backend = b; body ~ \"\\\"method\\\": \\\"GET\\\"\"; }"
            ))
        try server.start()
        defer { server.stop() }
        #expect(server.waitForFile("logs/error.log", containing: "in upstream \"pool\" is healthy"))
        for _ in 0..<10 { #expect(try backendName(server.port, "/checked/x") == "b") }
        let status = try get(server.port, "/status").bodyText
        #expect(status.contains("\"state\":\"checking\""))
        #expect(status.contains("\"last_error\":\"header does not match \\\"ready\\\"\""))
    }
}
