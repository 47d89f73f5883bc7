// The resolver over real sockets, against a small DNS server (Support/dns_server.py,
// answers from a JSON file the test rewrites): a `proxy_pass` with variables reaches
// the address a name has now (the Docker pattern `set $app app; proxy_pass http://$app`),
// an unknown name gives 502 with nginx's line, and a back end that moves to a new
// address under load — its old address dead — is reached at the new one within the
// answer's TTL plus resolver_timeout, for both `proxy_pass $var` and an upstream
// `server name resolve`.

import Foundation
import Glibc
import SwiftginxPosix
import Synchronization
import Testing

/// The DNS server of a test: its records file and process.
final class TestDNS {
    let port: Int
    let records: String
    private var pid: Int32 = 0

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/dns_server.py"
    ).path

    init(directory: String, records: [String: [String: Any]]) throws {
        port = freePort()
        self.records = directory + "dns-records.json"
        try set(records)
        pid = try ProcessControl.spawn(
            "/usr/bin/python3", ["python3", Self.script, String(port), self.records], stdout: -1, stderr: -1)
        // It is up when its log file exists.
        for _ in 0..<250 {
            if FileManager.default.fileExists(atPath: self.records + ".log") { return }
            usleep(20_000)
        }
        stop()
        throw TestFailure("DNS server did not start on port \(port)")
    }

    /// Replaces the answers (atomically: a query never sees half a file).
    func set(_ records: [String: [String: Any]]) throws {
        let data = try JSONSerialization.data(withJSONObject: records)
        try data.write(to: URL(fileURLWithPath: self.records), options: .atomic)
    }

    /// Queries asked so far, as "name TYPE" lines.
    var queries: [String] {
        ((try? String(contentsOfFile: records + ".log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        _ = ProcessControl.wait(pid, timeout: 5000)
        pid = 0
    }

    deinit { stop() }
}

@Suite(.serialized) struct ResolverTests {
    func ask(_ port: Int, _ path: String) -> (status: Int, backend: String) {
        guard let c = try? RawClient(port: port, timeoutSeconds: 5) else { return (0, "-") }
        guard (try? c.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")) != nil,
            let r = try? c.readResponse()
        else { return (0, "-") }
        return (r.status, r.header("X-Backend") ?? "-")
    }

    func config(dns: TestDNS, backendPort: Int) -> String {
        """
        \(TestServer.preamble)
        http {
            access_log off;
            resolver 127.0.0.1:\(dns.port) valid=1s ipv6=off;
            resolver_timeout 2s;
            upstream pool {
                zone pool 64k;
                server app.test:\(backendPort) resolve max_fails=0;
            }
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                proxy_connect_timeout 1s;
                location / {
                    set $app app.test;
                    proxy_pass http://$app:\(backendPort);
                }
                location /pool { proxy_pass http://pool; }
                location /nx { proxy_pass http://nowhere.test:\(backendPort)$request_uri; }
                location /nx2 {
                    set $name nowhere.test;
                    proxy_pass http://$name:\(backendPort);
                }
                location /status { upstream_status; }
            }
        }
        """
    }

    @Test func variablesInProxyPassGoToTheNamesAddress() throws {
        let port = freePort()
        let b2 = try EchoBackend(name: "b2", port: port, address: "127.0.0.2")
        defer { b2.stop() }
        let dir = FileManager.default.temporaryDirectory.path + "/swiftginx-dns-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let dns = try TestDNS(directory: dir, records: ["app.test": ["A": ["127.0.0.2"], "ttl": 60]])
        defer { dns.stop() }
        let s = try TestServer(config: config(dns: dns, backendPort: port))
        try s.start()
        defer { s.stop() }

        #expect(ask(s.port, "/x").backend == "b2")
        // The answer is cached (60 s TTL, valid=1s wins): asked again only after a second.
        let asked = dns.queries.filter { $0 == "app.test A" }.count
        #expect(ask(s.port, "/y").backend == "b2")
        #expect(dns.queries.filter { $0 == "app.test A" }.count == asked)
        // ipv6=off: no AAAA question.
        #expect(!dns.queries.contains("app.test AAAA"))

        // A name the DNS does not know: 502 and nginx's line.
        #expect(ask(s.port, "/nx2").status == 502)
        #expect(s.waitForFile("logs/error.log", containing: "nowhere.test could not be resolved (3: Host not found)"))
        // A name written with variables elsewhere in the URL is known per request too.
        #expect(ask(s.port, "/nx").status == 502)

        // A server failure is the answer: 502 at once, not a wait for resolver_timeout.
        try dns.set(["app.test": ["A": ["127.0.0.2"], "ttl": 60], "nowhere.test": ["rcode": 2]])
        let started = Date()
        #expect(ask(s.port, "/nx2").status == 502)
        #expect(Date().timeIntervalSince(started) < 1.5)
        #expect(s.waitForFile("logs/error.log", containing: "nowhere.test could not be resolved (2: Server failure)"))
    }

    @Test func aDNSServerThatNeverAnswersTimesOutAsConfigured() throws {
        // Port with nothing listening: every query is lost (or refused).
        let dir = FileManager.default.temporaryDirectory.path + "/swiftginx-dns-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let silent = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        location / {
                            resolver 127.0.0.1:\(silent);
                            resolver_timeout 1500ms;
                            set $app app.test;
                            proxy_pass http://$app:9;
                        }
                        location /none {
                            set $app app.test;
                            proxy_pass http://$app:9;
                        }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        // The worker is never blocked: while one request waits for the resolver, another
        // is answered at once.
        let started = Date()
        let serverPort = s.port
        let waiting = Thread { _ = self.ask(serverPort, "/") }
        waiting.start()
        usleep(200_000)
        #expect(ask(s.port, "/none").status == 502)
        #expect(Date().timeIntervalSince(started) < 1.0)
        #expect(ask(s.port, "/").status == 502)
        let took = Date().timeIntervalSince(started)
        #expect(took > 1.4 && took < 3.5)
        #expect(
            s.waitForFile("logs/error.log", containing: "app.test could not be resolved (110: Operation timed out)"))
        // Without a resolver: nginx's line, 502 at once.
        #expect(ask(s.port, "/none").status == 502)
        #expect(s.waitForFile("logs/error.log", containing: "no resolver defined to resolve app.test"))
    }

    /// The back end moves: its old address dies and a new one answers; requests from
    /// two clients in a loop fail for at most the TTL plus resolver_timeout, then reach
    /// the new address.
    @Test(arguments: ["/", "/pool"])
    func aBackendThatMovesIsFollowedUnderLoad(_ path: String) throws {
        let port = freePort()
        var b2: EchoBackend? = try EchoBackend(name: "b2", port: port, address: "127.0.0.2")
        defer { b2?.stop() }
        let dir = FileManager.default.temporaryDirectory.path + "/swiftginx-dns-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let dns = try TestDNS(directory: dir, records: ["app.test": ["A": ["127.0.0.2"], "ttl": 1]])
        defer { dns.stop() }
        let s = try TestServer(config: config(dns: dns, backendPort: port))
        try s.start()
        defer { s.stop() }
        // The upstream's first answer may take a loop turn or two.
        var first = ask(s.port, path)
        for _ in 0..<50 where first.backend != "b2" {
            usleep(50_000)
            first = ask(s.port, path)
        }
        #expect(first.backend == "b2")

        let results = Mutex<[(at: Double, status: Int, backend: String)]>([])
        let start = Date()
        let until = start.addingTimeInterval(6)
        let serverPort = s.port
        let threads = (0..<2).map { _ in
            Thread { [self] in
                while Date() < until {
                    let r = ask(serverPort, path)
                    results.withLock { $0.append((Date().timeIntervalSince(start), r.status, r.backend)) }
                    usleep(20_000)
                }
            }
        }
        for t in threads { t.start() }
        usleep(1_000_000)
        // The move: the old address goes away, the new one comes up, DNS says so (this
        // takes a while on a loaded machine: requests fail from its start).
        let moving = Date().timeIntervalSince(start)
        b2?.stop()
        b2 = nil
        let b3 = try EchoBackend(name: "b3", port: port, address: "127.0.0.3")
        defer { b3.stop() }
        try dns.set(["app.test": ["A": ["127.0.0.3"], "ttl": 1]])
        let moved = Date().timeIntervalSince(start)
        while Date() < until.addingTimeInterval(6) && threads.contains(where: { !$0.isFinished }) { usleep(50_000) }

        let all = results.withLock { $0 }
        #expect(all.count > 50)
        let failures = all.filter { $0.status != 200 }
        // Before the move every request was answered by b2.
        #expect(all.filter { $0.at < moving }.allSatisfy { $0.status == 200 && $0.backend == "b2" })
        // Failures only in the window after the move: TTL (1 s) + resolver_timeout (2 s).
        if let last = failures.map(\.at).max() { #expect(last - moved < 3.0, "failing until \(last - moved) s") }
        // Then the new address answers everything.
        let after = all.filter { $0.at > moved + 3.0 }
        #expect(!after.isEmpty)
        #expect(after.allSatisfy { $0.status == 200 && $0.backend == "b3" })
        if path == "/pool" {
            // The status page shows the peer the group has now.
            let status = try get(s.port, "/status")
            #expect(status.bodyText.contains("127.0.0.3:\(port)"))
            #expect(!status.bodyText.contains("127.0.0.2:\(port)"))
        }
    }

    /// conf/examples/docker-resolver.conf with the test DNS in place of Docker's: both
    /// its forms reach the container named `web`.
    @Test func theDockerExampleFindsItsContainer() throws {
        let web = try EchoBackend(name: "web")
        defer { web.stop() }
        let dir = FileManager.default.temporaryDirectory.path + "/swiftginx-dns-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let dns = try TestDNS(directory: dir, records: ["web": ["A": ["127.0.0.1"], "ttl": 5]])
        defer { dns.stop() }
        let conf = repositoryRoot.appendingPathComponent("conf").path
        let text = try String(contentsOfFile: conf + "/examples/docker-resolver.conf", encoding: .utf8)
            .replacingOccurrences(of: "resolver 127.0.0.11", with: "resolver 127.0.0.1:\(dns.port)")
            .replacingOccurrences(of: "web:8000", with: "web:\(web.port)")
            .replacingOccurrences(of: "$web:8000", with: "$web:\(web.port)")
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:PORT")
            .replacingOccurrences(of: "include ../", with: "include \(conf)/")
            .replacingOccurrences(of: "pid logs/docker-resolver.pid;", with: "pid logs/swiftginx.pid;")
        let s = try TestServer(config: "daemon off;\n" + text)
        try s.start()
        defer { s.stop() }
        var upstream = ask(s.port, "/")
        for _ in 0..<50 where upstream.backend != "web" {
            usleep(50_000)
            upstream = ask(s.port, "/")
        }
        #expect(upstream.status == 200 && upstream.backend == "web")
        #expect(ask(s.port, "/api/items").backend == "web")
        #expect(dns.queries.contains("web A") && !dns.queries.contains("web AAAA"))
    }

    /// `server name service=http resolve`: the SRV records' targets and ports are the
    /// peers, the lowest priority first, the others as backups.
    @Test func srvRecordsGiveThePeersAndTheirPorts() throws {
        let primary = try EchoBackend(name: "primary", address: "127.0.0.2")
        let spare = try EchoBackend(name: "spare", address: "127.0.0.3")
        defer {
            primary.stop()
            spare.stop()
        }
        let dir = FileManager.default.temporaryDirectory.path + "/swiftginx-dns-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let dns = try TestDNS(
            directory: dir,
            records: [
                "_http._tcp.app.test": ["SRV": ["1 5 \(primary.port) one.app.test", "2 5 \(spare.port) two.app.test"]],
                "one.app.test": ["A": ["127.0.0.2"], "ttl": 1], "two.app.test": ["A": ["127.0.0.3"], "ttl": 1],
            ])
        defer { dns.stop() }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    resolver 127.0.0.1:\(dns.port) valid=1s ipv6=off;
                    upstream pool {
                        zone pool 64k;
                        server app.test service=http resolve;
                    }
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        location / { proxy_pass http://pool; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        var r = ask(s.port, "/")
        for _ in 0..<50 where r.backend != "primary" {
            usleep(50_000)
            r = ask(s.port, "/")
        }
        // Only the lowest priority is used while it answers...
        #expect(r.backend == "primary")
        #expect((0..<5).allSatisfy { _ in ask(s.port, "/").backend == "primary" })
        #expect(dns.queries.contains("_http._tcp.app.test SRV"))
        // ... and the backup when it is gone.
        primary.stop()
        #expect(ask(s.port, "/").backend == "spare")
    }

    @Test func configurationErrorsAreNginxs() throws {
        let cases: [(String, String)] = [
            ("resolver 127.0.0.1 ipv4=off ipv6=off;", "\"ipv4\" and \"ipv6\" cannot both be \"off\""),
            ("resolver 127.0.0.1 valid=xyz;", "invalid parameter: valid=xyz"),
            ("resolver 127.0.0.1:0;", "invalid port in resolver \"127.0.0.1:0\""),
            ("upstream u { server app.test:80 resolve; }", "no resolver defined to resolve app.test in upstream \"u\""),
            ("upstream u { server app.test service=http; }", "service upstream \"app.test\" requires \"resolve\""),
            (
                "resolver 127.0.0.1; upstream u { server app.test:80 service=http resolve; }",
                "service upstream \"app.test:80\" may not have port"
            ),
        ]
        for (line, message) in cases {
            let s = try TestServer(
                config: """
                    \(TestServer.preamble)
                    http {
                        \(line)
                        server { listen 127.0.0.1:PORT; }
                    }
                    """)
            defer { s.cleanup() }
            let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
            #expect(r.status != 0, "\(line)")
            #expect(r.stderr.contains(message), "\(line): \(r.stderr)")
        }
    }
}
