// Choosing the server by listen address and Host, nginx's way: exact names,
// wildcards, the first server or `default_server` as the default, Host ports and
// case ignored.

import Foundation
import Testing

@Suite struct ServerSelectionTests {
    @Test func hostSelectsServer() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log;
                pid logs/swiftginx.pid;
                events {}
                http {
                    server { listen 127.0.0.1:PORT; server_name first.test; return 200 "first"; }
                    server { listen 127.0.0.1:PORT default_server; server_name dflt.test; return 200 "default"; }
                    server { listen 127.0.0.1:PORT; server_name www.example.com; return 200 "exact"; }
                    server { listen 127.0.0.1:PORT; server_name *.example.com; return 200 "wildcard"; }
                    server { listen 127.0.0.1:PORT; server_name .example.org; return 200 "dot"; }
                }
                """)
        try s.start()
        #expect(try get(s.port, "/", host: "first.test").bodyText == "first")
        #expect(try get(s.port, "/", host: "FIRST.test:8080").bodyText == "first")
        #expect(try get(s.port, "/", host: "www.example.com").bodyText == "exact")
        #expect(try get(s.port, "/", host: "api.example.com").bodyText == "wildcard")
        #expect(try get(s.port, "/", host: "example.org").bodyText == "dot")
        #expect(try get(s.port, "/", host: "a.b.example.org").bodyText == "dot")
        #expect(try get(s.port, "/", host: "unknown.test").bodyText == "default")
    }
}

extension ServerSelectionTests {
    /// nginx's details: a request without Host goes to the server named "" (a server
    /// without server_name has that name), `$server_name` of `.example.org` has no dot,
    /// and the Host name is taken without one trailing dot, also for IPv6 literals.
    @Test func emptyNameDotNamesAndIPLiterals() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log;
                pid logs/swiftginx.pid;
                events {}
                http {
                    server { listen 127.0.0.1:PORT; server_name first.test; return 200 "first"; }
                    server { listen 127.0.0.1:PORT; return 200 "unnamed"; }
                    server { listen 127.0.0.1:PORT; server_name .example.org; return 200 "$server_name $host"; }
                    server { listen 127.0.0.1:PORT; server_name [::1]; return 200 "v6 $host"; }
                }
                """)
        try s.start()
        let c = try RawClient(port: s.port)
        try c.send("GET / HTTP/1.0\r\n\r\n")
        #expect(try c.readResponse().bodyText == "unnamed")
        #expect(try get(s.port, "/", host: "www.Example.org.").bodyText == "example.org www.example.org")
        #expect(try get(s.port, "/", host: "[::1]:80").bodyText == "v6 [::1]")
        let bad = try RawClient(port: s.port)
        try bad.send("GET / HTTP/1.0\r\nHost: [::1].\r\n\r\n")
        #expect(try bad.readResponse().status == 400)
    }
}

@Suite struct ListenAddressTests {
    @Test func wildcardSocketDispatchesBySpecificAddress() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log;
                pid logs/swiftginx.pid;
                events {}
                http {
                    server { listen PORT; return 200 "wildcard $server_addr"; }
                    server { listen 127.0.0.2:PORT; return 200 "specific $server_addr"; }
                }
                """)
        try s.start()
        #expect(try get(s.port, "/").bodyText == "wildcard 127.0.0.1")
        let c = try RawClient(port: s.port, host: "127.0.0.2")
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().bodyText == "specific 127.0.0.2")
    }

    @Test func busyPortFailsLikeNginx() throws {
        let first = try TestServer()
        try first.start()
        let second = try TestServer()
        try second.writeConfig(TestServer.defaultConfig.replacingOccurrences(of: "PORT", with: "\(first.port)"))
        let r = try runBinary(["-p", second.prefix, "-c", "conf/swiftginx.conf"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("[emerg] bind() to 127.0.0.1:\(first.port) failed (98: Address already in use)"))
    }
}

/// nginx 1.29's request head additions: `max_headers` (a 400 "Request Header Or Cookie
/// Too Large" past the limit) and `$request_port` / `$is_request_port`.
@Suite struct RequestHeadLimitTests {
    @Test func maxHeadersAndRequestPort() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        max_headers 3;
                        return 200 "[$host$is_request_port$request_port]";
                    }
                }
                """)
        try s.start()
        #expect(try get(s.port, "/", host: "a").bodyText == "[a]")
        #expect(try get(s.port, "/", host: "a:8080").bodyText == "[a:8080]")
        let abs = try request(s.port, "GET http://b:81/ HTTP/1.0\r\nHost: a:82\r\n\r\n")
        #expect(abs.bodyText == "[b:81]")
        let many = try request(s.port, "GET / HTTP/1.0\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
        #expect(many.status == 400)
        #expect(many.bodyText.contains("Request Header Or Cookie Too Large"))
        #expect(try request(s.port, "GET / HTTP/1.0\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n").status == 200)
    }
}
