// OCSP stapling with a responder (`ssl_stapling on`) over real sockets: `openssl ocsp`
// runs as a local responder, swiftginx fetches from it in the background, and
// `openssl s_client -status` must see the staple (polled, bounded). Cases: the
// responder of `ssl_stapling_responder` and of the certificate's AIA extension, a
// revoked certificate (not stapled, nginx's log line, compared with nginx 1.22 itself),
// `ssl_stapling_verify` with the wrong and the right trusted CA across a reload (which
// must add no thread: every generation's requests run on the housekeeping thread), RSA
// and ECDSA certificates with a staple each, the staple of the server chosen by SNI,
// bad answers of a canned responder (nginx's log lines), nginx's startup warnings
// (compared with `nginx -t`), and a silent responder that delays no other certificate.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

/// TestPKI plus what stapling needs: a delegated OCSP signer, another CA, a leaf whose
/// AIA extension names the local responder's port, chain files and responder indexes.
struct StaplingPKI {
    let pki: TestPKI
    /// The port the responder of these tests listens on (named in aia.pem).
    let responderPort: Int

    init() throws {
        pki = try TestPKI()
        responderPort = freePort()
        try write("ocsp.ext", "extendedKeyUsage=OCSPSigning\n")
        try write(
            "aia.ext",
            "subjectAltName=DNS:localhost\nauthorityInfoAccess=OCSP;URI:http://127.0.0.1:\(responderPort)/\n")
        try openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "signer.key", "-out", "signer.csr", "-subj",
            "/CN=test OCSP signer")
        try openssl(
            "x509", "-req", "-in", "signer.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "signer.pem", "-days", "2", "-extfile", "ocsp.ext")
        try openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "2",
            "-subj", "/CN=other CA")
        try openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "aia.key", "-out", "aia.csr", "-subj", "/CN=localhost")
        try openssl(
            "x509", "-req", "-in", "aia.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "aia.pem", "-days", "2", "-extfile", "aia.ext")
        let ca = try read("ca.pem")
        try write("rsa-chain.pem", try read("rsa.pem") + ca)
        try write("aia-chain.pem", try read("aia.pem") + ca)
        var good = ""
        var revoked = ""
        for name in ["rsa", "ec", "aia"] {
            let serial = try self.serial(name)
            good += "V\t301231235959Z\t\t\(serial)\tunknown\t/CN=\(name)\n"
            revoked += "R\t301231235959Z\t240101000000Z\t\(serial)\tunknown\t/CN=\(name)\n"
        }
        try write("index.txt", good)
        try write("revoked.txt", revoked)
    }

    func path(_ name: String) -> String { pki.path(name) }

    /// The certificate's serial number in hex, as OCSP texts print it.
    func serial(_ name: String) throws -> String {
        let r = try runCommand(["/usr/bin/openssl", "x509", "-in", path(name + ".pem"), "-noout", "-serial"])
        return r.stdout.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }

    private func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }
    private func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }
    private func openssl(_ args: String...) throws {
        let r = try runCommand(["/usr/bin/env", "-C", pki.dir, "openssl"] + args, timeout: 60)
        if r.status != 0 { throw TestFailure("openssl \(args.joined(separator: " ")): \(r.stderr)") }
    }
}

/// `openssl ocsp` as a local responder on `pki.responderPort`, stopped by pid.
final class LocalOCSPResponder {
    let pid: Int32
    let logPath: String

    /// `index`: which certificates are good or revoked; `signer`: the CA itself or the
    /// delegated signer ("signer"). Waits (≤ 10 s) until it listens.
    init(_ pki: StaplingPKI, index: String = "index.txt", signer: String = "ca") throws {
        logPath = pki.path("responder-\(UUID().uuidString.prefix(8)).log")
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(fd) }
        pid = try ProcessControl.spawn(
            "/usr/bin/openssl",
            [
                "openssl", "ocsp", "-index", pki.path(index), "-port", "\(pki.responderPort)", "-rsigner",
                pki.path(signer + ".pem"), "-rkey", pki.path(signer + ".key"), "-CA", pki.path("ca.pem"),
                "-ignore_err", "-nmin", "10",
            ], stdout: fd, stderr: fd)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if log.contains("waiting for OCSP client connections") { return }
            if let status = ProcessControl.wait(pid, timeout: 0) {
                throw TestFailure("openssl ocsp exited (\(status)): \(log)")
            }
            usleep(20_000)
        }
        stop()
        throw TestFailure("openssl ocsp did not start: \(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func stop() {
        Glibc.kill(pid, SIGTERM)
        if ProcessControl.wait(pid, timeout: 5000) == nil {
            Glibc.kill(pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 5000)
        }
    }

    deinit { stop() }
}

@Suite(.serialized) struct TLSStaplingTests {
    /// A server with the certificate whose AIA names the local responder, stapling on.
    func aiaServer(_ pki: StaplingPKI, _ extra: String = "") -> String {
        """
        server {
            listen 127.0.0.1:PORT ssl;
            \(extra)
            ssl_certificate \(pki.path("aia-chain.pem"));
            ssl_certificate_key \(pki.path("aia.key"));
            ssl_stapling on;
            location / { return 200 "ok\\n"; }
        }
        """
    }

    func start(_ servers: String) throws -> TestServer {
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log logs/access.log;
                    \(servers)
                }
                """)
        try server.start()
        return server
    }

    /// What `openssl s_client -status` prints about a handshake on `port`.
    func handshake(_ port: Int, _ extra: String = "", serverName: String = "localhost") throws -> String {
        try runCommand(
            [
                "/bin/sh", "-c",
                "/usr/bin/openssl s_client -connect 127.0.0.1:\(port) -servername \(serverName) -status \(extra) </dev/null",
            ], timeout: 10
        ).stdout
    }

    /// Handshakes until one carries a staple (≤ `timeout` seconds); the last output.
    func stapled(_ port: Int, _ extra: String = "", timeout: Double = 15) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var out = ""
        repeat {
            out = try handshake(port, extra)
            if out.contains("OCSP Response Status: successful") { return out }
            usleep(200_000)
        } while Date() < deadline
        return out
    }

    @Test func staplesTheAnswerOfTheConfiguredResponder() throws {
        let pki = try StaplingPKI()
        let responder = try LocalOCSPResponder(pki)
        // The issuer comes from ssl_trusted_certificate (the file holds the leaf only).
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT ssl;
                \(pki.pki.certificate("rsa"))
                ssl_trusted_certificate \(pki.path("ca.pem"));
                ssl_stapling on;
                ssl_stapling_responder http://127.0.0.1:\(pki.responderPort)/;
                location / { return 200 "ok\\n"; }
            }
            """)
        defer { s.stop() }
        let out = try stapled(s.port)
        #expect(out.contains("OCSP Response Status: successful"), "\(out)\n\(s.read("logs/error.log"))")
        #expect(out.contains("Cert Status: good"))
        #expect(out.contains("Serial Number: \(try pki.serial("rsa"))"))
        // nginx's request: GET with the base64 request in the path, HTTP/1.0.
        #expect(responder.log.contains("1st line: GET /"), "\(responder.log)")
        #expect(responder.log.contains(" HTTP/1.0"))
    }

    @Test func staplesTheAnswerOfTheResponderNamedByTheCertificate() throws {
        let pki = try StaplingPKI()
        let responder = try LocalOCSPResponder(pki)
        defer { responder.stop() }
        // No ssl_stapling_responder: the AIA URL; the issuer comes from the chain.
        let s = try start(aiaServer(pki))
        defer { s.stop() }
        let out = try stapled(s.port)
        #expect(out.contains("Cert Status: good"), "\(out)\n\(s.read("logs/error.log"))")
        #expect(out.contains("Serial Number: \(try pki.serial("aia"))"))
    }

    @Test func aRevokedCertificateIsNotStapledAndLoggedAsNginxDoes() throws {
        let pki = try StaplingPKI()
        let responder = try LocalOCSPResponder(pki, index: "revoked.txt")
        defer { responder.stop() }
        let server = aiaServer(pki)
        let s = try start(server)
        defer { s.stop() }
        let expected =
            "certificate status \"revoked\" in the OCSP response while requesting certificate status, "
            + "responder: 127.0.0.1, peer: 127.0.0.1:\(pki.responderPort), certificate: \"\(pki.path("aia-chain.pem"))\""
        #expect(s.waitForFile("logs/error.log", containing: expected, timeout: 15), "\(s.read("logs/error.log"))")
        // (logged by the serving process: a worker's pid, as in nginx, not the pid file's)
        #expect(s.read("logs/error.log").contains("[error] "))
        let out = try handshake(s.port)
        #expect(out.contains("OCSP response: no response sent"), "\(out)")
        // nginx 1.22 logs the same line (it asks on the first handshake that wants a staple).
        try requireNginx()
        let port = freePort()
        let nginx = try ReferenceNginx(
            config: """
                daemon off; master_process off; user root;
                error_log logs/error.log info;
                pid logs/nginx.pid;
                events {}
                http {
                    access_log off;
                    \(server.replacingOccurrences(of: "PORT", with: "\(port)"))
                }
                """, port: port)
        defer { nginx.stop() }
        _ = try handshake(port)
        let deadline = Date().addingTimeInterval(15)
        while !nginx.log.contains(expected) && Date() < deadline { usleep(50_000) }
        #expect(nginx.log.contains(expected), "\(nginx.log)")
    }

    @Test func verificationUsesTheTrustedCertificatesAndReloadsRestartTheFetcher() throws {
        let pki = try StaplingPKI()
        // A delegated signer: the response verifies only up to a trusted CA.
        let responder = try LocalOCSPResponder(pki, signer: "signer")
        defer { responder.stop() }
        func servers(trusting ca: String) -> String {
            """
            server {
                listen 127.0.0.1:PORT ssl;
                ssl_certificate \(pki.path("rsa-chain.pem"));
                ssl_certificate_key \(pki.path("rsa.key"));
                ssl_stapling on;
                ssl_stapling_verify on;
                ssl_stapling_responder http://127.0.0.1:\(pki.responderPort)/;
                ssl_trusted_certificate \(pki.path(ca));
                location / { return 200 "ok\\n"; }
            }
            """
        }
        let s = try start(servers(trusting: "other.pem"))
        defer { s.stop() }
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "OCSP_basic_verify() failed (SSL: error:13800065:OCSP routines::certificate verify error:",
                timeout: 15), "\(s.read("logs/error.log"))")
        #expect(s.read("logs/error.log").contains("while requesting certificate status, responder: 127.0.0.1"))
        #expect(try handshake(s.port).contains("OCSP response: no response sent"))
        let threads = threadCount(s.pid)
        // The right CA, by reload: the new generation's fetcher staples.
        try s.writeConfig(
            """
            \(TestServer.preamble)
            http {
                access_log logs/access.log;
                \(servers(trusting: "ca.pem"))
            }
            """)
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation 2)"))
        let out = try stapled(s.port)
        #expect(out.contains("Cert Status: good"), "\(out)\n\(s.read("logs/error.log"))")
        // More reloads: each hands the housekeeping thread the new requests, adding no thread.
        for generation in 3...5 {
            s.signal(SIGHUP)
            #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation \(generation))"))
        }
        let deadline = Date().addingTimeInterval(5)
        while threadCount(s.pid) != threads && Date() < deadline { usleep(50_000) }
        #expect(threadCount(s.pid) == threads, "threads before the reloads: \(threads)")
        #expect(try stapled(s.port).contains("Cert Status: good"))
    }

    @Test func rsaAndECDSACertificatesHaveAStapleEach() throws {
        let pki = try StaplingPKI()
        let responder = try LocalOCSPResponder(pki)
        defer { responder.stop() }
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT ssl;
                \(pki.pki.certificate("rsa"))
                \(pki.pki.certificate("ec"))
                ssl_trusted_certificate \(pki.path("ca.pem"));
                ssl_stapling on;
                ssl_stapling_responder http://127.0.0.1:\(pki.responderPort)/;
                location / { return 200 "ok\\n"; }
            }
            """)
        defer { s.stop() }
        let ec = try stapled(s.port, "-sigalgs ECDSA+SHA256")
        #expect(ec.contains("Cert Status: good"), "\(ec)\n\(s.read("logs/error.log"))")
        #expect(ec.contains("Serial Number: \(try pki.serial("ec"))"))
        let rsa = try stapled(s.port, "-sigalgs RSA-PSS+SHA256:RSA+SHA256")
        #expect(rsa.contains("Cert Status: good"), "\(rsa)")
        #expect(rsa.contains("Serial Number: \(try pki.serial("rsa"))"))
    }

    @Test func theStapleIsTheOneOfTheServerChosenBySNI() throws {
        let pki = try StaplingPKI()
        let responder = try LocalOCSPResponder(pki)
        defer { responder.stop() }
        // The default server (which starts every handshake) does not staple; localhost does.
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT ssl;
                server_name b.test;
                \(pki.pki.certificate("b"))
                location / { return 200 "b\\n"; }
            }
            \(aiaServer(pki, "server_name localhost;"))
            """)
        defer { s.stop() }
        let named = try stapled(s.port)
        #expect(named.contains("Cert Status: good"), "\(named)\n\(s.read("logs/error.log"))")
        #expect(named.contains("Serial Number: \(try pki.serial("aia"))"))
        let other = try handshake(s.port, serverName: "b.test")
        #expect(other.contains("OCSP response: no response sent"), "\(other)")
    }

    @Test func badAnswersAreLoggedAsNginxLogsThem() throws {
        let pki = try StaplingPKI()
        // A responder that gives each connection the next canned answer, then closes.
        let answers = [
            "HTTP/1.0 200 OK\\r\\nContent-Type: text/html\\r\\n\\r\\n<html>",
            "HTTX/1.0 200 OK\\r\\n\\r\\n",
            "HTTP/1.0 200 OK\\r\\nContent-Type: application/ocsp-response\\r\\n",
            "HTTP/1.0 200 OK\\r\\nContent-Type: application/ocsp-response\\r\\n\\r\\nnot DER",
        ]
        let script = pki.path("responder.py")
        try """
        import socket, sys
        answers = [\(answers.map { "b\"\($0)\"" }.joined(separator: ", "))]
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen(8)
        print("listening", flush=True)
        for answer in answers:
            c, _ = s.accept()
            c.settimeout(10)
            request = b""
            while b"\\r\\n\\r\\n" not in request:
                chunk = c.recv(4096)
                if not chunk:
                    break
                request += chunk
            print(request.split(b"\\r\\n")[0].decode(), flush=True)
            c.sendall(answer)
            c.close()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let logPath = pki.path("responder.log")
        let fd = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        let pid = try ProcessControl.spawn(
            "/usr/bin/python3", ["python3", script, "\(pki.responderPort)"], stdout: fd, stderr: fd)
        close(fd)
        defer {
            Glibc.kill(pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 5000)
        }
        let started = Date().addingTimeInterval(10)
        while !((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains("listening") && Date() < started
        {
            usleep(20_000)
        }
        let config = """
            \(TestServer.preamble)
            http {
                server {
                    listen 127.0.0.1:PORT ssl;
                    ssl_certificate \(pki.path("aia-chain.pem"));
                    ssl_certificate_key \(pki.path("aia.key"));
                    ssl_stapling on;
                }
            }
            """
        let s = try TestServer(config: config)
        try s.start()
        defer { s.stop() }
        let context =
            " while requesting certificate status, responder: 127.0.0.1, peer: 127.0.0.1:\(pki.responderPort), "
            + "certificate: \"\(pki.path("aia-chain.pem"))\""
        let expected = [
            "OCSP responder sent invalid \"Content-Type\" header: \"text/html\"",
            "OCSP responder sent invalid response",
            "OCSP responder prematurely closed connection",
            "d2i_OCSP_RESPONSE() failed (SSL: error:",
        ]
        // Each generation asks once (a failure is retried 5 minutes later): reload for the next.
        for (i, message) in expected.enumerated() {
            if i > 0 {
                s.signal(SIGHUP)
                #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation \(i + 1))"))
            }
            #expect(
                s.waitForFile("logs/error.log", containing: "[error] ", timeout: 10)
                    && s.waitForFile("logs/error.log", containing: message, timeout: 10), "\(s.read("logs/error.log"))")
        }
        let log = s.read("logs/error.log")
        for message in expected.dropLast() { #expect(log.contains(message + context), "\(log)") }
        #expect(try handshake(s.port).contains("OCSP response: no response sent"))
        let requests = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        #expect(requests.contains("GET /M"), "\(requests)")
    }

    @Test func startupWarningsAreNginxs() throws {
        let pki = try StaplingPKI()
        let config = """
            http {
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(pki.pki.certificate("rsa"))
                    ssl_stapling on;
                }
                server {
                    listen 127.0.0.1:PORT2 ssl;
                    \(pki.pki.certificate("rsa"))
                    ssl_trusted_certificate \(pki.path("ca.pem"));
                    ssl_stapling on;
                }
                server {
                    listen 127.0.0.1:PORT3 ssl;
                    ssl_certificate \(pki.path("rsa-chain.pem"));
                    ssl_certificate_key \(pki.path("rsa.key"));
                    ssl_stapling on;
                    ssl_stapling_responder https://127.0.0.1/;
                }
            }
            """
        // PORT (the test server's own) is replaced by TestServer.
        let body = config.replacingOccurrences(of: "PORT3", with: "\(freePort())")
            .replacingOccurrences(of: "PORT2", with: "\(freePort())")
        let s = try TestServer(config: "\(TestServer.preamble)\n\(body)")
        let ours = try runBinary(["-t", "-p", s.prefix, "-c", "conf/swiftginx.conf"])
        #expect(ours.status == 0, "\(ours.stderr)")
        let warnings = [
            "\"ssl_stapling\" ignored, issuer certificate not found for certificate \"\(pki.path("rsa.pem"))\"",
            "\"ssl_stapling\" ignored, no OCSP responder URL in the certificate \"\(pki.path("rsa.pem"))\"",
            "\"ssl_stapling\" ignored, invalid URL prefix in OCSP responder \"https://127.0.0.1/\" "
                + "in the certificate \"\(pki.path("rsa-chain.pem"))\"",
        ]
        for w in warnings { #expect(ours.stderr.contains("swiftginx: [warn] " + w), "\(ours.stderr)") }
        // A running server logs them at startup.
        try s.start()
        defer { s.stop() }
        for w in warnings { #expect(s.read("logs/error.log").contains(": " + w)) }
        try requireNginx()
        let nginxBody = body.replacingOccurrences(of: "PORT", with: "\(s.port)")
        try
            "daemon off; user root; error_log \(s.prefix)logs/nginx-error.log; pid \(s.prefix)logs/nginx.pid; events {}\n\(nginxBody)"
            .write(toFile: s.prefix + "conf/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = try runCommand([ReferenceNginx.binary, "-t", "-p", s.prefix, "-c", s.prefix + "conf/nginx.conf"])
        // (nginx -t writes them in the error log's format when error_log names a file.)
        for w in warnings { #expect(nginx.stderr.contains("[warn] ") && nginx.stderr.contains(w), "\(nginx.stderr)") }
    }

    /// The threads of process `pid`.
    func threadCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").count) ?? -1
    }
}

extension TLSStaplingTests {
    @Test func aSilentResponderDelaysNoOtherCertificate() throws {
        let pki = try StaplingPKI()
        let responder = try LocalOCSPResponder(pki)
        defer { responder.stop() }
        // Five servers' certificates have a responder that accepts connections and never
        // answers (each request waits out nginx's 60 s); the last certificate's staple is
        // there at once, whichever request the fetcher starts first (one after another,
        // it would come after the silent ones in 5 cases out of 6).
        let silent = try SilentListeners(count: 1)
        defer { silent.stop() }
        let quiet = (1...5).map { n in
            """
            server {
                listen 127.0.0.1:PORT ssl;
                server_name q\(n).test;
                \(pki.pki.certificate("rsa"))
                ssl_trusted_certificate \(pki.path("ca.pem"));
                ssl_stapling on;
                ssl_stapling_responder http://127.0.0.1:\(silent.ports[0])/;
                location / { return 200 "q\\n"; }
            }
            """
        }
        let s = try start(quiet.joined(separator: "\n") + aiaServer(pki, "server_name localhost;"))
        defer { s.stop() }
        let named = try stapled(s.port, timeout: 10)
        #expect(named.contains("Cert Status: good"), "\(named)\n\(s.read("logs/error.log"))")
        #expect(named.contains("Serial Number: \(try pki.serial("aia"))"))
        #expect(try handshake(s.port, serverName: "q1.test").contains("OCSP response: no response sent"))
        #expect(!s.read("logs/error.log").contains("OCSP responder timed out"))
    }
}
