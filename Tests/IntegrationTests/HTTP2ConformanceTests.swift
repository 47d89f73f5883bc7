// HTTP/2 behaviour checked frame by frame with Python's h2 package (Debian's python3-h2,
// installed when missing) through Support/h2_client.py: the request head checks nginx
// makes (400 where nghttp2 alone would reset the stream), the 421 for a server without
// HTTP/2, trailers, and the request body's flow control.

import Foundation
import Testing

/// Runs Support/h2_client.py against a port; its JSON answer.
struct H2Script {
    static let path = repositoryRoot.appendingPathComponent("Tests/IntegrationTests/Support/h2_client.py").path

    static func requirePackage() throws {
        let probe = try runCommand(["/usr/bin/python3", "-c", "import h2"], timeout: 20)
        if probe.status != 0 {
            _ = try runCommand(
                ["/bin/sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-h2"], timeout: 300)
        }
    }

    static func run(_ port: Int, _ scenario: [String: Any]) throws -> [String: Any] {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: scenario), as: UTF8.self)
        let r = try runCommand(["/usr/bin/python3", path, "\(port)", json], timeout: 30)
        guard let data = r.stdout.data(using: .utf8),
            let out = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw TestFailure("h2_client.py: \(r.stdout) \(r.stderr)") }
        return out
    }

    /// The first stream of an answer.
    static func stream(_ out: [String: Any], _ id: Int = 1) -> [String: Any] {
        (out["streams"] as? [String: Any])?["\(id)"] as? [String: Any] ?? [:]
    }

    /// One request's status (nil: no response head).
    static func status(_ port: Int, _ headers: [[String]]) throws -> Int? {
        stream(try run(port, ["requests": [["headers": headers]]]))["status"] as? Int
    }
}

@Suite(.serialized) struct HTTP2ConformanceTests {
    func start(_ servers: String, files: [String: String] = [:]) throws -> TestServer {
        try H2Script.requirePackage()
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    \(servers)
                }
                """,
            files: files)
        try server.start()
        return server
    }

    static let base = [[":method", "GET"], [":scheme", "http"], [":path", "/"]]

    /// The head checks of ngx_http_v2_state_header / ngx_http_v2_run_request: each fault
    /// is a 400 (405 for CONNECT) with nginx's log line, not a reset stream.
    @Test func malformedHeadsAreAnswered400AsNginx() throws {
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location / { return 200 "[$host]"; }
            }
            """)
        defer { s.stop() }
        let p = s.port
        let cases: [([[String]], Int, String)] = [
            (Self.base + [[":authority", ""]], 400, "client sent invalid \":authority\" header"),
            (Self.base + [["host", ""]], 400, "client sent invalid host header"),
            (Self.base + [["host", "example.com/\\:552"]], 400, "client sent invalid host header"),
            (Self.base + [[":authority", "a/b"]], 400, "client sent invalid \":authority\" header"),
            (Self.base + [["host", "a"], ["host", "b"]], 400, "client sent duplicate header line: \"host: b\""),
            (Self.base + [[":authority", "a"], ["host", "b"]], 400, "with different values"),
            (Self.base, 400, "client sent neither \":authority\" nor \"Host\" header"),
            ([[":method", "GET"], [":path", "/"], [":authority", "a"]], 400, "client sent no :scheme header"),
            (Self.base + [["host", "a"], [":authority", "a"]], 400, "client sent out of order pseudo-headers"),
            (Self.base + [[":authority", "a"], ["X-Foo", "1"]], 400, "client sent invalid header name: \"X-Foo\""),
            (Self.base + [[":authority", "a"], ["x-foo", "a\r\nb"]], 400, "with invalid value"),
            (Self.base + [[":authority", "a"], [":foo", "1"]], 400, "client sent unknown pseudo-header \":foo\""),
            (Self.base + [[":authority", "a"], ["connection", "close"]], 400, "client sent \"Connection\" header"),
            (Self.base + [[":authority", "a"], ["te", "gzip"]], 400, "client sent invalid \"TE\" header"),
            (
                [[":method", "CONNECT"], [":scheme", "http"], [":path", "/"], [":authority", "a"]], 405,
                "client sent CONNECT method"
            ),
            ([[":method", "GET"], [":scheme", "http"], [":path", "x"], [":authority", "a"]], 400, "invalid :path"),
        ]
        for (headers, status, log) in cases {
            #expect(try H2Script.status(p, headers) == status, "\(headers)")
            #expect(s.waitForFile("logs/error.log", containing: log), "\(log)")
        }
        let ok = H2Script.stream(
            try H2Script.run(p, ["requests": [["headers": Self.base + [[":authority", "a.b"], ["host", "a.b"]]]]]))
        #expect(ok["status"] as? Int == 200)
        #expect(ok["data"] as? String == "[a.b]")
        // An invalid field name is left out (ignore_invalid_headers), the head goes on.
        let skip = try H2Script.status(p, Self.base + [[":authority", "a"], ["x.y", "1"], ["te", "trailers"]])
        #expect(skip == 200)
    }

    /// nginx's rule: a stream whose Host picks a server without `http2` (on an address
    /// without `listen ... http2`) gets 421 Misdirected Request.
    @Test func hostOfAServerWithoutHTTP2Is421() throws {
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                server_name on.test;
                http2 on;
                location / { return 200 "on"; }
            }
            server {
                listen 127.0.0.1:PORT;
                server_name off.test;
                location / { return 200 "off"; }
            }
            """)
        defer { s.stop() }
        #expect(try H2Script.status(s.port, Self.base + [[":authority", "on.test"]]) == 200)
        #expect(try H2Script.status(s.port, Self.base + [[":authority", "off.test"]]) == 421)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "client attempted to request the server name for which the negotiated protocol is disabled")
        )
        // HTTP/1.1 to the same server is served.
        let c = try RawClient(port: s.port)
        try c.send(Array("GET / HTTP/1.0\r\nHost: off.test\r\n\r\n".utf8))
        #expect(String(decoding: c.readToEnd(), as: UTF8.self).hasSuffix("off"))
    }

    /// add_trailer on HTTP/2: a HEADERS frame with END_STREAM after the body (also after
    /// an empty one, and after a proxied body), without Content-Length, as nginx.
    @Test func trailersFollowTheBody() throws {
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                http2 on;
                root html;
                location / { add_trailer X-Var "[$host]"; }
                location /p/ { add_trailer X-P "proxied $status"; proxy_pass http://127.0.0.1:PORT/back/; }
                location /back/ { add_header Upgrade websocket; return 200 "from back"; }
            }
            """, files: ["html/t.txt": "SEE-THIS", "html/empty": ""])
        defer { s.stop() }
        func get(_ path: String) throws -> [String: Any] {
            H2Script.stream(
                try H2Script.run(
                    s.port,
                    [
                        "requests": [
                            [
                                "headers": [
                                    [":method", "GET"], [":scheme", "http"], [":path", path],
                                    [":authority", "localhost"],
                                ]
                            ]
                        ]
                    ]))
        }
        let t = try get("/t.txt")
        #expect(t["status"] as? Int == 200)
        #expect(t["data"] as? String == "SEE-THIS")
        #expect(t["trailers"] as? [[String]] == [["x-var", "[localhost]"]])
        let names = (t["headers"] as? [[String]] ?? []).map { $0[0] }
        #expect(!names.contains("content-length"), "\(names)")
        let e = try get("/empty")
        #expect(e["data"] as? String == "")
        #expect(e["trailers"] as? [[String]] == [["x-var", "[localhost]"]])
        let p = try get("/p/")
        #expect(p["data"] as? String == "from back")
        #expect(p["trailers"] as? [[String]] == [["x-p", "proxied 200"]])
        // An upstream's Upgrade is dropped for HTTP/2 and passed to HTTP/1.1 (nginx 1.31.3).
        #expect(!(p["headers"] as? [[String]] ?? []).contains { $0[0] == "upgrade" })
        let c = try RawClient(port: s.port)
        try c.send(Array("GET /p/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8))
        #expect(String(decoding: c.readToEnd(), as: UTF8.self).contains("\r\nUpgrade: websocket\r\n"))
    }

    /// The body against its Content-Length, as nginx: more bytes, or END_STREAM before
    /// all, answer 400 with nginx's log line; a body read whole opens the stream window
    /// wide (one WINDOW_UPDATE of 2^31-1 less the window left); a head that ends the
    /// stream while announcing a body is a 400.
    @Test func requestBodyLengthAndWindow() throws {
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location /p/ { proxy_pass http://127.0.0.1:PORT/back/; }
                location /back/ { return 200 "got $content_length"; }
            }
            """)
        defer { s.stop() }
        func post(_ length: String?, _ body: String, pause: Double? = nil) throws -> [String: Any] {
            var headers = [[":method", "POST"], [":scheme", "http"], [":path", "/p/"], [":authority", "a"]]
            if let length { headers.append(["content-length", length]) }
            var req: [String: Any] = ["headers": headers, "data": body]
            if let pause { req["pause"] = pause }
            return try H2Script.run(s.port, ["requests": [req]])
        }
        #expect(H2Script.stream(try post("5", "TEST"))["status"] as? Int == 400)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "client prematurely closed stream: only 4 out of 5 bytes of request body received"))
        #expect(H2Script.stream(try post("3", "TEST"))["status"] as? Int == 400)
        #expect(s.waitForFile("logs/error.log", containing: "client intended to send body data larger than declared"))
        let ok = try post("4", "TEST", pause: 0.3)
        #expect(H2Script.stream(ok)["data"] as? String == "got 4")
        let updates = ok["window_updates"] as? [String: Int] ?? [:]
        #expect(updates["1"] == 2_147_483_647 - 65536, "\(updates)")
        let chunked = try post(nil, String(repeating: "x", count: 30000), pause: 0.3)
        #expect(H2Script.stream(chunked)["data"] as? String == "got 30000")
        let noBody = H2Script.stream(
            try H2Script.run(
                s.port,
                [
                    "requests": [
                        [
                            "headers": [
                                [":method", "POST"], [":scheme", "http"], [":path", "/p/"], [":authority", "a"],
                                ["content-length", "3"],
                            ]
                        ]
                    ]
                ]))
        #expect(noBody["status"] as? Int == 400)
    }

    /// `return 200;` without text answers as nginx's ngx_http_send_response: an empty
    /// body with the default type (and the charset).
    @Test func emptyReturnHasItsType() throws {
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location /c { charset utf-8; return 200; }
            }
            """)
        defer { s.stop() }
        let c = H2Script.stream(
            try H2Script.run(
                s.port,
                [
                    "requests": [
                        ["headers": Self.base.map { $0[1] == "/" ? [":path", "/c"] : $0 } + [[":authority", "a"]]]
                    ]
                ]))
        #expect((c["headers"] as? [[String]] ?? []).contains(["content-type", "text/plain; charset=utf-8"]), "\(c)")
        let h1 = try RawClient(port: s.port)
        try h1.send(Array("GET /c HTTP/1.0\r\n\r\n".utf8))
        #expect(
            String(decoding: h1.readToEnd(), as: UTF8.self).contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"))
    }

    /// WebSockets over HTTP/2 (RFC 8441): SETTINGS_ENABLE_CONNECT_PROTOCOL is offered;
    /// an extended CONNECT reaches the back end as an HTTP/1.1 Upgrade request, its 101
    /// is the stream's 200, and the bytes go both ways in DATA frames.
    @Test func extendedConnectTunnelsToAWebSocketBackEnd() throws {
        let backend = try EchoBackend()
        defer { backend.stop() }
        let s = try start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location /ws {
                    proxy_pass http://127.0.0.1:\(backend.port);
                    proxy_http_version 1.1;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade";
                }
            }
            """)
        defer { s.stop() }
        let connect = [
            [":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "http"], [":path", "/ws"],
            [":authority", "a"], ["sec-websocket-version", "13"],
        ]
        let out = try H2Script.run(
            s.port, ["requests": [["headers": connect, "end": false, "tunnel": "hello over h2"]], "timeout": 5])
        #expect((out["server_settings"] as? [String: Int])?["8"] == 1, "\(out)")
        let t = H2Script.stream(out)
        #expect(t["status"] as? Int == 200, "\(out) \(s.read("logs/error.log"))")
        #expect(t["data"] as? String == "hello over h2")
        // Extended CONNECT without :protocol is still nginx's 405; :protocol without
        // CONNECT a 400.
        #expect(try H2Script.status(s.port, connect.filter { $0[0] != ":protocol" }) == 405)
        #expect(
            try H2Script.status(
                s.port, [[":method", "GET"], [":protocol", "websocket"]] + Array(connect.dropFirst(2)))
                == 400)
    }

    /// A body that arrives while its request waits in limit_req is read once the delay
    /// ends (the proxy is driven then, as for a stream that started at once).
    @Test func bodyDuringALimitReqDelay() throws {
        let s = try H2ConformanceServer.start(
            """
            limit_req_zone $binary_remote_addr zone=one:1m rate=2r/s;
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location /p/ { limit_req zone=one burst=5; proxy_pass http://127.0.0.1:PORT/back/; }
                location /back/ { return 200 "got $content_length"; }
            }
            """)
        defer { s.stop() }
        let head = [[":method", "POST"], [":scheme", "http"], [":path", "/p/"], [":authority", "a"]]
        let out = try H2Script.run(
            s.port,
            [
                "requests": [
                    ["headers": head, "data": "a"], ["headers": head, "data": "", "pause": 0.1],
                    ["headers": head, "data": "TEST", "pause": 0.1],
                ], "timeout": 8,
            ])
        #expect(H2Script.stream(out, 1)["data"] as? String == "got 1")
        #expect(H2Script.stream(out, 3)["data"] as? String == "got 0", "\(out)")
        #expect(H2Script.stream(out, 5)["data"] as? String == "got 4", "\(out)")
        #expect(s.waitForFile("logs/error.log", containing: "delaying request"))
    }
}

/// A server for the conformance tests whose configuration has http-level lines.
enum H2ConformanceServer {
    static func start(_ http: String) throws -> TestServer {
        try H2Script.requirePackage()
        let server = try TestServer(config: "\(TestServer.preamble)\nhttp {\n\(http)\n}\n")
        try server.start()
        return server
    }
}
