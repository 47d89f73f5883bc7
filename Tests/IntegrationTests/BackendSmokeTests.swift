// The backend harness on its own (no swiftginx): every app server kind starts,
// answers the example project's views directly, and stops by pid; Daphne echoes
// WebSocket messages. These prove Support/Backends.swift and
// Support/WebSocketClient.swift before proxy tests rely on them.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct BackendSmokeTests {
    static func json(_ response: HTTPResponse) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(response.bodyText)")
        }
        return object
    }

    @Test(arguments: Backend.Kind.allCases)
    func startsAnswersAndStops(_ kind: Backend.Kind) throws {
        let backend = try Backend.start(kind, name: "smoke-\(kind)")
        defer { backend.stop() }

        let health = try backend.request("/health/")
        #expect(health.status == 200)
        #expect(health.bodyText == "ok")
        #expect(try backend.request("/whoami/").bodyText == "smoke-\(kind)")

        let headers = try backend.request(
            "/headers/?a=1&b=two",
            headers: [
                ("Host", "example.test"), ("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"),
                ("X-Real-IP", "203.0.113.7"), ("X-Custom", "yes"),
            ])
        #expect(headers.status == 200, "\(headers.rawHead)\n\(headers.bodyText)\n\(backend.log)")
        let j = try Self.json(headers)
        #expect(j["host"] as? String == "example.test")
        #expect(j["path"] as? String == "/headers/")
        #expect(j["full_path"] as? String == "/headers/?a=1&b=two")
        #expect(j["query"] as? String == "a=1&b=two")
        #expect(j["method"] as? String == "GET")
        #expect(j["is_secure"] as? Bool == true)
        #expect(j["x_forwarded_for"] as? String == "203.0.113.7")
        #expect(j["x_forwarded_proto"] as? String == "https")
        #expect(j["x_real_ip"] as? String == "203.0.113.7")
        #expect(j["server_port"] as? Int == backend.port)
        #expect((j["headers"] as? [String: String])?["HTTP_X_CUSTOM"] == "yes")
        if !kind.usesUnixSocket { #expect(j["remote_addr"] as? String == "127.0.0.1") }

        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let upload = try backend.request(
            "/upload/", method: "POST", headers: [("Content-Type", "application/octet-stream")], body: body)
        #expect(upload.status == 200, "\(upload.bodyText)")
        let u = try Self.json(upload)
        #expect(u["length"] as? Int == body.count)
        #expect(u["sha256"] as? String == sha256Hex(body))

        let download = try backend.request("/download/?size=100000")
        #expect(download.status == 200)
        #expect(download.header("Content-Length") == "100000")
        #expect(download.body == (0..<100000).map { UInt8($0 % 251) })

        let redirect = try backend.request("/redirect/")
        #expect(redirect.status == 302)
        #expect(redirect.header("Location") == "/headers/")
        let cookies = redirect.headers.filter { $0.0.lowercased() == "set-cookie" }.map(\.1)
        #expect(cookies.contains("a=1; Path=/"))
        #expect(cookies.contains("b=2; Domain=127.0.0.1; Path=/app"))

        #expect(try backend.request("/status/503/").status == 503)
        let stream = try backend.request("/stream/?chunks=3&delay=0.05")
        #expect(
            stream.bodyText.split(separator: "\n").map { $0.split(separator: " ").prefix(2).joined(separator: " ") }
                == ["chunk 0", "chunk 1", "chunk 2"])

        backend.stop()
        #expect(!backend.isRunning)
        // Neither the server nor any of its workers (same process group) is left.
        #expect(backend.waitUntilGone())
        if let socketPath = backend.socketPath {
            #expect(throws: (any Error).self) { _ = try BackendSocket(address: "unix:" + socketPath) }
        } else {
            #expect(!canConnect(port: backend.port))
        }
    }

    @Test func killLeavesNothingListening() throws {
        let backend = try Backend.start(.gunicornTCP, name: "victim")
        backend.kill()
        #expect(!backend.isRunning)
        #expect(backend.waitUntilGone())
        #expect(!canConnect(port: backend.port))
    }

    @Test func twoBackendsTellThemselvesApart() throws {
        let one = try Backend.start(.gunicornTCP, name: "one")
        defer { one.stop() }
        let two = try Backend.start(.gunicornTCP, name: "two")
        defer { two.stop() }
        #expect(one.port != two.port)
        #expect(try one.request("/whoami/").bodyText == "one")
        #expect(try two.request("/whoami/").bodyText == "two")
    }

    @Test func daphneWebSocketEcho() throws {
        let backend = try Backend.start(.daphne, name: "ws")
        defer { backend.stop() }
        let ws = try WebSocketClient.connect(port: backend.port, path: "/ws/echo/")
        #expect(ws.responseHead.hasPrefix("HTTP/1.1 101"))

        try ws.send(text: "hello, wörld")
        #expect(try ws.receiveText() == "hello, wörld")

        let binary: [UInt8] = [0, 1, 2, 255, 254, 13, 10, 0]
        try ws.send(binary: binary)
        let echoed = try ws.receive()
        #expect(echoed.opcode == .binary)
        #expect(echoed.payload == binary)

        // 1 MiB messages: 64-bit payload lengths both ways.
        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        try ws.send(binary: big)
        let bigEcho = try ws.receive()
        #expect(bigEcho.opcode == .binary)
        #expect(bigEcho.payload.count == big.count)
        #expect(bigEcho.payload == big)

        let bigText = String(repeating: "0123456789abcdef", count: 1 << 16)
        try ws.send(text: bigText)
        #expect(try ws.receiveText() == bigText)

        // A message sent in three fragments comes back as one message.
        try ws.sendFrame(.text, Array("frag".utf8), fin: false)
        try ws.sendFrame(.continuation, Array("ment".utf8), fin: false)
        try ws.sendFrame(.continuation, Array("ed".utf8), fin: true)
        #expect(try ws.receiveText() == "fragmented")

        #expect(try ws.close(code: 1000) == 1000)
    }

    @Test func daphneHandshakeToMissingPathIsRefused() throws {
        let backend = try Backend.start(.daphne, name: "ws")
        defer { backend.stop() }
        #expect(throws: (any Error).self) {
            let ws = try WebSocketClient.connect(port: backend.port, path: "/ws/nowhere/")
            _ = try ws.receive()
        }
    }

    @Test func sha1KnownAnswers() {
        #expect(hex(sha1([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(sha1(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(hex(sha1(million)) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }
}

/// The example configurations in conf/examples/ behave as docs/django.md says when
/// nginx itself runs them in front of the real backends: this is the reference
/// behaviour swiftginx must match with the same files.
@Suite(.serialized) struct ExampleConfigsUnderNginxTests {
    @Test(arguments: ExampleConfig.all.map(\.name))
    func proxiesToItsBackend(_ name: String) throws {
        let kind = ExampleConfig.all.first { $0.name == name }!.kind
        let backend = try Backend.start(kind, name: name)
        defer { backend.stop() }
        let port = freePort()
        let nginx = try ReferenceNginx(
            config: ExampleConfig.render(name, backend: backend, listenPort: port, forNginx: true), port: port)
        defer { nginx.stop() }

        try Self.checkExample(kind: kind, backend: backend, port: port, serverPrefix: "nginx", log: { nginx.log })
    }

    /// What a front server (nginx or swiftginx) running an example config must do in
    /// front of its real backend: the headers Django sees, static files, a 3 MiB
    /// upload hashed on both ends, and (Daphne) a WebSocket echo up to 1 MiB.
    static func checkExample(
        kind: Backend.Kind, backend: Backend, port: Int, serverPrefix: String, log: () -> String
    ) throws {
        let r = try get(
            port, "/headers/?q=1", host: "Example.TEST:\(port)", extra: "X-Forwarded-For: 198.51.100.1\r\n")
        #expect(r.status == 200, "\(r.rawHead)\n\(r.bodyText)\n\(log())\n\(backend.log)")
        let j = try BackendSmokeTests.json(r)
        // $host: lower-cased, without the port.
        #expect(j["host"] as? String == "example.test")
        #expect(j["full_path"] as? String == "/headers/?q=1")
        #expect(j["is_secure"] as? Bool == false)
        #expect(j["x_forwarded_proto"] as? String == "http")
        #expect(j["server_port"] as? Int == backend.port)
        if kind.speaksUWSGI {
            // uwsgi_params: REMOTE_ADDR is the client; the client's own X-Forwarded-For passes as sent.
            #expect(j["remote_addr"] as? String == "127.0.0.1")
            #expect(j["x_forwarded_for"] as? String == "198.51.100.1")
        } else {
            #expect(j["x_real_ip"] as? String == "127.0.0.1")
            #expect(j["x_forwarded_for"] as? String == "198.51.100.1, 127.0.0.1")
        }

        let s = try get(port, "/static/hello.txt")
        #expect(s.status == 200)
        #expect(s.bodyText == "static file for the example configs\n")
        #expect(s.header("Server")?.hasPrefix(serverPrefix) == true)

        let body = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let c = try RawClient(port: port, timeoutSeconds: 20)
        try c.send(
            "POST /upload/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.count)\r\n"
                + "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
        try c.send(body)
        let u = try BackendSmokeTests.json(c.readResponse())
        #expect(u["length"] as? Int == body.count)
        #expect(u["sha256"] as? String == sha256Hex(body))

        if kind == .daphne {
            let ws = try WebSocketClient.connect(port: port, path: "/ws/echo/")
            try ws.send(text: "through nginx")
            #expect(try ws.receiveText() == "through nginx")
            let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try ws.send(binary: big)
            #expect(try ws.receive().payload == big)
            #expect(try ws.close(code: 1000) == 1000)
        }
    }
}
