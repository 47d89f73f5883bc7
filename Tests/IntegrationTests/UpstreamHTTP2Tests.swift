// `proxy_http_version 2` end to end: swiftginx proxies over HTTP/2 (h2c, prior
// knowledge) to a real HTTP/2 server — Debian's nginx with `listen ... http2`, which
// passes bodies on to the Python echo backend. A GET and its request fields, a POST
// whose body is larger than the upstream's flow-control window, a 2 MiB answer, an
// upstream that resets the stream (502, and the next peer with invalid_header), a
// refused first peer, and keep-alive (two requests on one upstream connection; a 204
// and a HEAD, whose streams end with their HEADERS, leave it reusable).

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct UpstreamHTTP2Tests {
    /// nginx as the HTTP/2 back end: P1 answers, resets (/reset: `return 444` resets the
    /// stream) and passes /echo to the echo backend; P2 is the second peer.
    static func backendConfig(p1: Int, p2: Int, echo: Int) -> String {
        """
        daemon off;
        master_process off;
        worker_processes 1;
        error_log logs/error.log info;
        pid logs/nginx.pid;
        events { worker_connections 64; }
        http {
            access_log off;
            client_body_temp_path logs/body;
            proxy_temp_path logs/proxy;
            server {
                listen 127.0.0.1:\(p1) http2;
                root html;
                location /hello { return 200 "hello $request_method $http_x_test $server_protocol $http_connection\\n"; }
                location /conn { return 200 "$connection $connection_requests\\n"; }
                location /empty { add_header X-Conn $connection; return 204; }
                location /trailers { add_trailer X-Trailer foo; add_trailer Date hidden; return 200 "body"; }
                location /reset { return 444; }
                location /echo { proxy_pass http://127.0.0.1:\(echo); }
            }
            server {
                listen 127.0.0.1:\(p2) http2;
                location / { return 200 "second $server_protocol\\n"; }
            }
        }
        """
    }

    static func config(p1: Int, p2: Int, dead: Int) -> String {
        """
        daemon off;
        worker_processes 1;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 64; }
        http {
            access_log logs/access.log;
            client_body_temp_path logs/body;
            client_max_body_size 10m;
            upstream h2 { server 127.0.0.1:\(p1); keepalive 4; }
            upstream next { server 127.0.0.1:\(p1); server 127.0.0.1:\(p2); }
            upstream refused { server 127.0.0.1:\(dead); server 127.0.0.1:\(p2); }
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                proxy_http_version 2;
                location / { proxy_pass http://h2; proxy_set_header X-Test set-by-proxy; }
                location /plain/ { proxy_pass http://127.0.0.1:\(p1)/; proxy_http_version 1.1; }
                location /next/ {
                    proxy_pass http://next/reset;
                    proxy_next_upstream error invalid_header;
                }
                location /refused/ { proxy_pass http://refused/; }
                location /tr/ { proxy_pass http://h2/trailers; proxy_pass_trailers on; add_trailer X-Own bar; }
                location /notr/ { proxy_pass http://h2/trailers; add_trailer X-Own bar; }
            }
        }
        """
    }

    struct Setup {
        let server: TestServer
        let nginx: ReferenceNginx
        let echo: EchoBackend
        let bigFile: [UInt8]
    }

    func start() throws -> Setup {
        try requireNginx()
        let echo = try EchoBackend()
        let p1 = freePort()
        let p2 = freePort()
        let dead = freePort()
        let nginx = try ReferenceNginx(config: Self.backendConfig(p1: p1, p2: p2, echo: echo.port), port: p1)
        // A 2 MiB answer (the back end's static file).
        var big = [UInt8](repeating: 0, count: 2 << 20)
        for i in big.indices { big[i] = UInt8(truncatingIfNeeded: i % 251) }
        try FileManager.default.createDirectory(atPath: nginx.prefix + "html", withIntermediateDirectories: true)
        try Data(big).write(to: URL(fileURLWithPath: nginx.prefix + "html/big.bin"))
        let server = try TestServer(config: Self.config(p1: p1, p2: p2, dead: dead))
        try server.start()
        return Setup(server: server, nginx: nginx, echo: echo, bigFile: big)
    }

    func stop(_ s: Setup) {
        s.server.stop()
        s.server.cleanup()
        s.nginx.stop()
        s.echo.stop()
    }

    @Test func getGoesOverHTTP2WithTheRequestFields() throws {
        let s = try start()
        defer { stop(s) }
        let r = try get(s.server.port, "/hello")
        #expect(r.status == 200)
        // The back end saw an HTTP/2 request, proxy_set_header's field, no Connection field.
        #expect(r.bodyText == "hello GET set-by-proxy HTTP/2.0 \n")
        let plain = try get(s.server.port, "/plain/hello")
        #expect(plain.status != 200, "an h2c-only back end does not answer HTTP/1.1")
    }

    @Test func postBodyLargerThanTheWindowArrivesWhole() throws {
        let s = try start()
        defer { stop(s) }
        let body = String(repeating: "0123456789abcdef", count: 20_000)  // 320,000 bytes
        let r = try request(
            s.server.port,
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body)
        #expect(r.status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
        #expect(json?["method"] as? String == "POST")
        #expect(json?["length"] as? Int == body.utf8.count, "\(r.bodyText.prefix(300))")
    }

    @Test func largeAnswerIsRelayedWhole() throws {
        let s = try start()
        defer { stop(s) }
        let r = try get(s.server.port, "/big.bin")
        #expect(r.status == 200)
        #expect(r.body.count == s.bigFile.count)
        #expect(r.body == s.bigFile)
    }

    @Test func resetStreamIs502AndTriesTheNextPeer() throws {
        let s = try start()
        defer { stop(s) }
        let r = try get(s.server.port, "/reset")
        #expect(r.status == 502)
        #expect(s.server.read("logs/error.log").contains("upstream rejected request with error"))
        let n = try get(s.server.port, "/next/")
        #expect(n.status == 200)
        #expect(n.bodyText == "second HTTP/2.0\n")
        let f = try get(s.server.port, "/refused/")
        #expect(f.status == 200)
        #expect(f.bodyText == "second HTTP/2.0\n")
    }

    @Test func keepaliveReusesTheUpstreamConnection() throws {
        let s = try start()
        defer { stop(s) }
        let c = try RawClient(port: s.server.port)
        try c.send("GET /conn HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let a = try c.readResponse()
        try c.send("GET /conn HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let b = try c.readResponse()
        let first = a.bodyText.split(separator: " ")
        let second = b.bodyText.split(separator: " ")
        #expect(first.count == 2 && second.count == 2)
        // The same upstream connection, its second stream.
        #expect(first.first == second.first, "\(a.bodyText) / \(b.bodyText)")
        #expect(second.last == "2\n")
    }

    @Test func trailersArePassedWhenAsked() throws {
        let s = try start()
        defer { stop(s) }
        let raw = "GET /tr/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        let c = try RawClient(port: s.server.port)
        try c.send(raw)
        let text = String(decoding: c.readToEnd(), as: UTF8.self)
        // The upstream's trailer (its hidden Date left out), then the location's own.
        #expect(text.hasSuffix("4\r\nbody\r\n0\r\nx-trailer: foo\r\nX-Own: bar\r\n\r\n"), "\(text)")
        let d = try RawClient(port: s.server.port)
        try d.send(raw.replacingOccurrences(of: "/tr/", with: "/notr/"))
        let plain = String(decoding: d.readToEnd(), as: UTF8.self)
        #expect(plain.hasSuffix("0\r\nX-Own: bar\r\n\r\n"), "\(plain)")
    }

    @Test func anAnswerWithoutBodyKeepsTheConnectionToo() throws {
        let s = try start()
        defer { stop(s) }
        let c = try RawClient(port: s.server.port)
        try c.send("GET /empty HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let a = try c.readResponse()
        #expect(a.status == 204)
        try c.send("HEAD /conn HTTP/1.1\r\nHost: localhost\r\n\r\n")
        _ = try c.readResponse(headRequest: true)
        try c.send("GET /conn HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        let b = try c.readResponse()
        // The 204 (END_STREAM with its HEADERS) and the HEAD left the connection reusable.
        #expect(b.bodyText == "\(a.header("X-Conn") ?? "-") 3\n", "\(b.bodyText)")
    }
}
