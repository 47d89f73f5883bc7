// TLS termination over real sockets with real clients: curl (--cacert, --resolve for
// SNI), `openssl s_client` and Python's ssl module (session resumption across
// connections and worker threads). Certificates come from Support/TestPKI.swift;
// record-level cases (a corrupt record, short reads) are in TLSRecordTests.swift.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct TLSTests {
    /// Support/tls_resume.py: session resumption as a Python client sees it.
    static let resumeScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/tls_resume.py"
    ).path

    func start(_ pki: TestPKI, servers: String, plainPort: Bool = false) throws -> TestServer {
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log logs/access.log;
                    log_format tls '$ssl_protocol $ssl_session_reused $scheme $https "$ssl_server_name"';
                    \(servers)
                }
                """,
            files: ["html/a.txt": "site a\n", "html/big.bin": String(repeating: "0123456789abcdef", count: 65536)])
        try server.start()
        return server
    }

    func curl(_ args: [String]) throws -> CommandResult {
        try runCommand(["/usr/bin/curl", "-s", "--max-time", "10"] + args, timeout: 20)
    }

    @Test func servesHTTPSWithSNIAndPlainHTTPOnTheSamePort() throws {
        let pki = try TestPKI()
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    server_name localhost a.test;
                    \(pki.certificate("rsa"))
                    ssl_session_cache shared:SSL:1m;
                    access_log logs/tls.log tls;
                    root html;
                    error_page 497 https://$host:$server_port$request_uri;
                }
                server {
                    listen 127.0.0.1:PORT ssl;
                    server_name b.test;
                    \(pki.certificate("b"))
                    location / { return 200 "site b $https $scheme $ssl_server_name\\n"; }
                }
                """)
        defer { s.stop() }
        let a = try curl(["--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/a.txt"])
        #expect(a.status == 0, "\(a.stderr) \(s.read("logs/error.log"))")
        #expect(a.stdout == "site a\n")
        // SNI b.test: the second server's certificate (CN=b.test) and content.
        let b = try curl([
            "--cacert", pki.path("ca.pem"), "--resolve", "b.test:\(s.port):127.0.0.1", "-v",
            "https://b.test:\(s.port)/",
        ])
        #expect(b.stdout == "site b on https b.test\n", "\(b.stderr)")
        #expect(b.stderr.contains("CN=b.test"))
        // A 1 MiB file over TLS, byte for byte.
        let big = try curl(["--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/big.bin"])
        #expect(big.stdout.count == 1_048_576)
        // Plain HTTP to the HTTPS port: error_page 497 redirects (nginx's recipe).
        let plain = try get(s.port, "/a.txt?x=1", host: "localhost:\(s.port)")
        #expect(plain.status == 302)
        #expect(plain.header("Location") == "https://localhost:\(s.port)/a.txt?x=1")
        #expect(s.waitForFile("logs/tls.log", containing: "TLSv1.3 . https on \"localhost\""))
    }

    /// A record that does not decrypt, after the handshake: the connection is closed and
    /// the OpenSSL failure is logged as nginx logs it ("... while processing SSL connection").
    @Test func plainHTTPWithoutErrorPageGetsNginxs400() throws {
        let pki = try TestPKI()
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("ec"))
                }
                """)
        defer { s.stop() }
        let r = try get(s.port, "/")
        #expect(r.status == 400)
        #expect(r.bodyText.contains("<title>400 The plain HTTP request was sent to HTTPS port</title>"))
    }

    @Test func protocolsAreRestrictedAndALPNIsHTTP11() throws {
        let pki = try TestPKI()
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("rsa"))
                    ssl_protocols TLSv1.3;
                    location / { return 200 "$ssl_protocol $ssl_cipher $ssl_alpn_protocol\\n"; }
                }
                """)
        defer { s.stop() }
        let ok = try curl(["--cacert", pki.path("ca.pem"), "--http1.1", "https://localhost:\(s.port)/"])
        #expect(ok.stdout.hasPrefix("TLSv1.3 TLS_"), "\(ok.stderr)")
        #expect(ok.stdout.hasSuffix(" http/1.1\n"))
        let old = try curl(["--cacert", pki.path("ca.pem"), "--tls-max", "1.2", "https://localhost:\(s.port)/"])
        #expect(old.status != 0)
        #expect(s.waitForFile("logs/error.log", containing: "SSL_do_handshake() failed"))
    }

    @Test func sessionsAreResumedAcrossConnectionsAndWorkers() throws {
        let pki = try TestPKI()
        for (cache, tickets) in [("shared:SSL:1m", "off"), ("none", "on")] {
            let s = try TestServer(
                config: """
                    worker_processes 2;
                    \(TestServer.preamble)
                    http {
                        server {
                            listen 127.0.0.1:PORT ssl;
                            \(pki.certificate("rsa"))
                            ssl_session_cache \(cache);
                            ssl_session_tickets \(tickets);
                            location / { return 200 "$ssl_session_reused"; }
                        }
                    }
                    """)
            try s.start()
            defer { s.stop() }
            for version in ["1.2", "1.3"] {
                let r = try runCommand(
                    ["/usr/bin/python3", Self.resumeScript, String(s.port), pki.path("ca.pem"), version])
                // The first connection is full, every later one resumed (whichever worker accepts it).
                #expect(
                    r.stdout == ". r r r r r r r\n",
                    "cache \(cache) tickets \(tickets) TLS \(version): \(r.stdout) \(r.stderr)")
            }
        }
    }

    /// `shared:NAME` keeps its ticket keys and its sessions across reloads (nginx's zone):
    /// with tickets (on) and with session ids only (off), TLS 1.2 and 1.3.
    @Test(arguments: ["on", "off"])
    func sessionsIssuedBeforeAReloadResumeAfterIt(tickets: String) throws {
        let pki = try TestPKI()
        // One connection, a reload (signalled by the script itself once it holds the
        // session), then a new connection offering the session issued before the reload.
        func config(_ generation: Int) -> String {
            """
            \(TestServer.preamble)
            http {
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("rsa"))
                    ssl_session_cache shared:SSL:1m;
                    ssl_session_tickets \(tickets);
                    location / { return 200 "gen\(generation)"; }
                }
            }
            """
        }
        let s = try TestServer(config: config(0))
        try s.start()
        defer { s.stop() }
        for (n, version) in ["1.2", "1.3"].enumerated() {
            try s.writeConfig(config(n + 1))
            let r = try runCommand([
                "/usr/bin/python3", Self.resumeScript, String(s.port), pki.path("ca.pem"), version, "--reload",
                String(s.pid),
            ])
            #expect(
                r.stdout == "gen\(n) gen\(n + 1) reused\n",
                "tickets \(tickets), TLS \(version): \(r.stdout) \(r.stderr)")
        }
    }

    @Test func clientCertificatesAreVerified() throws {
        let pki = try TestPKI()
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("rsa"))
                    ssl_client_certificate \(pki.path("ca.pem"));
                    ssl_verify_client on;
                    location / { return 200 "$ssl_client_verify $ssl_client_s_dn\\n"; }
                }
                """)
        defer { s.stop() }
        let ok = try curl([
            "--cacert", pki.path("ca.pem"), "--cert", pki.path("client.pem"), "--key", pki.path("client.key"),
            "https://localhost:\(s.port)/",
        ])
        #expect(ok.stdout.hasPrefix("SUCCESS "), "\(ok.stderr)")
        #expect(ok.stdout.contains("CN=test client"))
        let none = try curl(["--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/"])
        #expect(none.stdout.contains("<title>400 No required SSL certificate was sent</title>"))
        // A certificate from another CA: "The SSL certificate error".
        let other = try TestPKI()
        let bad = try curl([
            "--cacert", pki.path("ca.pem"), "--cert", other.path("client.pem"), "--key", other.path("client.key"),
            "https://localhost:\(s.port)/",
        ])
        #expect(bad.stdout.contains("<title>400 The SSL certificate error</title>"), "\(bad.stderr)")
    }

    @Test func reloadPicksUpRenewedCertificates() throws {
        let pki = try TestPKI()
        try FileManager.default.copyItem(atPath: pki.path("rsa.pem"), toPath: pki.path("live.pem"))
        try FileManager.default.copyItem(atPath: pki.path("rsa.key"), toPath: pki.path("live.key"))
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("live"))
                    location / { return 200 "ok\\n"; }
                }
                """)
        defer { s.stop() }
        let url = "https://b.test:\(s.port)/"
        let resolve = ["--resolve", "b.test:\(s.port):127.0.0.1", "--cacert", pki.path("ca.pem"), "-v", url]
        let before = try curl(resolve)
        #expect(before.stderr.contains("CN=localhost"))
        // An open keep-alive connection survives the reload.
        let held = try RawClient(port: s.port)
        // Renew: the b.test certificate replaces the files, then HUP.
        for (from, to) in [("b.pem", "live.pem"), ("b.key", "live.key")] {
            try FileManager.default.removeItem(atPath: pki.path(to))
            try FileManager.default.copyItem(atPath: pki.path(from), toPath: pki.path(to))
        }
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "reconfigured"), "\(s.read("logs/error.log"))")
        let after = try curl(resolve)
        #expect(after.stderr.contains("CN=b.test"), "\(after.stderr)")
        #expect(after.stdout == "ok\n")
        #expect(!held.isClosedByPeerWithin(milliseconds: 200))
    }

    @Test func proxiesToHTTPSUpstreams() throws {
        try requireNginx()
        let pki = try TestPKI()
        let s = try TestServer(config: nil)
        // nginx as the https upstream, reporting what it saw of the TLS connection.
        let backend = try PrefixNginx(
            prefix: s.prefix,
            config: """
                \(PrefixNginx.preamble)
                http {
                    access_log off;
                    \(PrefixNginx.tempPaths)
                    server {
                        listen 127.0.0.1:PORT ssl;
                        \(pki.certificate("rsa"))
                        ssl_session_cache builtin:1000;
                        ssl_protocols TLSv1.2;
                        location / { return 200 "upstream $ssl_protocol sni=$ssl_server_name reused=$ssl_session_reused\\n"; }
                    }
                }
                """)
        defer { backend.stop() }
        try s.writeConfig(
            """
            \(TestServer.preamble)
            http {
                server {
                    listen 127.0.0.1:PORT;
                    location /verified/ {
                        proxy_pass https://127.0.0.1:\(backend.port)/;
                        proxy_ssl_verify on;
                        proxy_ssl_trusted_certificate \(pki.path("ca.pem"));
                        proxy_ssl_name localhost;
                        proxy_ssl_server_name on;
                    }
                    location /wrongname/ {
                        proxy_pass https://127.0.0.1:\(backend.port)/;
                        proxy_ssl_verify on;
                        proxy_ssl_trusted_certificate \(pki.path("ca.pem"));
                        proxy_ssl_name wrong.test;
                    }
                    location /plain/ { proxy_pass https://127.0.0.1:\(backend.port)/; }
                }
            }
            """)
        try s.start()
        defer { s.stop() }
        let ok = try get(s.port, "/verified/x")
        #expect(ok.status == 200)
        #expect(ok.bodyText.hasPrefix("upstream TLSv1.2 sni=localhost"), "\(ok.bodyText) \(s.read("logs/error.log"))")
        // The session of the first connection is resumed by the next ones.
        var reused = false
        for _ in 0..<4 where !reused { reused = try get(s.port, "/verified/x").bodyText.contains("reused=r") }
        #expect(reused)
        let plain = try get(s.port, "/plain/x")
        #expect(plain.status == 200)
        #expect(plain.bodyText.contains("sni= "))
        let wrong = try get(s.port, "/wrongname/x")
        #expect(wrong.status == 502)
        #expect(s.waitForFile("logs/error.log", containing: "while SSL handshaking to upstream"))
    }

    @Test func cipherRestrictionAndIntermediateChain() throws {
        let pki = try TestPKI()
        // leaf ← intermediate ← root: the server sends leaf + intermediate, the client trusts the root.
        func openssl(_ args: [String]) throws {
            let r = try runCommand(["/usr/bin/env", "-C", pki.dir, "openssl"] + args)
            if r.status != 0 { throw TestFailure("openssl \(args): \(r.stderr)") }
        }
        try "basicConstraints=critical,CA:true\n".write(toFile: pki.path("ca.ext"), atomically: true, encoding: .utf8)
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "int.key", "-out", "int.csr", "-subj",
            "/CN=intermediate",
        ])
        try openssl([
            "x509", "-req", "-in", "int.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "int.pem",
            "-days", "2", "-extfile", "ca.ext",
        ])
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost",
        ])
        try openssl([
            "x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial", "-out",
            "leaf-only.pem", "-days", "2", "-extfile", "san.ext",
        ])
        let chain =
            (try String(contentsOfFile: pki.path("leaf-only.pem"), encoding: .utf8))
            + (try String(contentsOfFile: pki.path("int.pem"), encoding: .utf8))
        try chain.write(toFile: pki.path("leaf.pem"), atomically: true, encoding: .utf8)
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("leaf"))
                    ssl_protocols TLSv1.2;
                    ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256;
                    location / { return 200 "$ssl_cipher\\n"; }
                }
                """)
        defer { s.stop() }
        let ok = try curl(["--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/"])
        #expect(ok.stdout == "ECDHE-RSA-AES128-GCM-SHA256\n", "\(ok.stderr)")
        let refused = try curl([
            "--cacert", pki.path("ca.pem"), "--ciphers", "ECDHE-RSA-AES256-GCM-SHA384", "https://localhost:\(s.port)/",
        ])
        #expect(refused.status != 0)
        #expect(s.waitForFile("logs/error.log", containing: "no shared cipher"))
    }

    @Test func staplesTheOCSPResponseOfTheStaplingFile() throws {
        let pki = try TestPKI()
        // An OCSP response for the RSA leaf, signed by the test CA (`openssl ocsp` as responder).
        let serial =
            try runCommand(["/usr/bin/openssl", "x509", "-in", pki.path("rsa.pem"), "-noout", "-serial"])
            .stdout.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        try "V\t301231235959Z\t\t\(serial)\tunknown\t/CN=localhost\n".write(
            toFile: pki.path("index.txt"), atomically: true, encoding: .utf8)
        let made = try runCommand([
            "/usr/bin/openssl", "ocsp", "-index", pki.path("index.txt"), "-rsigner", pki.path("ca.pem"), "-rkey",
            pki.path("ca.key"), "-CA", pki.path("ca.pem"), "-issuer", pki.path("ca.pem"), "-cert",
            pki.path("rsa.pem"), "-respout", pki.path("ocsp.der"), "-ndays", "1",
        ])
        #expect(FileManager.default.fileExists(atPath: pki.path("ocsp.der")), "\(made.stderr)")
        // The second address has the file but not `ssl_stapling on`: nothing is stapled (nginx).
        let withoutStapling = freePort()
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("rsa"))
                    ssl_stapling on;
                    ssl_stapling_file \(pki.path("ocsp.der"));
                    location / { return 200 "ok\\n"; }
                }
                server {
                    listen 127.0.0.1:\(withoutStapling) ssl;
                    \(pki.certificate("rsa"))
                    ssl_stapling_file \(pki.path("ocsp.der"));
                    location / { return 200 "ok\\n"; }
                }
                """)
        defer { s.stop() }
        try "Q\n".write(toFile: pki.path("quit.txt"), atomically: true, encoding: .utf8)
        func status(_ port: Int) throws -> String {
            try runCommand([
                "/bin/sh", "-c",
                "/usr/bin/openssl s_client -connect 127.0.0.1:\(port) -servername localhost -status "
                    + "-CAfile \(pki.path("ca.pem")) < \(pki.path("quit.txt"))",
            ]).stdout
        }
        let r = try status(s.port)
        #expect(r.contains("OCSP Response Status: successful"), "\(r)")
        #expect(r.contains("Cert Status: good"))
        let none = try status(withoutStapling)
        #expect(none.contains("OCSP response: no response sent"), "\(none)")
    }

    @Test func configurationErrorsAreNginxs() throws {
        let pki = try TestPKI()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftginx-tlsconf-\(UUID().uuidString)"
        )
        .path
        try FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        let noCert = """
            events {}
            http {
                server {
                    listen 127.0.0.1:1 ssl;
                }
            }
            """
        try noCert.write(toFile: dir + "/a.conf", atomically: true, encoding: .utf8)
        let a = try runBinary(["-p", dir + "/", "-t", "-c", dir + "/a.conf"])
        #expect(
            a.stderr.contains(
                "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in \(dir)/a.conf:3"))
        let missing = """
            events {}
            http {
                server {
                    listen 127.0.0.1:1 ssl;
                    ssl_certificate \(pki.path("nope.pem"));
                    ssl_certificate_key \(pki.path("rsa.key"));
                }
            }
            """
        try missing.write(toFile: dir + "/b.conf", atomically: true, encoding: .utf8)
        let b = try runBinary(["-p", dir + "/", "-t", "-c", dir + "/b.conf"])
        #expect(b.status != 0)
        #expect(b.stderr.contains("cannot load certificate \"\(pki.path("nope.pem"))\""), "\(b.stderr)")
    }

    @Test func noSessionTicketsWhenNothingCanBeResumed() throws {
        let pki = try TestPKI()
        func server(_ port: String, _ sessions: String) -> String {
            """
            server {
                listen 127.0.0.1:\(port) ssl;
                \(pki.certificate("ec"))
                \(sessions)
                location / { return 200 "ok\\n"; }
            }
            """
        }
        let second = freePort()
        let s = try start(
            pki,
            servers: server("PORT", "ssl_session_cache off; ssl_session_tickets off;")
                + server("\(second)", "ssl_session_tickets off; ssl_session_cache shared:S:1m;"))
        defer { s.stop() }
        func tickets(_ port: Int) throws -> Int {
            let out = try runCommand(
                [
                    "/bin/sh", "-c",
                    "printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n' | "
                        + "openssl s_client -connect 127.0.0.1:\(port) -tls1_3 -msg -ign_eof 2>/dev/null",
                ], timeout: 20
            ).stdout
            #expect(out.contains("ok"), "\(out)")
            return out.components(separatedBy: "NewSessionTicket").count - 1
        }
        // Neither tickets nor a cache: TLS 1.3 tickets could never be used, so none is sent
        // (nginx sends two); with a session cache the (stateful) tickets are sent.
        #expect(try tickets(s.port) == 0)
        #expect(try tickets(second) == 2)
    }

    @Test func uwsgiPassOverTLSToUWSGI() throws {
        try Backends.require()
        let pki = try TestPKI()
        // uWSGI with a plain uwsgi socket (for its readiness check) and a TLS one.
        let tlsPort = freePort()
        let backend = try Backend.start(
            .uwsgiNative, name: "u1",
            extraArgs: ["--ssl-socket", "127.0.0.1:\(tlsPort),\(pki.path("rsa.pem")),\(pki.path("rsa.key"))"])
        defer { backend.stop() }
        let params = Backends.projectDir + "/../../uwsgi_params"
        let s = try start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT;
                    location / {
                        include \(params);
                        uwsgi_pass suwsgi://127.0.0.1:\(tlsPort);
                        uwsgi_ssl_verify on;
                        uwsgi_ssl_trusted_certificate \(pki.path("ca.pem"));
                        uwsgi_ssl_name localhost;
                        uwsgi_ssl_session_reuse on;
                    }
                    location /wrong/ {
                        include \(params);
                        uwsgi_pass suwsgi://127.0.0.1:\(tlsPort);
                        uwsgi_ssl_verify on;
                        uwsgi_ssl_trusted_certificate \(pki.path("ca.pem"));
                        uwsgi_ssl_name wrong.test;
                    }
                }
                """)
        defer { s.stop() }
        for _ in 0..<3 {
            let r = try get(s.port, "/headers/?via=tls")
            #expect(r.status == 200, "\(r.bodyText) \(s.read("logs/error.log"))")
            let json = try BackendSmokeTests.json(r)
            #expect(json["backend"] as? String == "u1")
            #expect(json["query"] as? String == "via=tls")
        }
        // The certificate does not name wrong.test: the handshake fails, 502, logged.
        let wrong = try get(s.port, "/wrong/x")
        #expect(wrong.status == 502)
        #expect(s.waitForFile("logs/error.log", containing: "upstream: \"suwsgi://127.0.0.1:\(tlsPort)\""))
    }

    @Test func certificatesNamedByTheServerName() throws {
        let pki = try TestPKI()
        let fm = FileManager.default
        for (from, to) in [("ec", "a.test"), ("b", "b.test")] {
            try fm.copyItem(atPath: pki.path(from + ".pem"), toPath: pki.path(to + ".crt"))
            try fm.copyItem(atPath: pki.path(from + ".key"), toPath: pki.path(to + ".key"))
        }
        let block = """
            server {
                listen 127.0.0.1:PORT ssl;
                ssl_certificate \(pki.dir)/$ssl_server_name.crt;
                ssl_certificate_key \(pki.dir)/$ssl_server_name.key;
                location / { return 200 "$ssl_server_name\\n"; }
            }
            """
        let s = try start(pki, servers: block)
        defer { s.stop() }
        func fetch(_ name: String, port: Int) throws -> CommandResult {
            try curl([
                "-v", "--cacert", pki.path("ca.pem"), "--resolve", "\(name):\(port):127.0.0.1",
                "https://\(name):\(port)/",
            ])
        }
        // Each name gets its own certificate (ECDSA CN=localhost for a.test, RSA CN=b.test).
        let a = try fetch("a.test", port: s.port)
        #expect(a.stdout == "a.test\n", "\(a.stderr) \(s.read("logs/error.log"))")
        #expect(a.stderr.contains("CN=localhost"))
        let b = try fetch("b.test", port: s.port)
        #expect(b.stdout == "b.test\n")
        #expect(b.stderr.contains("CN=b.test"))
        // No files for c.test: the handshake fails and nginx's error line is logged.
        let c = try fetch("c.test", port: s.port)
        #expect(c.status != 0)
        let line = "cannot load certificate \"\(pki.dir)/c.test.crt\": BIO_new_file() failed"
        #expect(s.waitForFile("logs/error.log", containing: line), "\(s.read("logs/error.log"))")
        #expect(s.read("logs/error.log").contains("[error]"))
        // A server name that would leave the directory names no file at all.
        let escape = try runCommand(
            [
                "/bin/sh", "-c",
                "openssl s_client -connect 127.0.0.1:\(s.port) -servername ../b.test </dev/null 2>&1",
            ], timeout: 20)
        #expect(!escape.stdout.contains("CN=b.test"), "\(escape.stdout)")
        #expect(s.waitForFile("logs/error.log", containing: "invalid server name \"../b.test\""))

        // nginx on the same server block: same certificates, same failure line.
        try requireNginx()
        let (reference, nginx) = try PrefixNginx.serving(block)
        defer { nginx.stop() }
        #expect(try fetch("a.test", port: nginx.port).stdout == "a.test\n")
        #expect(try fetch("b.test", port: nginx.port).stderr.contains("CN=b.test"))
        #expect(try fetch("c.test", port: nginx.port).status != 0)
        #expect(reference.waitForFile("logs/nginx-error.log", containing: line))
    }

    @Test func webSocketsOverTLSToDaphne() throws {
        try Backends.require()
        let pki = try TestPKI()
        let backend = try Backend.start(.daphne, name: "d1")
        defer { backend.stop() }
        let s = try start(
            pki,
            servers: """
                \(backend.webSocketProxy.map)
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.certificate("ec"))
                    \(backend.webSocketProxy.location)
                }
                """)
        defer { s.stop() }
        // wss:// through swiftginx's TLS to Daphne's ws://: a text echo, a 1 MiB binary
        // echo (many TLS records, read ahead by OpenSSL), and a clean close.
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Support/wss_client.py"
        ).path
        let r = try runCommand(
            ["/usr/bin/python3", script, "\(s.port)", pki.path("ca.pem"), "\(1 << 20)"], timeout: 60)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(r.status == 0, "\(r.stdout) \(r.stderr) \(s.read("logs/error.log"))")
        #expect(lines.first == "HTTP/1.1 101 Switching Protocols")
        #expect(lines.contains("text 1 hello over tls"))
        #expect(lines.contains("binary 2 1048576 True"))
        #expect(lines.contains("close 8 1000"))
    }
}
