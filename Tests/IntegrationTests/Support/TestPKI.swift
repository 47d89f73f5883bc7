// The test certificates of the TLS suites (TLSTests, TLSRecordTests, and every suite
// that terminates or proxies TLS), made with the openssl command line: a CA, RSA and
// ECDSA leaves, a client certificate.

import Foundation
import Glibc
import SwiftginxPosix

/// Certificates for one test run, in `dir`.
struct TestPKI {
    let dir: String

    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftginx-pki-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let ext = dir + "/san.ext"
        try "subjectAltName=DNS:localhost,DNS:a.test,DNS:b.test,IP:127.0.0.1\n".write(
            toFile: ext, atomically: true, encoding: .utf8)
        try run(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=swiftginx test CA")
        for (name, keyArgs) in [
            ("rsa", ["-newkey", "rsa:2048"]), ("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
        ] {
            try run(
                ["req"] + keyArgs + [
                    "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=localhost",
                ])
            try run(
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).pem", "-days", "2", "-extfile", ext)
        }
        for name in ["b"] {
            try run(
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj",
                "/CN=b.test")
            try run(
                "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-out", "\(name).pem", "-days", "2", "-extfile", ext)
        }
        try run(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr", "-subj",
            "/CN=test client/O=swiftginx")
        try run(
            "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "client.pem", "-days", "2")
    }

    func path(_ name: String) -> String { dir + "/" + name }

    /// `ssl_certificate` and `ssl_certificate_key` lines for the pair `name`.pem / `name`.key.
    func certificate(_ name: String) -> String {
        "ssl_certificate \(path(name + ".pem"));\n                ssl_certificate_key \(path(name + ".key"));"
    }

    private func run(_ args: String...) throws { try run(args) }

    private func run(_ args: [String]) throws {
        let r = try runCommand(["/usr/bin/env", "-C", dir, "openssl"] + args, timeout: 60)
        if r.status != 0 { throw TestFailure("openssl \(args.joined(separator: " ")): \(r.stderr)") }
    }
}
