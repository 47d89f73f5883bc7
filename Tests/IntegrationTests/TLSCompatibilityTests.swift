// nginx's TLS rules that its own test suite checks (ssl.t, ssl_verify_client.t,
// ssl_sni_protocols.t, ssl_reject_handshake.t, proxy_ssl_*.t), over real sockets with
// curl: which servers of an ssl address need certificates, the SNI server's protocols,
// the client certificate variables, and TLS to upstreams with certificates named by
// variables, password files, CRLs and nginx's SNI rules.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct TLSCompatibilityTests {
    func curl(_ args: [String]) throws -> CommandResult {
        try runCommand(["/usr/bin/curl", "-s", "--max-time", "10"] + args, timeout: 20)
    }

    func openssl(_ pki: TestPKI, _ args: [String]) throws {
        let r = try runCommand(["/usr/bin/env", "-C", pki.dir, "openssl"] + args, timeout: 60)
        if r.status != 0 { throw TestFailure("openssl \(args.joined(separator: " ")): \(r.stderr)") }
    }

    @Test func certificatesAreNeededOnlyInTheDefaultServer() throws {
        let pki = try TestPKI()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name localhost;
                        \(pki.certificate("rsa"))
                        ssl_protocols TLSv1.2;
                        location / { return 200 "default $ssl_protocol\\n"; }
                    }
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name a.test;
                        location / { return 200 "a $ssl_protocol\\n"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        // a.test has no certificate of its own: the handshake stays on the default server's
        // context (its certificate and protocols, as nginx), the request goes to a.test.
        let a = try curl([
            "--cacert", pki.path("ca.pem"), "--resolve", "a.test:\(s.port):127.0.0.1", "https://a.test:\(s.port)/",
        ])
        #expect(a.stdout == "a TLSv1.2\n", "\(a.stderr) \(s.read("logs/error.log"))")
        let d = try curl(["--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/"])
        #expect(d.stdout == "default TLSv1.2\n", "\(d.stderr)")

        // Without a certificate in the default server, nginx's message names it.
        let bad = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT ssl;
                        \(pki.certificate("rsa"))
                    }
                    server {
                        listen 127.0.0.1:PORT ssl default_server;
                    }
                }
                """)
        defer { bad.cleanup() }
        let t = try runBinary(["-t", "-p", bad.prefix + "/", "-c", "conf/swiftginx.conf"])
        #expect(
            t.stderr.contains("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in "),
            "\(t.stderr)")
    }

    /// As nginx, a server's certificates are loaded even when it has no ssl address.
    @Test func certificatesOfPlainServersAreChecked() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        ssl_certificate /nonexistent/cert.pem;
                        ssl_certificate_key /nonexistent/cert.key;
                    }
                }
                """)
        defer { s.cleanup() }
        let t = try runBinary(["-t", "-p", s.prefix + "/", "-c", "conf/swiftginx.conf"])
        #expect(t.status != 0)
        #expect(t.stderr.contains("cannot load certificate \"/nonexistent/cert.pem\""), "\(t.stderr)")
    }

    @Test func clientCertificateVariablesAndMisdirectedRequests() throws {
        let pki = try TestPKI()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name localhost;
                        \(pki.certificate("rsa"))
                        ssl_ecdh_curve prime256v1;
                        ssl_verify_client optional_no_ca;
                        location /dn { return 200 "$ssl_client_s_dn_legacy|$ssl_client_i_dn_legacy|$ssl_client_v_remain\\n"; }
                        location /escaped { return 200 "$ssl_client_escaped_cert"; }
                        location /raw { return 200 "$ssl_client_raw_cert"; }
                        location /hs { return 200 "$ssl_curve|$ssl_ciphers\\n"; }
                    }
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name b.test;
                        \(pki.certificate("b"))
                        location / { return 200 "b\\n"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        let client = [
            "--cacert", pki.path("ca.pem"), "--cert", pki.path("client.pem"), "--key", pki.path("client.key"),
        ]
        let dn = try curl(client + ["https://localhost:\(s.port)/dn"])
        // Two days of validity, less the seconds since the certificate was made.
        #expect(
            ["1\n", "2\n"].map { "/CN=test client/O=swiftginx|/CN=swiftginx test CA|" + $0 }.contains(dn.stdout),
            "\(dn.stdout) \(dn.stderr)")
        let raw = try curl(client + ["https://localhost:\(s.port)/raw"]).stdout
        let escaped = try curl(client + ["https://localhost:\(s.port)/escaped"]).stdout
        #expect(raw.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(escaped.hasPrefix("-----BEGIN%20CERTIFICATE-----%0A"))
        #expect(escaped.removingPercentEncoding == raw)
        let hs = try curl(["--cacert", pki.path("ca.pem"), "https://localhost:\(s.port)/hs"]).stdout
        #expect(hs.hasPrefix("prime256v1|"), "\(hs)")
        #expect(hs.contains("TLS_AES_128_GCM_SHA256"))
        // SNI b.test, Host localhost (a server verifying client certificates): 421, as nginx.
        let misdirected = try curl(
            client + [
                "--resolve", "b.test:\(s.port):127.0.0.1", "-H", "Host: localhost", "-o", "/dev/null", "-w",
                "%{http_code}", "https://b.test:\(s.port)/",
            ])
        #expect(misdirected.stdout == "421")
    }

    @Test func upstreamCertificatesNamedByVariablesWithPasswordsAndCRLs() throws {
        let pki = try TestPKI()
        try openssl(pki, ["pkey", "-in", "client.key", "-aes256", "-passout", "pass:secret", "-out", "enc.key"])
        try openssl(pki, ["x509", "-in", "client.pem", "-out", "enc.pem"])
        try "secret\n".write(toFile: pki.path("password"), atomically: true, encoding: .utf8)
        // A CRL of the test CA that revokes nothing.
        try "".write(toFile: pki.path("index.txt"), atomically: true, encoding: .utf8)
        try """
        [ ca ]
        default_ca = test
        [ test ]
        database = \(pki.dir)/index.txt
        default_md = sha256
        default_crl_days = 1
        """.write(toFile: pki.path("ca.conf"), atomically: true, encoding: .utf8)
        try openssl(
            pki, ["ca", "-gencrl", "-config", "ca.conf", "-keyfile", "ca.key", "-cert", "ca.pem", "-out", "ca.crl"])
        let backendPort = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        proxy_ssl_session_reuse off;
                        proxy_ssl_password_file \(pki.path("password"));
                        location /var/ {
                            proxy_pass https://127.0.0.1:\(backendPort)/;
                            proxy_ssl_certificate $arg_c;
                            proxy_ssl_certificate_key $arg_k;
                        }
                        location /none/ {
                            proxy_pass https://127.0.0.1:\(backendPort)/;
                            proxy_ssl_certificate \(pki.path("client.pem"));
                            proxy_ssl_certificate_key \(pki.path("client.key"));
                            location /none/cancel/ {
                                proxy_pass https://127.0.0.1:\(backendPort)/;
                                proxy_ssl_certificate "";
                                proxy_ssl_certificate_key "";
                            }
                        }
                        location /crl/ {
                            proxy_pass https://127.0.0.1:\(backendPort)/;
                            proxy_ssl_verify on;
                            proxy_ssl_name localhost;
                            proxy_ssl_trusted_certificate \(pki.path("ca.pem"));
                            proxy_ssl_crl \(pki.path("ca.crl"));
                        }
                        location /ip/ {
                            proxy_pass https://127.0.0.1:\(backendPort)/;
                            proxy_ssl_server_name on;
                        }
                    }
                    server {
                        listen 127.0.0.1:\(backendPort) ssl;
                        \(pki.certificate("rsa"))
                        ssl_verify_client optional;
                        ssl_client_certificate \(pki.path("ca.pem"));
                        location / { return 200 "$ssl_client_verify $ssl_client_s_dn sni=$ssl_server_name\\n"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        func pair(_ name: String) -> String { "c=\(pki.dir)/\(name).pem&k=\(pki.dir)/\(name).key" }
        let plain = try get(s.port, "/var/x?" + pair("client"))
        #expect(
            plain.bodyText.hasPrefix("SUCCESS O=swiftginx,CN=test client"),
            "\(plain.bodyText) \(s.read("logs/error.log"))")
        // The encrypted key is opened with the password file's line.
        let encrypted = try get(s.port, "/var/x?" + pair("enc"))
        #expect(encrypted.bodyText.hasPrefix("SUCCESS O=swiftginx,CN=test client"), "\(encrypted.bodyText)")
        // An empty name sends no certificate; a missing file is a 500, as nginx.
        #expect(try get(s.port, "/var/x?c=").bodyText.hasPrefix("NONE"))
        #expect(try get(s.port, "/var/x?" + pair("missing")).status == 500)
        #expect(s.waitForFile("logs/error.log", containing: "cannot load certificate"))
        #expect(try get(s.port, "/none/x").bodyText.hasPrefix("SUCCESS"))
        #expect(try get(s.port, "/none/cancel/x").bodyText.hasPrefix("NONE"))
        #expect(try get(s.port, "/crl/x").status == 200)
        // RFC 6066: no SNI for an IP address.
        #expect(try get(s.port, "/ip/x").bodyText.hasSuffix("sni=\n"))
    }
}

/// `ssl_ocsp`: client certificates checked with a local `openssl ocsp` responder.
@Suite(.serialized) struct ClientOCSPTests {
    @Test func clientCertificatesAreCheckedWithOCSP() throws {
        let pki = try StaplingPKI()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT ssl;
                        \(pki.pki.certificate("rsa"))
                        ssl_verify_client optional;
                        ssl_client_certificate \(pki.path("ca.pem"));
                        ssl_ocsp leaf;
                        location / { return 200 "$ssl_client_verify\\n"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        func get() throws -> String {
            try runCommand(
                [
                    "/usr/bin/curl", "-s", "--max-time", "10", "--cacert", pki.path("ca.pem"), "--cert",
                    pki.path("aia.pem"), "--key", pki.path("aia.key"), "https://localhost:\(s.port)/",
                ], timeout: 20
            ).stdout
        }
        // The certificate's AIA names the responder; its answer: good.
        var responder = try LocalOCSPResponder(pki)
        #expect(try get() == "SUCCESS\n", "\(s.read("logs/error.log"))")
        responder.stop()
        // Revoked: nginx's 400 page for a certificate error.
        responder = try LocalOCSPResponder(pki, index: "revoked.txt")
        let revoked = try get()
        #expect(revoked.contains("<title>400 The SSL certificate error</title>"), "\(revoked)")
        #expect(s.waitForFile("logs/error.log", containing: "client SSL certificate verify error: certificate revoked"))
        responder.stop()
        // No responder: the request fails.
        #expect(try get().contains("400 The SSL certificate error"))
        #expect(
            s.waitForFile(
                "logs/error.log", containing: "certificate status request failed while reading client request headers"))
        #expect(s.read("logs/error.log").contains("while requesting certificate status"))
    }
}
