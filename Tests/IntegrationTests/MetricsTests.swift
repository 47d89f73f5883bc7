// `metrics` over real sockets: the page is read by prometheus_client's own text parser
// (Debian's python3-prometheus-client) while two clients send requests, and at the end
// the counts add up to what was sent — per location and status class, the duration
// histograms' counts, the upstream group's responses and its peers' requests.

import Foundation
import Glibc
import Synchronization
import Testing

@Suite(.serialized) struct MetricsTests {
    static let parser = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/parse_metrics.py"
    ).path

    /// The samples of a scrape ("name{a=b,c=d}" → value), parsed by prometheus_client.
    static func parse(_ text: String) throws -> [String: Double] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)").path
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let r = try runCommand(["/usr/bin/python3", parser, file], timeout: 30)
        guard r.status == 0 else { throw TestFailure("the exposition does not parse: \(r.stderr)") }
        var out: [String: Double] = [:]
        for line in r.stdout.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else {
                continue
            }
            out[String(line[..<space])] = v
        }
        return out
    }

    func ask(_ port: Int, _ path: String) -> Int {
        guard let c = try? RawClient(port: port),
            (try? c.send("GET \(path) HTTP/1.1\r\nHost: site.test\r\n\r\n")) != nil,
            let r = try? c.readResponse()
        else { return 0 }
        return r.status
    }

    @Test func countsAddUpToTheRequestsSentWhileScraping() throws {
        let backend = try EchoBackend(name: "app")
        defer { backend.stop() }
        let s = try TestServer(
            config: """
                daemon off;
                worker_processes 2;
                error_log logs/error.log info;
                pid logs/swiftginx.pid;
                events {}
                http {
                    access_log off;
                    upstream app { server 127.0.0.1:\(backend.port); }
                    server {
                        listen 127.0.0.1:PORT;
                        server_name site.test;
                        root html;
                        location / { }
                        location /app/ { proxy_pass http://app; }
                        location = /metrics { metrics; }
                        location = /status { upstream_status; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        let port = s.port
        let statuses = Mutex<[String: Int]>([:])
        let clients = (0..<2).map { _ in
            Thread { [self] in
                for i in 0..<150 {
                    let path = i % 3 == 0 ? "/" : i % 3 == 1 ? "/missing" : "/app/x"
                    let status = ask(port, path)
                    statuses.withLock { $0["\(path) \(status)", default: 0] += 1 }
                }
            }
        }
        for c in clients { c.start() }
        // Scrapes while the load runs (parsed afterwards): each parses, and the counters
        // never go down.
        var pages: [String] = []
        while clients.contains(where: { !$0.isFinished }) {
            pages.append(try get(port, "/metrics").bodyText)
            usleep(10_000)
        }
        let scrapes = pages.count
        #expect(scrapes >= 2)
        var last = 0.0
        for page in pages {
            let now = try Self.parse(page)["swiftginx_requests_total{}"] ?? 0
            #expect(now >= last)
            last = now
        }

        let sent = statuses.withLock { $0 }
        #expect(sent == ["/ 200": 100, "/missing 404": 100, "/app/x 200": 100])
        let m = try Self.parse(get(port, "/metrics").bodyText)
        let root = "location=/,server=site.test"
        #expect(m["swiftginx_http_requests_total{code=2xx,\(root)}"] == 100)
        #expect(m["swiftginx_http_requests_total{code=4xx,\(root)}"] == 100)
        #expect(m["swiftginx_http_request_duration_seconds_count{\(root)}"] == 200)
        #expect(m["swiftginx_http_request_duration_seconds_bucket{le=+Inf,\(root)}"] == 200)
        let app = "location=/app/,server=site.test"
        #expect(m["swiftginx_http_requests_total{code=2xx,\(app)}"] == 100)
        #expect((m["swiftginx_http_sent_bytes_total{\(app)}"] ?? 0) > 100 * 100)
        let peer = "peer=127.0.0.1:\(backend.port),upstream=app"
        #expect(m["swiftginx_upstream_responses_total{code=2xx,\(peer)}"] == 100)
        #expect(m["swiftginx_upstream_response_duration_seconds_count{\(peer)}"] == 100)
        #expect(m["swiftginx_upstream_peer_requests_total{peer=127.0.0.1:\(backend.port),upstream=app}"] == 100)
        #expect(m["swiftginx_upstream_peer_up{peer=127.0.0.1:\(backend.port),upstream=app}"] == 1)
        // Every scrape is a request too (stub_status's count): 300 plus the scrapes.
        #expect((m["swiftginx_requests_total{}"] ?? 0) >= 300 + Double(scrapes))
        #expect(m["swiftginx_config_generation{}"] == 1)
        #expect(m["swiftginx_connections{state=active}"] ?? 0 >= 1)

        // The JSON status view's server zone and connections (NGINX Plus's names) agree.
        let status = try JSONSerialization.jsonObject(with: Data(get(port, "/status").bodyText.utf8)) as? [String: Any]
        let http = status?["http"] as? [String: Any]
        let zone = (http?["server_zones"] as? [String: Any])?["site.test"] as? [String: Any]
        let responses = zone?["responses"] as? [String: Int]
        // (2xx: the 200 requests to / and /app/, and the scrapes of /metrics.)
        #expect((responses?["2xx"] ?? 0) >= 200 + scrapes && responses?["4xx"] == 100)
        #expect((status?["connections"] as? [String: Int])?["accepted"] ?? 0 >= 300)

        // A reload keeps the series (the same server and location), and is counted.
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation 2)"))
        #expect(ask(port, "/") == 200)
        let after = try Self.parse(get(port, "/metrics").bodyText)
        #expect(after["swiftginx_http_requests_total{code=2xx,\(root)}"] == 101)
        #expect(after["swiftginx_config_reloads_total{}"] == 1)
    }

    /// The rarer series: limit_req and limit_conn refusals by zone, cache statuses by
    /// zone, TLS handshakes (and failed ones).
    @Test func refusalsCacheStatusesAndHandshakesAreCounted() throws {
        let pki = try TestPKI()
        let backend = try EchoBackend(name: "app")
        defer { backend.stop() }
        let tlsPort = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    limit_req_zone $binary_remote_addr zone=login:1m rate=1r/m;
                    proxy_cache_path cache levels=1:2 keys_zone=pages:1m;
                    server {
                        listen 127.0.0.1:PORT;
                        listen 127.0.0.1:\(tlsPort) ssl;
                        \(pki.certificate("rsa"))
                        location = /index.html { limit_req zone=login; root html; }
                        location /page {
                            proxy_pass http://127.0.0.1:\(backend.port);
                            proxy_cache pages;
                            proxy_cache_valid 200 1m;
                        }
                        location = /metrics { metrics; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        #expect(try get(s.port, "/index.html").status == 200)
        #expect(try get(s.port, "/index.html").status == 503)
        #expect(try get(s.port, "/index.html").status == 503)
        for _ in 0..<3 { #expect(try get(s.port, "/page").status == 200) }
        let ok = try runCommand(
            [
                "/usr/bin/curl", "-s", "--max-time", "10", "--cacert", pki.path("ca.pem"), "--resolve",
                "localhost:\(tlsPort):127.0.0.1", "https://localhost:\(tlsPort)/metrics",
            ], timeout: 20)
        #expect(ok.status == 0)
        // A client that does not trust the certificate still completes the handshake
        // (it is the client that gives up); one that speaks no TLS at all fails it.
        let c = try RawClient(port: tlsPort)
        try c.send("\u{16}\u{03}\u{01}\u{00}\u{05}garbage")
        _ = c.isClosedByPeer()

        let m = try Self.parse(get(s.port, "/metrics").bodyText)
        #expect(m["swiftginx_limit_req_rejected_total{zone=login}"] == 2)
        #expect(m["swiftginx_cache_requests_total{status=MISS,zone=pages}"] == 1)
        #expect(m["swiftginx_cache_requests_total{status=HIT,zone=pages}"] == 2)
        #expect(m["swiftginx_tls_handshakes_total{}"] == 1)
        #expect(m["swiftginx_tls_handshakes_resumed_total{}"] == 0)
        #expect((m["swiftginx_tls_handshakes_failed_total{}"] ?? 0) >= 1)
    }

    @Test func onlyGetAndHead() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server { listen 127.0.0.1:PORT; location = /metrics { metrics; } }
                }
                """)
        try s.start()
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        try c.send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        #expect(try c.readResponse().status == 405)
        let page = try get(s.port, "/metrics")
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
    }
}
