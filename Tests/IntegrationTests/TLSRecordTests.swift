// TLS records on one kept connection, with Python's ssl module as the client: a
// corrupt record is logged with the connection's context and closes it, and keep-alive
// survives the server's short-read rule (it stops reading after a short read, as its
// socket BIO tells one) — a request split across records, two in one write, a
// half-close after a request.

import Foundation
import Testing

@Suite(.serialized) struct TLSRecordTests {
    /// A server answering "ok" over TLS with the `kind` certificate ("rsa", "ec").
    func start(_ pki: TestPKI, _ kind: String, extra: String = "") throws -> TestServer {
        try TLSTests().start(
            pki,
            servers: """
                server {
                    listen 127.0.0.1:PORT ssl;
                    \(extra)
                    \(pki.certificate(kind))
                    location / { return 200 "ok\\n"; }
                }
                """)
    }

    /// Runs `body` (Python, after a TLS connection `tls` to the server is made) and
    /// returns what it printed.
    func client(_ s: TestServer, _ pki: TestPKI, _ body: String) throws -> CommandResult {
        let script = """
            import os, socket, ssl, sys, time
            ctx = ssl.create_default_context(cafile=sys.argv[2])
            ctx.check_hostname = False
            raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
            tls = ctx.wrap_socket(raw, server_hostname="localhost")

            """ + body
        return try runCommand(["/usr/bin/python3", "-c", script, String(s.port), pki.path("ca.pem")])
    }

    @Test func aCorruptRecordIsLoggedWithTheConnectionsContext() throws {
        let pki = try TestPKI()
        let s = try start(pki, "rsa")
        defer { s.stop() }
        let r = try client(
            s, pki,
            """
            tls.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            print(tls.recv(4096).split(b"\\r\\n")[0].decode())
            os.write(tls.fileno(), b"\\x17\\x03\\x03\\x00\\x20" + b"\\x00" * 32)
            try:
                print("closed" if tls.recv(4096) == b"" else "data")
            except (ssl.SSLError, OSError) as e:
                print("closed")
            """)
        #expect(r.stdout == "HTTP/1.1 200 OK\nclosed\n", "\(r.stdout) \(r.stderr)")
        #expect(
            s.waitForFile("logs/error.log", containing: "while processing SSL connection, client: 127.0.0.1"),
            "\(s.read("logs/error.log"))")
    }

    /// Every answer arrives, and the close after the half-close comes at once
    /// (keepalive_timeout is 30 s here).
    @Test func keepAliveOverTLSAcrossShortReads() throws {
        let pki = try TestPKI()
        let s = try start(pki, "ec", extra: "keepalive_timeout 30s;")
        defer { s.stop() }
        let r = try client(
            s, pki,
            """
            def answers(n):
                got = b""
                while got.count(b"ok\\n") < n:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                return got.count(b"HTTP/1.1 200")
            tls.sendall(b"GET /a HTTP/1.1\\r\\nHo")
            time.sleep(0.2)
            tls.sendall(b"st: x\\r\\n\\r\\n")
            print(answers(1))
            tls.sendall(b"GET /b HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n" * 2)
            print(answers(2))
            tls.sendall(b"GET /c HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            print(answers(1))
            start = time.time()
            socket.socket.shutdown(tls, socket.SHUT_WR)
            try:
                while tls.recv(4096):
                    pass
            except (ssl.SSLError, OSError):
                pass
            print("closed" if time.time() - start < 3 else "late")
            """)
        #expect(r.stdout == "1\n2\n1\nclosed\n", "\(r.stdout) \(r.stderr)")
    }
}
