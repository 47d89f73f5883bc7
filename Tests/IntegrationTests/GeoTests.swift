// nginx's geo module over real sockets: a variable chosen by the client's address
// (loopback clients from 127.0.0.1 and 127.0.0.2), by any value (`$arg_ip`), by
// X-Forwarded-For when the client is a listed proxy, by ranges; a unix-socket client
// counts as 255.255.255.255; a value is kept for the request unless `volatile`; and
// nginx answers the same for the same configuration and requests.

import Foundation
import Testing

@Suite(.serialized) struct GeoTests {
    static let http = """
        geo $net {
            default        world;
            127.0.0.1      one;
            127.0.0.0/8    loopback;
            192.0.2.0/24   test;
            2001:db8::/32  doc6;
        }
        geo $arg_ip $by_arg {
            default        default;
            192.0.2.0/24   test;
            192.0.2.128/25 upper;
            2001:db8::/32  doc6;
            255.255.255.255 none;
        }
        geo $arg_ip $by_range {
            ranges;
            default                default;
            10.0.0.0-10.0.255.255  ten;
            10.0.1.0-10.0.1.9      ten-one;
        }
        geo $via_proxy {
            default        default;
            proxy          127.0.0.1;
            127.0.0.0/8    loopback;
            192.0.2.0/24   test;
        }
        geo $via_proxies {
            proxy_recursive;
            default        default;
            proxy          127.0.0.0/8;
            proxy          10.0.0.0/8;
            192.0.2.0/24   test;
        }
        geo $unix {
            default          default;
            255.255.255.255  unix;
        }
        """

    static let servers = """
        server {
            listen 127.0.0.1:PORT;
            location / {
                return 200 "$net|$by_arg|$by_range|$via_proxy|$via_proxies\\n";
            }
        }
        """

    /// (path, extra header lines, expected body).
    static let cases: [(String, String, String)] = [
        // No `ip` argument: not an address, looked up as 255.255.255.255.
        ("/", "", "one|none|default|loopback|default\n"),
        ("/?ip=192.0.2.1", "", "one|test|default|loopback|default\n"),
        ("/?ip=192.0.2.200", "", "one|upper|default|loopback|default\n"),
        ("/?ip=2001:db8::1", "", "one|doc6|default|loopback|default\n"),
        ("/?ip=::ffff:192.0.2.1", "", "one|test|default|loopback|default\n"),
        ("/?ip=nonsense", "", "one|none|default|loopback|default\n"),
        ("/?ip=10.0.1.5", "", "one|default|ten-one|loopback|default\n"),
        ("/?ip=10.0.2.5", "", "one|default|ten|loopback|default\n"),
        ("/", "X-Forwarded-For: 192.0.2.1\r\n", "one|none|default|test|test\n"),
        ("/", "X-Forwarded-For: 192.0.2.1, 127.0.0.1\r\n", "one|none|default|loopback|test\n"),
        ("/", "X-Forwarded-For: 192.0.2.1, 10.1.1.1\r\n", "one|none|default|default|test\n"),
        ("/", "X-Forwarded-For: 192.0.2.1\r\nX-Forwarded-For: 10.1.1.1\r\n", "one|none|default|default|test\n"),
        ("/", "X-Forwarded-For: junk\r\n", "one|none|default|loopback|default\n"),
    ]

    func start(_ servers: String = servers) throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    \(Self.http)
                    \(servers)
                }
                """)
        try s.start()
        return s
    }

    func ask(_ port: Int, _ path: String, _ extra: String) throws -> HTTPResponse {
        try request(port, "GET \(path) HTTP/1.1\r\nHost: x\r\n\(extra)Connection: close\r\n\r\n")
    }

    @Test func valuesByAddressArgumentAndProxy() throws {
        let s = try start()
        defer { s.stop() }
        for (path, extra, expected) in Self.cases {
            #expect(try ask(s.port, path, extra).bodyText == expected, "\(path) \(extra)")
        }
        let c = try RawClient(port: s.port, from: "127.0.0.2")
        try c.send("GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 192.0.2.1\r\nConnection: close\r\n\r\n")
        // Not the listed proxy for $via_proxy; inside 127.0.0.0/8 for $via_proxies.
        #expect(try c.readResponse().bodyText == "loopback|none|default|loopback|test\n")
    }

    @Test func aUnixClientIsAllOnes() throws {
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                listen unix:PREFIXlogs/g.sock;
                location / { return 200 "$unix|$net\\n"; }
            }
            """)
        defer { s.stop() }
        let c = try RawClient(unixPath: s.prefix + "logs/g.sock")
        try c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try c.readResponse().bodyText == "unix|world\n")
        #expect(try ask(s.port, "/", "").bodyText == "default|one\n")
    }

    @Test func aValueIsKeptUnlessVolatile() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    geo $arg_ip $kept { 192.0.2.1 first; 192.0.2.2 second; }
                    geo $arg_ip $fresh { volatile; 192.0.2.1 first; 192.0.2.2 second; }
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            set $a $kept$fresh;
                            set $args ip=192.0.2.2;
                            return 200 "$a $kept $fresh\\n";
                        }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        #expect(try ask(s.port, "/?ip=192.0.2.1", "").bodyText == "firstfirst first second\n")
    }

    /// `ssl_certificate $geo.crt`: the certificate is chosen by the client's address
    /// during the handshake (127.0.0.1 gets the ECDSA CN=localhost, others CN=b.test).
    @Test func certificatesChosenByAddress() throws {
        let pki = try TestPKI()
        for (from, to) in [("ec", "near"), ("b", "far")] {
            try FileManager.default.copyItem(atPath: pki.path(from + ".pem"), toPath: pki.path(to + ".crt"))
            try FileManager.default.copyItem(atPath: pki.path(from + ".key"), toPath: pki.path(to + ".key"))
        }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    geo $cert { default far; 127.0.0.1 near; }
                    server {
                        listen 127.0.0.1:PORT ssl;
                        ssl_certificate \(pki.dir)/$cert.crt;
                        ssl_certificate_key \(pki.dir)/$cert.key;
                        location / { return 200 "$cert\\n"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        func fetch(from source: String) throws -> CommandResult {
            try runCommand(
                [
                    "/usr/bin/curl", "-s", "-v", "--max-time", "10", "--interface", source, "--cacert",
                    pki.path("ca.pem"),
                    "https://127.0.0.1:\(s.port)/",
                ], timeout: 20)
        }
        let near = try fetch(from: "127.0.0.1")
        #expect(near.stdout == "near\n", "\(near.stderr) \(s.read("logs/error.log"))")
        #expect(near.stderr.contains("CN=localhost"))
        let far = try fetch(from: "127.0.0.2")
        #expect(far.stdout == "far\n", "\(far.stderr)")
        #expect(far.stderr.contains("CN=b.test"))
    }

    @Test func theSameAnswersAsNginx() throws {
        try requireNginx()
        let (_, nginx) = try PrefixNginx.serving(Self.http + Self.servers)
        defer { nginx.stop() }
        let s = try start()
        defer { s.stop() }
        for (path, extra, _) in Self.cases {
            let ours = try ask(s.port, path, extra)
            let theirs = try ask(nginx.port, path, extra)
            #expect(ours.bodyText == theirs.bodyText, "\(path) \(extra)")
        }
    }
}
