// Listeners and connection lifetime over real sockets: `listen unix:/path`
// ($remote_addr "unix:", allow/deny unix:, the socket file removed at stop), port
// ranges, `listen ... proxy_protocol` (v1 and v2 headers, split or with the request,
// realip from them, a broken header closing the connection), worker_shutdown_timeout
// after a reload, and the keep-alive limits keepalive_time and keepalive_disable.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct ListenTests {
    @Test func unixSocketListener() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        listen unix:PREFIXlogs/u.sock;
                        location / { return 200 "[$remote_addr|$remote_port|$server_port|$binary_remote_addr]"; }
                        location /unix-only { allow unix:; deny all; }
                    }
                }
                """)
        try s.start()
        defer { s.cleanup() }
        let path = s.prefix + "logs/u.sock"
        let c = try RawClient(unixPath: path)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().bodyText == "[unix:|||unix:]")
        try c.send("GET /unix-only HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().status == 404)
        #expect(try get(s.port, "/unix-only").status == 403)
        #expect(try get(s.port, "/").bodyText.hasPrefix("[127.0.0.1|"))
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func portRange() throws {
        guard let low = Self.adjacentFreePorts() else {
            Issue.record("no two adjacent free ports")
            return
        }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        listen 127.0.0.1:\(low)-\(low + 1);
                        location / { return 200 "$server_port"; }
                    }
                }
                """)
        try s.start()
        defer { s.cleanup() }
        #expect(try get(low, "/").bodyText == "\(low)")
        #expect(try get(low + 1, "/").bodyText == "\(low + 1)")
    }

    /// A free port whose successor is free too.
    static func adjacentFreePorts() -> Int? {
        func free(_ port: Int) -> Bool {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = inet_addr("127.0.0.1")
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            return withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) }
            } == 0
        }
        for _ in 0..<50 {
            let p = freePort()
            if p < 65535 && free(p + 1) { return p }
        }
        return nil
    }

    static let proxyProtocolConfig = """
        \(TestServer.preamble)
        http {
            access_log off;
            server {
                listen 127.0.0.1:PORT proxy_protocol;
                set_real_ip_from 127.0.0.1;
                location / {
                    return 200 "$remote_addr $proxy_protocol_addr:$proxy_protocol_port>$proxy_protocol_server_addr:$proxy_protocol_server_port $proxy_protocol_tlv_alpn";
                }
                location /real {
                    # A location's realip runs in the preaccess phase: after `return`.
                    real_ip_header proxy_protocol;
                    add_header X-Real "$remote_addr:$remote_port $realip_remote_addr" always;
                }
            }
        }
        """

    @Test func proxyProtocolHeaders() throws {
        let s = try TestServer(config: Self.proxyProtocolConfig)
        try s.start()
        defer { s.cleanup() }
        let v1 = "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n"
        // The header with the request, then split byte by byte.
        var c = try RawClient(port: s.port)
        try c.send(v1 + "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().bodyText == "127.0.0.1 192.0.2.1:123>192.0.2.2:5678 ")
        c = try RawClient(port: s.port)
        for b in Array(v1.utf8) {
            try c.send([b])
            usleep(2000)
        }
        try c.send("GET /real HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().header("X-Real") == "192.0.2.1:123 127.0.0.1")
        // Keep-alive: the header is read once.
        try c.send("GET /real HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().header("X-Real") == "192.0.2.1:123 127.0.0.1")

        var v2: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0, 43]
        v2 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        v2 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
        v2 += [0, 80, 1, 187] + [0x01, 0, 4] + Array("h2ok".utf8)
        c = try RawClient(port: s.port)
        try c.send(v2 + Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try c.readResponse().bodyText == "127.0.0.1 2001:db8::1:80>2001:db8::2:443 h2ok")

        c = try RawClient(port: s.port)
        try c.send("PROXY UNKNOWN\r\nGET /real HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().header("X-Real")?.hasPrefix("127.0.0.1:") == true)

        // Not a PROXY header: closed without an answer, logged as nginx logs it.
        c = try RawClient(port: s.port)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.readToEnd().isEmpty)
        #expect(
            s.waitForFile(
                "logs/error.log", containing: "broken header: \"GET / HTTP/1.1\" while reading PROXY protocol"))
    }

    @Test func workerShutdownTimeoutClosesOldConnectionsAfterAReload() throws {
        let config = { (timeout: String) in
            """
            daemon off;
            error_log logs/error.log info;
            pid logs/swiftginx.pid;
            \(timeout)
            events {}
            http { access_log off; server { listen 127.0.0.1:PORT; location / { return 200 "ok"; } } }
            """
        }
        // Without the directive a reload closes nothing.
        let s = try TestServer(config: config(""))
        try s.start()
        defer { s.cleanup() }
        let held = try RawClient(port: s.port)
        try s.writeConfig(config("worker_shutdown_timeout 100ms;"))
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "(generation 2)"))
        #expect(!held.isClosedByPeerWithin(milliseconds: 500))
        try held.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try held.readResponse().status == 200)
        // The configuration being replaced has the timeout: its connections are closed.
        let idle = try RawClient(port: s.port)
        #expect(!idle.isClosedByPeerWithin(milliseconds: 300))
        s.signal(SIGHUP)
        #expect(idle.isClosedByPeerWithin(milliseconds: 3000))
        #expect(held.isClosedByPeerWithin(milliseconds: 3000))
        // New connections are served.
        #expect(try get(s.port, "/").status == 200)
    }

    @Test func keepaliveTimeAndDisable() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        location / { return 200 "$connection_requests"; }
                        location /time { keepalive_time 500ms; return 200 "$connection_time"; }
                        location /safari { keepalive_disable safari; return 200 "s"; }
                    }
                }
                """)
        try s.start()
        defer { s.cleanup() }
        let c = try RawClient(port: s.port)
        try c.send("GET /time HTTP/1.1\r\nHost: x\r\n\r\n")
        var r = try c.readResponse()
        #expect(r.header("Connection") == "keep-alive")
        #expect(r.bodyText.hasPrefix("0."))
        usleep(700_000)
        try c.send("GET /time HTTP/1.1\r\nHost: x\r\n\r\n")
        r = try c.readResponse()
        #expect(r.header("Connection") == "close")
        #expect((Double(r.bodyText) ?? 0) >= 0.5)

        let safari = "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15) Safari/605.1.15\r\n"
        let msie = "User-Agent: Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)\r\n"
        func connection(_ path: String, _ method: String, _ ua: String) throws -> String? {
            try request(s.port, "\(method) \(path) HTTP/1.1\r\nHost: x\r\n\(ua)Content-Length: 0\r\n\r\n")
                .header("Connection")
        }
        #expect(try connection("/safari", "GET", safari) == "close")
        #expect(try connection("/", "GET", safari) == "keep-alive")
        #expect(try connection("/", "POST", msie) == "close")
        #expect(try connection("/", "GET", msie) == "keep-alive")
        #expect(try connection("/safari", "POST", msie) == "keep-alive")
    }
}
