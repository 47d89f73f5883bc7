// HTTP/2 to clients over real loopback sockets: curl with --http2-prior-knowledge (h2c)
// and --http2 over TLS (ALPN), nghttp and h2load for many concurrent streams, and raw
// frames for the floods a server must survive (rapid reset, CONTINUATION flood, a
// header list over large_client_header_buffers), each checked with a normal client
// served at the same time. The nghttp2 command-line clients come from Debian's
// nghttp2-client, installed here when missing.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

/// HTTP/2 frames as a client writes them (the test's side only).
enum H2Frame {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [
            UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff), type, flags,
            UInt8(stream >> 24 & 0x7f), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff),
        ] + payload
    }

    static let settings = frame(4, 0, 0, [])
    /// HPACK: :method GET, :scheme http, :path / (static table indexes 2, 6, 4).
    static let getRoot: [UInt8] = [0x82, 0x86, 0x84]

    static func headers(_ stream: UInt32, _ block: [UInt8], endHeaders: Bool = true) -> [UInt8] {
        frame(1, (endHeaders ? 0x4 : 0) | 0x1, stream, block)
    }

    static func reset(_ stream: UInt32) -> [UInt8] { frame(3, 0, stream, [0, 0, 0, 8]) }

    /// Reads frames until a GOAWAY (its error code) or the connection closes (nil).
    static func readGoaway(_ c: RawClient) -> UInt32? {
        while true {
            let h = (try? c.readExactly(9)) ?? []
            if h.count < 9 { return nil }
            let n = Int(h[0]) << 16 | Int(h[1]) << 8 | Int(h[2])
            let p = (try? c.readExactly(n)) ?? []
            if p.count < n { return nil }
            if h[3] == 7 && n >= 8 { return UInt32(p[4]) << 24 | UInt32(p[5]) << 16 | UInt32(p[6]) << 8 | UInt32(p[7]) }
        }
    }
}

@Suite(.serialized) struct HTTP2Tests {
    static func requireClients() throws {
        if !FileManager.default.fileExists(atPath: "/usr/bin/nghttp") {
            _ = try runCommand(
                ["/bin/sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q nghttp2-client curl"],
                timeout: 300)
        }
    }

    func start(_ servers: String, files: [String: String] = [:]) throws -> TestServer {
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format h2 '$request $status $http2 $server_protocol $body_bytes_sent';
                    access_log logs/access.log h2;
                    \(servers)
                }
                """,
            files: files)
        try server.start()
        return server
    }

    func curl(_ args: [String]) throws -> CommandResult {
        try runCommand(["/usr/bin/curl", "-s", "--max-time", "10"] + args, timeout: 20)
    }

    static let big = String(repeating: "0123456789abcdef", count: 65536)

    static let plainServer = """
        server {
            listen 127.0.0.1:PORT;
            http2 on;
            http2_chunk_size 4k;
            root html;
            location /r { return 200 "$request $server_protocol [$http2]\\n"; }
            location /p/ { proxy_pass http://127.0.0.1:PORT/back/; }
            location /back/ { return 200 "back $request_method $http_x_test $content_length\\n"; }
            location /echo/ { proxy_pass http://127.0.0.1:PORT/body/; }
            location /body/ { client_max_body_size 10m; proxy_pass http://127.0.0.1:PORT/sink/; }
            location /small/ { client_max_body_size 10; proxy_pass http://127.0.0.1:PORT/sink/; }
            location /sink/ { return 200 "got $content_length\\n"; }
        }
        """

    @Test func priorKnowledgeServesStaticReturnAndErrors() throws {
        try Self.requireClients()
        let s = try start(Self.plainServer, files: ["html/a.txt": "site a\n", "html/big.bin": Self.big])
        defer { s.stop() }
        let r = try curl(["--http2-prior-knowledge", "-i", "http://127.0.0.1:\(s.port)/r"])
        #expect(r.stdout.hasPrefix("HTTP/2 200"), "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.hasSuffix("GET /r HTTP/2.0 HTTP/2.0 [h2c]\n"))
        #expect(!r.stdout.lowercased().contains("connection:"))
        let a = try curl(["--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/a.txt"])
        #expect(a.stdout == "site a\n")
        // 1 MiB read into DATA frames of http2_chunk_size, byte for byte.
        let big = try curl(["--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/big.bin"])
        #expect(big.stdout == Self.big)
        let head = try curl(["--http2-prior-knowledge", "-I", "http://127.0.0.1:\(s.port)/a.txt"])
        #expect(head.stdout.contains("content-length: 7"), "\(head.stdout)")
        let missing = try curl(["--http2-prior-knowledge", "-i", "http://127.0.0.1:\(s.port)/nope"])
        #expect(missing.stdout.hasPrefix("HTTP/2 404"))
        // HTTP/1.1 on the same address still works.
        let h1 = try curl(["http://127.0.0.1:\(s.port)/r"])
        #expect(h1.stdout == "GET /r HTTP/1.1 HTTP/1.1 []\n")
        #expect(s.waitForFile("logs/access.log", containing: "GET /big.bin HTTP/2.0 200 h2c HTTP/2.0 1048576"))
    }

    /// An answer made whole in memory that is larger than a stream's queue (an SSI page
    /// of 100 KB) arrives whole: the rest moves into the queue as it drains (it stalled
    /// at 80 KiB).
    @Test func aLargeAnswerMadeInMemoryArrivesWhole() throws {
        try Self.requireClients()
        let page = "<html>" + String(repeating: String(repeating: "x", count: 99) + "\n", count: 1000)
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location / { ssi on; }
            }
            """, files: ["html/page.html": page + "<!--# echo var=\"request_method\" -->end\n"])
        defer { s.stop() }
        let r = try curl(["--http2-prior-knowledge", "-m", "10", "http://127.0.0.1:\(s.port)/page.html"])
        #expect(r.stdout == page + "GETend\n", "\(r.stdout.count) bytes, \(r.stderr)")
    }

    @Test func proxiedAnswersAndRequestBodies() throws {
        try Self.requireClients()
        let s = try start(Self.plainServer)
        defer { s.stop() }
        let p = try curl(["--http2-prior-knowledge", "-H", "X-Test: yes", "http://127.0.0.1:\(s.port)/p/"])
        #expect(p.stdout == "back GET yes \n", "\(p.stderr)")
        // A body with its length, and one without (sent in DATA frames until END_STREAM).
        let file = s.prefix + "body.bin"
        try String(repeating: "x", count: 300_000).write(toFile: file, atomically: true, encoding: .utf8)
        let post = try curl([
            "--http2-prior-knowledge", "--data-binary", "@\(file)", "http://127.0.0.1:\(s.port)/echo/",
        ])
        #expect(post.stdout == "got 300000\n", "\(post.stderr)")
        let chunked = try curl([
            "--http2-prior-knowledge", "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file)",
            "http://127.0.0.1:\(s.port)/echo/",
        ])
        #expect(chunked.stdout == "got 300000\n", "\(chunked.stderr)")
        // client_max_body_size: nginx's 413.
        let large = try runCommand(
            ["/usr/bin/nghttp", "-nv", "-d", file, "http://127.0.0.1:\(s.port)/small/"], timeout: 20)
        #expect(large.stdout.contains(":status: 413"), "\(large.stdout)")
    }

    @Test func manyConcurrentStreams() throws {
        try Self.requireClients()
        let s = try start(Self.plainServer, files: ["html/a.txt": "site a\n"])
        defer { s.stop() }
        let r = try runCommand(
            ["/usr/bin/h2load", "-n", "400", "-c", "4", "-m", "20", "http://127.0.0.1:\(s.port)/a.txt"], timeout: 60)
        #expect(r.stdout.contains("400 succeeded, 0 failed, 0 errored"), "\(r.stdout)")
        let q = try runCommand(
            ["/usr/bin/h2load", "-n", "200", "-c", "2", "-m", "10", "http://127.0.0.1:\(s.port)/p/"], timeout: 60)
        #expect(q.stdout.contains("200 succeeded, 0 failed, 0 errored"), "\(q.stdout)")
    }

    @Test func alpnChoosesH2WhereHTTP2IsOn() throws {
        try Self.requireClients()
        let pki = try TestPKI()
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT ssl;
                server_name localhost;
                http2 on;
                \(pki.certificate("rsa"))
                location / { return 200 "$server_protocol $http2 $ssl_alpn_protocol\\n"; }
            }
            server {
                listen 127.0.0.1:PORT ssl;
                server_name b.test;
                \(pki.certificate("b"))
                location / { return 200 "$server_protocol [$http2]\\n"; }
            }
            """)
        defer { s.stop() }
        let a = try curl(["--http2", "--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/"])
        #expect(a.stdout == "HTTP/2.0 h2 h2\n", "\(a.stderr) \(s.read("logs/error.log"))")
        // The SNI server without http2: ALPN offers http/1.1 only.
        let b = try curl([
            "--http2", "--cacert", pki.path("ca.pem"), "--resolve", "b.test:\(s.port):127.0.0.1",
            "https://b.test:\(s.port)/",
        ])
        #expect(b.stdout == "HTTP/1.1 []\n", "\(b.stderr)")
    }

    /// CVE-2023-44487: streams opened and reset at once. The connection is ended with
    /// GOAWAY past nghttp2's rate limit; a normal client is served meanwhile.
    @Test func rapidResetIsCutOff() throws {
        try Self.requireClients()
        let s = try start(Self.plainServer, files: ["html/a.txt": "site a\n"])
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        var bytes = H2Frame.preface + H2Frame.settings
        var id: UInt32 = 1
        for _ in 0..<3000 {
            bytes += H2Frame.headers(id, H2Frame.getRoot) + H2Frame.reset(id)
            id += 2
        }
        try? c.send(bytes)
        let code = H2Frame.readGoaway(c)
        // nghttp2 ends the connection with INTERNAL_ERROR past its reset rate limit.
        #expect(code == nil || code == 2, "GOAWAY \(String(describing: code))")
        let a = try curl(["--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/a.txt"])
        #expect(a.stdout == "site a\n")
    }

    /// Endless CONTINUATION frames: the connection is closed after a few.
    @Test func continuationFloodIsCutOff() throws {
        try Self.requireClients()
        let s = try start(Self.plainServer, files: ["html/a.txt": "site a\n"])
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        var bytes = H2Frame.preface + H2Frame.settings + H2Frame.headers(1, H2Frame.getRoot, endHeaders: false)
        for _ in 0..<1000 { bytes += H2Frame.frame(9, 0, 1, [0x40, 1, 0x61, 1, 0x62]) }
        try? c.send(bytes)
        #expect(H2Frame.readGoaway(c) == 11)
        let a = try curl(["--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/a.txt"])
        #expect(a.stdout == "site a\n")
    }

    /// PING and SETTINGS floods from a client that reads nothing: the server's queue of
    /// answers stays bounded (reading stops behind 1 MiB of unsent frames; nghttp2 closes
    /// past 1000 queued ACKs) and a normal client is served meanwhile.
    @Test func pingAndSettingsFloodsStayBounded() throws {
        try Self.requireClients()
        let s = try start(Self.plainServer, files: ["html/a.txt": "site a\n"])
        defer { s.stop() }
        let c = try RawClient(port: s.port, timeoutSeconds: 2)
        var flood = H2Frame.preface + H2Frame.settings
        for i in 0..<30000 {
            flood += i % 2 == 0 ? H2Frame.frame(6, 0, 0, [UInt8](repeating: 1, count: 8)) : H2Frame.settings
        }
        try? c.send(flood)
        let a = try curl(["--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/a.txt"])
        #expect(a.stdout == "site a\n")
    }

    /// A header list past large_client_header_buffers: ENHANCE_YOUR_CALM, as nginx.
    @Test func headerListOverTheLimitIsRefused() throws {
        try Self.requireClients()
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                large_client_header_buffers 4 1k;
                location / { return 200 "ok\\n"; }
            }
            """)
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        // A literal field "a: xxx...x" (2000 bytes), not indexed: 0x00, name, value.
        let value = [UInt8](repeating: 0x78, count: 2000)
        let block = H2Frame.getRoot + [0x00, 1, 0x61, 0x7f, 0xd1, 0x0e] + value
        try c.send(H2Frame.preface + H2Frame.settings + H2Frame.headers(1, block))
        #expect(H2Frame.readGoaway(c) == 11)
        #expect(s.waitForFile("logs/error.log", containing: "client sent too large header field"))
        let ok = try curl(["--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/"])
        #expect(ok.stdout == "ok\n")
    }

    @Test func obsoleteDirectivesWarnAsNginx() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    http2_idle_timeout 30s;
                    http2_max_requests 10;
                    server { listen 127.0.0.1:PORT http2; }
                }
                """)
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(r.status == 0)
        #expect(
            r.stderr.contains(
                "[warn] the \"http2_idle_timeout\" directive is obsolete, use the \"keepalive_timeout\" directive instead"
            ), "\(r.stderr)")
        #expect(
            r.stderr.contains("the \"listen ... http2\" directive is deprecated, use the \"http2\" directive instead"))
    }
}
