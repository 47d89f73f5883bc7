// TLS 1.3 early data (0-RTT, `ssl_early_data`) and `ssl_buffer_size` over real sockets
// with `openssl s_client`: a first connection saves its session, the next ones resume it
// and send their request as early data. nginx 1.22 runs the same configuration and
// must give the same answers ($ssl_early_data is "1" only for requests read before the
// handshake finished; replays are accepted, as nginx, which turns OpenSSL's anti-replay
// off and leaves the decision to the application through $ssl_early_data).

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct TLSEarlyDataTests {
    /// `openssl s_client` through a shell (it reads its request from stdin or a file).
    func sClient(_ shell: String) throws -> String {
        try runCommand(["/bin/sh", "-c", shell], timeout: 30).stdout
    }

    /// What a client sees of early data on `port`: the lines that say whether the early
    /// data was accepted and the answers' bodies, for a fresh session, two resumptions
    /// (the second replays the first's ticket), two pipelined requests in early data,
    /// and a keep-alive connection whose second request follows the handshake.
    /// With `accepted` false the client sends no early data (the ticket does not allow
    /// it), so it must not wait for answers to requests it did not send.
    func earlyDataTranscript(port: Int, dir: String, accepted: Bool = true) throws -> [String] {
        let wait = accepted ? "-ign_eof" : ""
        let connect = "openssl s_client -connect 127.0.0.1:\(port) -tls1_3"
        let session = dir + "/session-\(port).pem"
        try "GET /one HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".write(
            toFile: dir + "/one.txt", atomically: true, encoding: .utf8)
        try "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\nGET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            .write(toFile: dir + "/two.txt", atomically: true, encoding: .utf8)
        try "GET /first HTTP/1.1\r\nHost: localhost\r\n\r\n".write(
            toFile: dir + "/first.txt", atomically: true, encoding: .utf8)
        func interesting(_ out: String) -> [String] {
            // (\r\n is one Character in Swift: split on every kind of line break.)
            out.split(whereSeparator: \.isNewline).map(String.init).filter {
                $0.hasPrefix("Early data") || $0.hasPrefix("early=") || $0.hasPrefix("Reused,") || $0.hasPrefix("New,")
            }
        }
        var lines: [String] = []
        lines += interesting(try sClient("\(connect) -sess_out \(session) -ign_eof < \(dir)/one.txt 2>/dev/null"))
        for _ in 0..<2 {
            lines += interesting(
                try sClient(
                    "\(connect) -sess_in \(session) -early_data \(dir)/one.txt \(wait) < /dev/null 2>/dev/null"))
        }
        lines += interesting(
            try sClient("\(connect) -sess_in \(session) -early_data \(dir)/two.txt \(wait) < /dev/null 2>/dev/null"))
        let later = "printf 'GET /later HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'"
        lines += interesting(
            try sClient(
                "(sleep 0.5; \(later)) | \(connect) -sess_in \(session) -early_data \(dir)/first.txt -ign_eof 2>/dev/null"
            ))
        return lines
    }

    /// swiftginx serving `servers` with access logs off.
    func startServer(_ servers: String, files: [String: String] = [:]) throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    \(servers)
                }
                """, files: files)
        try s.start()
        return s
    }

    func servers(_ pki: TestPKI, earlyData: Bool) -> String {
        """
        server {
            listen 127.0.0.1:PORT ssl;
            \(pki.certificate("ec"))
            ssl_protocols TLSv1.3;
            \(earlyData ? "ssl_early_data on;" : "")
            location / { return 200 "early=[$ssl_early_data] $uri reused=$ssl_session_reused\\n"; }
        }
        """
    }

    @Test func earlyDataIsReadAndAnsweredAsNginxDoes() throws {
        let pki = try TestPKI()
        let s = try startServer(servers(pki, earlyData: true))
        defer { s.stop() }
        let ours = try earlyDataTranscript(port: s.port, dir: pki.dir)
        let resumed = "Reused, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"
        let expected = [
            "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384", "Early data was not sent", "early=[] /one reused=.",
            resumed, "Early data was accepted", "early=[1] /one reused=r",
            resumed, "Early data was accepted", "early=[1] /one reused=r",  // a replay: accepted, as nginx
            resumed, "Early data was accepted", "early=[1] /a reused=r", "early=[1] /b reused=r",
            resumed, "Early data was accepted", "early=[1] /first reused=r", "early=[] /later reused=r",
        ]
        #expect(ours == expected, "\(s.read("logs/error.log"))")

        // nginx, same server block: the same transcript.
        try requireNginx()
        let (_, nginx) = try PrefixNginx.serving(servers(pki, earlyData: true))
        defer { nginx.stop() }
        let theirs = try earlyDataTranscript(port: nginx.port, dir: pki.dir)
        // nginx marks a request sent in early data only when it is read before the end
        // of the handshake arrives (a race on loopback); swiftginx answers each request
        // read from early data as such. Compare everything else.
        func unmarked(_ lines: [String]) -> [String] {
            lines.map { $0.replacingOccurrences(of: "early=[1]", with: "early=[]") }
        }
        #expect(unmarked(theirs) == unmarked(ours))
    }

    @Test func earlyDataIsRefusedByDefault() throws {
        let pki = try TestPKI()
        let s = try startServer(servers(pki, earlyData: false))
        defer { s.stop() }
        let lines = try earlyDataTranscript(port: s.port, dir: pki.dir, accepted: false)
        // The request sent after the handshake is answered, on the resumed session.
        // Tickets of a server without early data do not allow it: clients do not send it.
        #expect(!lines.contains("Early data was accepted"), "\(lines)")
        #expect(lines.filter { $0 == "Early data was not sent" }.count == 5, "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("early=[1]") })
        #expect(lines.contains("early=[] /later reused=r"), "\(lines)")
    }

    @Test func earlyDataRequestsAreProxiedWithTheEarlyDataHeader() throws {
        let pki = try TestPKI()
        let backend = try EchoBackend()
        defer { backend.stop() }
        let s = try startServer(
            """
            server {
                listen 127.0.0.1:PORT ssl;
                \(pki.certificate("ec"))
                ssl_early_data on;
                location / {
                    proxy_pass http://127.0.0.1:\(backend.port);
                    proxy_set_header Early-Data $ssl_early_data;
                }
            }
            """)
        defer { s.stop() }
        let connect = "openssl s_client -connect 127.0.0.1:\(s.port) -tls1_3"
        let session = pki.dir + "/proxy-session.pem"
        try "GET /app HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".write(
            toFile: pki.dir + "/app.txt", atomically: true, encoding: .utf8)
        let first = try sClient("\(connect) -sess_out \(session) -ign_eof < \(pki.dir)/app.txt 2>/dev/null")
        #expect(first.contains("\"target\": \"/app\""), "\(first)")
        #expect(!first.contains("Early-Data"))
        let early = try sClient(
            "\(connect) -sess_in \(session) -early_data \(pki.dir)/app.txt -ign_eof < /dev/null 2>/dev/null")
        #expect(early.contains("Early data was accepted"), "\(early)")
        #expect(early.contains("[\"Early-Data\", \"1\"]"), "\(early)\n\(s.read("logs/error.log"))")
    }

    @Test func sslBufferSizeCutsRecords() throws {
        let pki = try TestPKI()
        let body = String(repeating: "0123456789abcdef", count: 4096)  // 64 KiB
        func recordLengths(bufferSize: String) throws -> [Int] {
            let s = try startServer(
                """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("ec"))
                    ssl_protocols TLSv1.3;
                    \(bufferSize.isEmpty ? "" : "ssl_buffer_size \(bufferSize);")
                    root html;
                }
                """, files: ["html/big.txt": body])
            defer { s.stop() }
            let out = try sClient(
                "printf 'GET /big.txt HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
                    + "openssl s_client -connect 127.0.0.1:\(s.port) -msg -ign_eof 2>/dev/null")
            // `-msg` prints each record header read: "<<< ... RecordHeader" then "    17 03 03 LL LL".
            // (The body is printed without a line break before the next "<<<".)
            let lines = out.split(whereSeparator: \.isNewline).map(String.init)
            var lengths: [Int] = []
            for (i, line) in lines.enumerated() where line.contains("<<< ") && line.contains("RecordHeader") {
                guard i + 1 < lines.count else { break }
                let bytes = lines[i + 1].split(separator: " ")
                if bytes.count == 5, bytes[0] == "17", let n = Int(bytes[3] + bytes[4], radix: 16) { lengths.append(n) }
            }
            #expect(out.contains(String(body.suffix(64))), "the whole body arrived")
            return lengths
        }
        // TLS 1.3 records carry 17 bytes more than their payload (content type + tag).
        let small = try recordLengths(bufferSize: "4k")
        #expect(small.max() == 4096 + 17, "\(small)")
        #expect(small.filter { $0 == 4096 + 17 }.count >= 15)
        let standard = try recordLengths(bufferSize: "")
        #expect(standard.max() == 16384 + 17, "\(standard)")
    }
}
