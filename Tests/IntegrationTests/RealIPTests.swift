// nginx's realip module over real sockets: a trusted front proxy's X-Forwarded-For (last
// address, or with real_ip_recursive the last untrusted one) or X-Real-IP becomes
// $remote_addr, access rules and log lines; $realip_remote_addr keeps the connection's;
// an untrusted connection or a value that is not an address changes nothing; and nginx
// answers the same for the same configuration and requests.

import Foundation
import Testing

@Suite(.serialized) struct RealIPTests {
    static let servers = """
        server {
            listen 127.0.0.1:PORT default_server;
            set_real_ip_from 127.0.0.1;
            real_ip_header X-Forwarded-For;
            location / { return 200 "$remote_addr|$realip_remote_addr\\n"; }
            location /port/ { return 200 "[$remote_port]\\n"; }
            location /denied/ { root html; deny 203.0.113.7; }
        }
        server {
            listen 127.0.0.1:PORT;
            server_name rec.test;
            set_real_ip_from 127.0.0.1;
            set_real_ip_from 10.0.0.0/8;
            real_ip_header X-Forwarded-For;
            real_ip_recursive on;
            location / { return 200 "$remote_addr|$realip_remote_addr\\n"; }
        }
        server {
            listen 127.0.0.1:PORT;
            server_name xri.test;
            location / { return 200 "$remote_addr\\n"; }
            location /trusted/ {
                # A location's own realip settings apply in the preaccess phase: after
                # `return` (rewrite phase), before access rules and content.
                root html;
                set_real_ip_from 127.0.0.0/8;
                real_ip_header X-Real-IP;
                add_header X-Addr $remote_addr;
            }
        }
        """

    static let files = ["html/denied/f.txt": "in\n", "html/trusted/f.txt": "trusted\n"]

    func start() throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    \(Self.servers)
                }
                """, files: Self.files)
        try s.start()
        return s
    }

    /// (host, path, extra header lines, expected body).
    static let cases: [(String, String, String, String)] = [
        ("x", "/", "X-Forwarded-For: 203.0.113.7\r\n", "203.0.113.7|127.0.0.1\n"),
        ("x", "/", "X-Forwarded-For: 198.51.100.1, 203.0.113.7\r\n", "203.0.113.7|127.0.0.1\n"),
        ("x", "/", "X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 2001:db8::5\r\n", "2001:db8::5|127.0.0.1\n"),
        ("x", "/", "X-Forwarded-For: junk\r\n", "127.0.0.1|127.0.0.1\n"),
        ("x", "/", "", "127.0.0.1|127.0.0.1\n"),
        ("rec.test", "/", "X-Forwarded-For: 198.51.100.1, 10.1.1.1, 10.2.2.2\r\n", "198.51.100.1|127.0.0.1\n"),
        ("rec.test", "/", "X-Forwarded-For: 10.1.1.1, 10.2.2.2\r\n", "10.1.1.1|127.0.0.1\n"),
        ("xri.test", "/", "X-Real-IP: 192.0.2.9\r\n", "127.0.0.1\n"),
        ("x", "/port/", "X-Forwarded-For: 203.0.113.7\r\n", "[]\n"),
    ]

    func ask(_ port: Int, _ host: String, _ path: String, _ extra: String) throws -> HTTPResponse {
        try request(port, "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(extra)Connection: close\r\n\r\n")
    }

    @Test func theTrustedProxysHeaderGivesTheClientAddress() throws {
        let s = try start()
        defer { s.stop() }
        for (host, path, extra, expected) in Self.cases {
            let r = try ask(s.port, host, path, extra)
            #expect(r.bodyText == expected, "\(host)\(path) \(extra)")
        }
    }

    @Test func accessRulesAndLogLinesSeeTheRealAddress() throws {
        let s = try start()
        defer { s.stop() }
        let d = try ask(s.port, "x", "/denied/f.txt", "X-Forwarded-For: 203.0.113.7\r\n")
        #expect(d.status == 403, "\(d.status) \(d.bodyText) \(s.read("logs/error.log"))")
        #expect(s.waitForFile("logs/error.log", containing: "access forbidden by rule, client: 203.0.113.7"))
        #expect(try ask(s.port, "x", "/denied/f.txt", "X-Forwarded-For: 203.0.113.8\r\n").status == 200)
        // A location's own settings: X-Real-IP, applied before the content handler.
        let t = try ask(s.port, "xri.test", "/trusted/f.txt", "X-Real-IP: 192.0.2.9\r\n")
        #expect(t.header("X-Addr") == "192.0.2.9")
    }

    @Test func anUntrustedConnectionKeepsItsAddress() throws {
        let s = try start()
        defer { s.stop() }
        let c = try RawClient(port: s.port, from: "127.0.0.2")
        try c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\nConnection: close\r\n\r\n")
        #expect(try c.readResponse().bodyText == "127.0.0.2|127.0.0.2\n")
    }

    @Test func theSameAnswersAsNginx() throws {
        try requireNginx()
        let (prefix, nginx) = try PrefixNginx.serving(Self.servers)
        defer { nginx.stop() }
        for (path, body) in Self.files { try prefix.write(path, body) }
        let s = try start()
        defer { s.stop() }
        for (host, path, extra, _) in Self.cases {
            let ours = try ask(s.port, host, path, extra)
            let theirs = try ask(nginx.port, host, path, extra)
            #expect(ours.status == theirs.status, "\(host)\(path) \(extra)")
            #expect(ours.bodyText == theirs.bodyText, "\(host)\(path) \(extra)")
        }
        for (host, path, extra) in [
            ("x", "/denied/f.txt", "X-Forwarded-For: 203.0.113.7\r\n"),
            ("x", "/denied/f.txt", "X-Forwarded-For: 198.51.100.1, 203.0.113.8\r\n"),
            ("xri.test", "/trusted/f.txt", "X-Real-IP: 192.0.2.9\r\n"),
            ("xri.test", "/trusted/f.txt", "X-Real-IP: nonsense\r\n"),
        ] {
            let ours = try ask(s.port, host, path, extra)
            let theirs = try ask(nginx.port, host, path, extra)
            #expect(ours.status == theirs.status, "\(host)\(path) \(extra)")
            #expect(ours.header("X-Addr") == theirs.header("X-Addr"), "\(host)\(path) \(extra)")
        }
    }
}
