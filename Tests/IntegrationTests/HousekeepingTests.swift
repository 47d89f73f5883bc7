// The housekeeping loop over real sockets: active health checks of many peers run at
// the same time (peers that accept a connection but never answer do not hold up the
// healthy ones, each of which is checked on its own schedule), the silent ones end
// by their read timeout all together, and a reload closes the old generation's
// checks that are still waiting instead of letting them run to their timeout.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

/// Listening sockets on 127.0.0.1 that never accept: a connection completes (the
/// kernel queues it) and then nothing is ever answered. Closed by `stop`.
final class SilentListeners {
    let fds: [Int32]
    let ports: [Int]

    init(count: Int) throws {
        var fds: [Int32] = []
        for _ in 0..<count {
            fds.append(
                try Socket.listen(
                    address: SocketAddress(host: "127.0.0.1", port: 0)!, backlog: 128, reusePort: false,
                    ipv6Only: false))
        }
        self.fds = fds
        ports = fds.map { Socket.localAddress($0)?.port ?? 0 }
    }

    /// Accepts one queued connection of listener `i`, waiting at most `timeout` seconds.
    func accept(_ i: Int, timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var peer = sockaddr_storage()
            if case .processed(let fd)? = try? Socket.accept(fds[i], peer: &peer) { return fd }
            usleep(20_000)
        }
        return nil
    }

    func stop() { for fd in fds { Socket.close(fd) } }

    deinit { stop() }
}

@Suite(.serialized) struct HousekeepingTests {
    /// The peers of `pool`, by address, from the upstream_status JSON.
    func peers(_ port: Int) throws -> [String: [String: Any]] {
        let json = try JSONSerialization.jsonObject(with: Data(try get(port, "/status").body)) as? [String: Any]
        let pool = (json?["upstreams"] as? [String: Any])?["pool"] as? [String: Any]
        var out: [String: [String: Any]] = [:]
        for peer in pool?["peers"] as? [[String: Any]] ?? [] {
            if let server = peer["server"] as? String { out[server] = peer }
        }
        return out
    }

    func checks(_ peer: [String: Any]?) -> Int {
        (peer?["health_checks"] as? [String: Any])?["checks"] as? Int ?? -1
    }

    @Test func manyPeersAreCheckedAtTheSameTime() throws {
        let silent = try SilentListeners(count: 18)
        defer { silent.stop() }
        let a = try EchoBackend(name: "a")
        let b = try EchoBackend(name: "b")
        defer {
            a.stop()
            b.stop()
        }
        // The silent peers come first: checked one after another, they would keep the
        // healthy ones waiting 18 × 5 s.
        let servers = (silent.ports + [a.port, b.port]).map { "server 127.0.0.1:\($0);" }.joined(separator: " ")
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    upstream pool { \(servers) }
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        location /checked/ {
                            proxy_pass http://pool/;
                            health_check interval=200ms uri=/health mandatory;
                            proxy_connect_timeout 5s;
                            proxy_read_timeout 5s;
                        }
                        location = /status { upstream_status; }
                    }
                }
                """)
        try server.start()
        defer { server.stop() }
        let healthy = ["127.0.0.1:\(a.port)", "127.0.0.1:\(b.port)"]
        let quiet = silent.ports.map { "127.0.0.1:\($0)" }
        // The healthy peers pass their first check at once and are checked again every
        // interval while every silent peer's first check is still waiting (5 s).
        #expect(server.waitForFile("logs/error.log", containing: "peer \(healthy[0]) in upstream \"pool\" is healthy"))
        #expect(server.waitForFile("logs/error.log", containing: "peer \(healthy[1]) in upstream \"pool\" is healthy"))
        let deadline = Date().addingTimeInterval(4)
        var view = try peers(server.port)
        while Date() < deadline && healthy.contains(where: { checks(view[$0]) < 3 }) {
            usleep(50_000)
            view = try peers(server.port)
        }
        for peer in healthy {
            #expect(checks(view[peer]) >= 3, "\(peer): \(view[peer] ?? [:])")
            #expect(view[peer]?["state"] as? String == "up")
        }
        for peer in quiet {
            #expect(checks(view[peer]) == 0, "\(peer): \(view[peer] ?? [:])")
            #expect(view[peer]?["state"] as? String == "checking")
        }
        for _ in 0..<4 {
            let name = try get(server.port, "/checked/x").header("X-Backend")
            #expect(name == "a" || name == "b")
        }
        // The silent peers' checks time out together, by the read timeout (one after
        // another they would need 90 s).
        let late = Date().addingTimeInterval(15)
        while Date() < late && quiet.contains(where: { checks(view[$0]) < 1 }) {
            usleep(100_000)
            view = try peers(server.port)
        }
        for peer in quiet {
            let health = view[peer]?["health_checks"] as? [String: Any]
            #expect(checks(view[peer]) >= 1, "\(peer): \(view[peer] ?? [:])")
            #expect(
                health?["last_error"] as? String
                    == "upstream timed out (110: Connection timed out) while reading response header")
            #expect(view[peer]?["state"] as? String == "checking")
        }
        for peer in healthy { #expect(view[peer]?["state"] as? String == "up") }
    }

    @Test func aReloadClosesTheOldGenerationsWaitingChecks() throws {
        let silent = try SilentListeners(count: 1)
        defer { silent.stop() }
        func config(checked: Bool) -> String {
            """
            \(TestServer.preamble)
            http {
                access_log off;
                upstream pool { server 127.0.0.1:\(silent.ports[0]); }
                server {
                    listen 127.0.0.1:PORT;
                    server_name localhost;
                    location /checked/ {
                        proxy_pass http://pool/;
                        \(checked ? "health_check interval=200ms uri=/health;" : "")
                    }
                }
            }
            """
        }
        let server = try TestServer(config: config(checked: true))
        try server.start()
        defer { server.stop() }
        // The check connects and sends its request, then waits (proxy_read_timeout: 60 s).
        let connection = silent.accept(0, timeout: 5)
        #expect(connection != nil, "no health check connected")
        guard let fd = connection else { return }
        defer { Socket.close(fd) }
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        func readSome(_ timeout: Int) -> Int {
            guard Socket.wait(fd, writable: false, timeout: timeout) else { return -1 }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { request += buffer[0..<n] }
            return n
        }
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
            if readSome(100) == 0 { break }
        }
        #expect(String(decoding: request, as: UTF8.self).hasPrefix("GET /health HTTP/1.0\r\n"))
        // A reload without checks: the waiting check ends now, its socket closed.
        try server.writeConfig(config(checked: false))
        server.signal(SIGHUP)
        #expect(server.waitForFile("logs/error.log", containing: "reconfigured (generation 2)"))
        let closedBy = Date().addingTimeInterval(3)
        var result = -1
        while Date() < closedBy {
            result = readSome(100)
            if result == 0 { break }
        }
        #expect(result == 0, "the old generation's check still holds its connection")
        // And the new generation checks nothing.
        #expect(silent.accept(0, timeout: 1) == nil)
        #expect(!server.read("logs/error.log").contains("is unhealthy"))
    }
}
