// Request bodies as nginx keeps them for a proxy: `$request_body` while the body is in
// memory, `$request_body_file` once it is in a temporary file, `client_body_in_file_only`
// (`on` keeps the file, `clean` removes it after the request, `off` removes the name at
// once), `client_body_temp_path` with levels (created for the `user` account when
// started as root), 100 Continue for an empty body, and a malformed chunked body that
// arrived with the head refused before any answer.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct RequestBodyTests {
    func start() throws -> TestServer {
        let backend = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        client_body_buffer_size 1k;
                        add_header X-Body "$request_body";
                        add_header X-Body-File "$request_body_file";
                        location / { proxy_pass http://127.0.0.1:\(backend); }
                        location /on {
                            client_body_in_file_only on;
                            client_body_temp_path PREFIXbodies 1 2;
                            proxy_pass http://127.0.0.1:\(backend);
                        }
                        location /clean { client_body_in_file_only clean; proxy_pass http://127.0.0.1:\(backend); }
                        location /return { return 200 "ok\\n"; }
                    }
                    server { listen 127.0.0.1:\(backend); return 200 "got $content_length\\n"; }
                }
                """)
        try s.start()
        return s
    }

    func post(_ port: Int, _ uri: String, _ body: String) throws -> HTTPResponse {
        try request(port, "POST \(uri) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    }

    @Test func bodyInMemoryThenInAFile() throws {
        let s = try start()
        defer { s.stop() }
        let small = try post(s.port, "/", "0123456789")
        #expect(small.header("X-Body") == "0123456789")
        #expect(small.header("X-Body-File") == nil)
        #expect(small.bodyText == "got 10\n")
        let large = try post(s.port, "/", String(repeating: "x", count: 3000))
        #expect(large.bodyText == "got 3000\n")
        #expect(large.header("X-Body") == nil)
        let file = large.header("X-Body-File") ?? ""
        #expect(file.hasPrefix(s.prefix + "client_body_temp/"), "\(file)")
        // client_body_in_file_only off: the name is gone as soon as the file is open.
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(s.read("logs/error.log").contains("[warn]"))
        #expect(s.read("logs/error.log").contains("a client request body is buffered to a temporary file \(file)"))
    }

    @Test func inFileOnlyKeepsOrCleansTheFile() throws {
        let s = try start()
        defer { s.stop() }
        let on = try post(s.port, "/on", "0123456789")
        #expect(on.bodyText == "got 10\n")
        #expect(on.header("X-Body") == nil)
        let kept = on.header("X-Body-File") ?? ""
        // levels 1 2: file 0000012345 lives in bodies/5/34/.
        let name = (kept as NSString).lastPathComponent
        #expect(name.count == 10 && name.allSatisfy(\.isNumber), "\(kept)")
        let level1 = String(name.suffix(1))
        let level2 = String(name.dropLast().suffix(2))
        #expect(kept == s.prefix + "bodies/\(level1)/\(level2)/\(name)")
        #expect((try? String(contentsOfFile: kept, encoding: .utf8)) == "0123456789")
        let clean = try post(s.port, "/clean", "abc")
        let removed = clean.header("X-Body-File") ?? ""
        #expect(removed.hasPrefix(s.prefix + "client_body_temp/"))
        var gone = false
        for _ in 0..<50 where !gone {
            gone = !FileManager.default.fileExists(atPath: removed)
            if !gone { usleep(20_000) }
        }
        #expect(gone)
    }

    /// A proxy answers 100 Continue when it reads the body, even an empty one (nginx), and
    /// only to HTTP/1.1 clients; the expectation's name is case-insensitive.
    @Test func continueForAnEmptyBody() throws {
        let s = try start()
        defer { s.stop() }
        for (version, value, expected) in [
            ("1.1", "100-continue", true), ("1.1", "100-Continue", true), ("1.0", "100-continue", false),
        ] {
            let c = try RawClient(port: s.port)
            try c.send(
                "POST / HTTP/\(version)\r\nHost: x\r\nExpect: \(value)\r\nContent-Length: 0\r\n"
                    + "Connection: close\r\n\r\n")
            let raw = String(decoding: c.readToEnd(), as: UTF8.self)
            #expect(raw.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK") == expected, "\(raw)")
            #expect(raw.hasSuffix("got 0\n"))
        }
    }

    /// Started as root, the serving process (nobody) buffers bodies in directories the
    /// supervisor created and gave it, as nginx's master creates its temp paths.
    @Test(.enabled(if: getuid() == 0)) func bodyFilesWhenServingAsNobody() throws {
        let backend = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        client_body_buffer_size 1k;
                        location / { add_header X-Body-File $request_body_file; proxy_pass http://127.0.0.1:\(backend); }
                        location /lv {
                            client_body_temp_path PREFIXlv 1;
                            client_body_in_file_only on;
                            add_header X-Body-File $request_body_file;
                            proxy_pass http://127.0.0.1:\(backend);
                        }
                    }
                    server { listen 127.0.0.1:\(backend); return 200 "got $content_length\\n"; }
                }
                """)
        // No `user` directive and no `-g "user root;"`: served as nobody.
        try s.start(extraArgs: ["-g", "worker_processes 1;"])
        defer { s.stop() }
        let large = try post(s.port, "/", String(repeating: "x", count: 3000))
        #expect(large.bodyText == "got 3000\n")
        #expect(large.header("X-Body-File")?.hasPrefix(s.prefix + "client_body_temp/") == true)
        let kept = try post(s.port, "/lv", "abc")
        #expect(kept.bodyText == "got 3\n")
        let file = kept.header("X-Body-File") ?? ""
        #expect(file.hasPrefix(s.prefix + "lv/"))
        let nobody = Privileges.userID("nobody") ?? 0
        var st = stat()
        #expect(stat(s.prefix + "lv", &st) == 0 && st.st_uid == nobody && st.st_mode & 0o777 == 0o700)
        #expect(stat(file, &st) == 0 && st.st_uid == nobody)
    }

    @Test func malformedChunkedBodyIsRefusedBeforeTheAnswer() throws {
        let s = try start()
        defer { s.stop() }
        let r = try request(
            s.port,
            "GET /return HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4\r\nSEE-THIS\r\n0\r\n\r\n")
        #expect(r.status == 400)
        let ok = try request(
            s.port, "GET /return HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nSEE-\r\n0\r\n\r\n")
        #expect(ok.status == 200)
    }
}
