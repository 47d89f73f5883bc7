// `ssl_certificate_key store:URI` (nginx 1.29.0): the key comes from an OpenSSL store
// loader (`store:file:/path`), with `ssl_password_file`'s passwords for an encrypted one,
// also when the URI is named by a variable; without the password the handshake fails.

import Foundation
import Testing

@Suite(.serialized) struct TLSStoreKeyTests {
    @Test func keysFromAStoreURI() throws {
        let pki = try TestPKI()
        let encrypted = try runCommand(
            [
                "/usr/bin/openssl", "pkey", "-in", pki.path("rsa.key"), "-aes128", "-passout", "pass:secret", "-out",
                pki.path("locked.key"),
            ], timeout: 30)
        #expect(encrypted.status == 0, "\(encrypted.stderr)")
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    geo $name { default locked; }
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name plain.test;
                        ssl_certificate \(pki.path("ec.pem"));
                        ssl_certificate_key store:file:\(pki.path("ec.key"));
                        location / { return 200 "plain\\n"; }
                    }
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name locked.test;
                        ssl_certificate \(pki.path("rsa.pem"));
                        ssl_certificate_key store:file:\(pki.dir)/$name.key;
                        ssl_password_file PREFIXconf/passwords;
                        location / { return 200 "locked\\n"; }
                    }
                    server {
                        listen 127.0.0.1:PORT ssl;
                        server_name nopass.test;
                        ssl_certificate \(pki.path("rsa.pem"));
                        ssl_certificate_key store:file:\(pki.dir)/$name.key;
                        location / { return 200 "nopass\\n"; }
                    }
                }
                """, files: ["conf/passwords": "wrong\nsecret\n"])
        try s.start()
        defer { s.stop() }
        // The certificates name localhost, a.test and b.test: the key matters here, not the name.
        func fetchAnyName(_ name: String) throws -> CommandResult {
            try runCommand(
                [
                    "/usr/bin/curl", "-s", "-k", "--max-time", "10", "--resolve", "\(name):\(s.port):127.0.0.1",
                    "https://\(name):\(s.port)/",
                ], timeout: 20)
        }
        #expect(try fetchAnyName("plain.test").stdout == "plain\n", "\(s.read("logs/error.log"))")
        #expect(try fetchAnyName("locked.test").stdout == "locked\n", "\(s.read("logs/error.log"))")
        #expect(try fetchAnyName("nopass.test").status != 0)
    }
}
