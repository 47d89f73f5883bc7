// HTTP/2 behaviour nginx's suite (T6) checks frame by frame, over real sockets with
// Python's h2 package (Support/h2_client.py): a request body ends with END_STREAM, not at
// its Content-Length; the error page of a refused head is proxied; a response header
// block goes in one HEADERS frame up to the client's maximum frame size; the header list
// limit counts as nginx counts; field values may hold controls; and DATA frames of
// several streams go in nginx's priority order.

import Foundation
import Testing

@Suite(.serialized) struct HTTP2NginxOrderTests {
    static let postHead = [[":method", "POST"], [":scheme", "http"], [":authority", "a"]]
    static let getHead = [[":method", "GET"], [":scheme", "http"], [":authority", "a"]]

    /// nginx reads an HTTP/2 body until END_STREAM: bytes past Content-Length are a 400
    /// even when the declared length came first (the upstream request waits for the end);
    /// a streamed body (proxy_request_buffering off) whose END_STREAM comes after the
    /// declared bytes, alone in an empty DATA frame, is answered once it comes.
    @Test func bodyEndsWithEndStream() throws {
        let s = try H2ConformanceServer.start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                location /buffered/ { proxy_pass http://127.0.0.1:PORT/back/; }
                location /streamed/ {
                    proxy_request_buffering off;
                    proxy_http_version 1.1;
                    proxy_pass http://127.0.0.1:PORT/back/;
                }
                location /back/ { return 200 "got $content_length"; }
            }
            """)
        defer { s.stop() }
        func send(_ path: String, _ length: String, _ first: String, _ last: String) throws -> [String: Any] {
            let req: [String: Any] = [
                "headers": Self.postHead + [[":path", path], ["content-length", length]], "data": first, "end": false,
                "more": [["data": last, "pause": 0.3, "end": true]],
            ]
            return H2Script.stream(try H2Script.run(s.port, ["requests": [req]]))
        }
        #expect(try send("/buffered/", "3", "abc", "d")["status"] as? Int == 400)
        #expect(s.waitForFile("logs/error.log", containing: "client intended to send body data larger than declared"))
        #expect(try send("/buffered/", "3", "abc", "")["data"] as? String == "got 3")
        #expect(try send("/streamed/", "3", "abc", "")["data"] as? String == "got 3")
        #expect(try send("/streamed/", "0", "", "")["data"] as? String == "got 0")
    }

    /// `error_page 400` to a proxied location for a head refused on HTTP/2 (an empty
    /// :method): the page is fetched through the proxy, as nginx does, and answered
    /// with the error's status.
    @Test func refusedHeadErrorPageIsProxied() throws {
        try H2Script.requirePackage()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        http2 on;
                        root html;
                        error_page 400 /proxy/t.html;
                        location /proxy/ { proxy_pass http://127.0.0.1:PORT/; }
                        location /missing/ { error_page 404 /proxy/t.html; }
                        location /target/ { error_page 404 = /proxy/t.html; }
                    }
                }
                """,
            files: ["html/t.html": "SEE-THIS"])
        try s.start()
        defer { s.stop() }
        let out = H2Script.stream(
            try H2Script.run(s.port, ["requests": [["headers": [[":method", ""]], "data": ""]]]))
        #expect(out["data"] as? String == "SEE-THIS", "\(out)")
        #expect(out["status"] as? Int == 400)
        #expect(s.waitForFile("logs/error.log", containing: "client sent empty :method header"))
        // A proxied error page keeps the error's status (nginx's err_status), over HTTP/1
        // too; `error_page 404 = uri` takes the page's.
        let missing = try get(s.port, "/missing/x")
        #expect(missing.status == 404 && missing.bodyText == "SEE-THIS", "\(missing.rawHead)")
        #expect(missing.rawHead.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        let target = try get(s.port, "/target/x")
        #expect(target.status == 200 && target.bodyText == "SEE-THIS")
    }

    /// nghttp2 cuts header blocks at 16 KiB; they are joined again up to the client's
    /// SETTINGS_MAX_FRAME_SIZE, as nginx sends them: one HEADERS frame of a 40 kB head
    /// to a client that takes 128 KiB frames, 16 KiB pieces to one that does not.
    @Test func headerBlockInOneFrameUpToTheClientsMaximum() throws {
        let s = try H2ConformanceServer.start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                large_client_header_buffers 4 64k;
                location / { add_header X-Long $arg_h; return 204; }
            }
            """)
        defer { s.stop() }
        let path = "/?h=" + String(repeating: "x", count: 40000)
        func frames(_ settings: [String: Int]) throws -> ([[Int]], Any?) {
            let out = try H2Script.run(
                s.port,
                [
                    "settings": settings, "frames": true,
                    "requests": [["headers": Self.getHead + [[":path", path]]]],
                ])
            let all = out["frames"] as? [[Int]] ?? []
            return (all.filter { $0[0] == 1 || $0[0] == 9 }, H2Script.stream(out)["status"])
        }
        // (One frame of the Huffman-coded head, END_HEADERS and END_STREAM set; Python's h2
        // itself takes no frame past 16 KiB, so only the frames are looked at.)
        let (large, _) = try frames(["5": 131072])
        #expect(large.count == 1 && large[0][0] == 1 && large[0][1] & 4 == 4 && large[0][3] > 30000, "\(large)")
        let (small, status) = try frames([:])
        #expect(status as? Int == 204)
        #expect(small.count >= 3 && small.allSatisfy { $0[3] <= 16384 }, "\(small)")
        #expect((small.last?[1] ?? 0) & 4 == 4)
    }

    /// The header list limit is nginx's: names and values of the decoded list against
    /// `large_client_header_buffers` number × size (no 32 bytes per field); past it,
    /// GOAWAY ENHANCE_YOUR_CALM and nginx's log line. Field values may hold controls
    /// other than NUL, CR and LF, as nginx takes them.
    @Test func headerListLimitAndValuesAsNginx() throws {
        let s = try H2ConformanceServer.start(
            """
            server {
                listen 127.0.0.1:PORT;
                http2 on;
                large_client_header_buffers 1 512;
                location / { return 200 "[$http_x_foo]"; }
            }
            """)
        defer { s.stop() }
        // :method GET (10) :scheme http (11) :path / (6) :authority a (11): 38 bytes.
        func run(_ value: String) throws -> [String: Any] {
            try H2Script.run(
                s.port, ["requests": [["headers": Self.getHead + [[":path", "/"], ["longname", value]]]]])
        }
        #expect(H2Script.stream(try run(String(repeating: "x", count: 512 - 38 - 8)))["status"] as? Int == 200)
        let over = try run(String(repeating: "x", count: 512 - 38 - 7))
        #expect(over["goaway"] as? Int == 11, "\(over)")
        #expect(s.waitForFile("logs/error.log", containing: "client sent too large header"))
        let controls = H2Script.stream(
            try H2Script.run(
                s.port, ["requests": [["headers": Self.getHead + [[":path", "/"], ["x-foo", "a\u{01}\u{7f}b"]]]]]))
        #expect(controls["data"] as? String == "[a\u{01}\u{7f}b]", "\(controls)")
    }

    /// DATA frames of streams ready at once go in nginx's order: a stream a client made
    /// another depend on goes first, then the one of larger weight, whichever window
    /// opened first (the client announces a window of 0, then opens stream 3's first).
    @Test func dataFramesFollowNginxsPriorityOrder() throws {
        try H2Script.requirePackage()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        http2 on;
                        root html;
                    }
                }
                """,
            files: ["html/a.txt": String(repeating: "a", count: 20000), "html/b.txt": "bbbb"])
        try s.start()
        defer { s.stop() }
        func first(_ priority: [[Any]]) throws -> Int? {
            let out = try H2Script.run(
                s.port,
                [
                    "settings": ["4": 0], "frames": true,
                    "requests": [
                        ["headers": Self.getHead + [[":path", "/a.txt"]]],
                        ["headers": Self.getHead + [[":path", "/b.txt"]]],
                    ],
                    "after_heads": ["priority": priority, "windows": [[3, 100000], [1, 100000]]],
                ])
            return (out["data_order"] as? [Int])?.first
        }
        #expect(try first([]) == 3)
        #expect(try first([[3, 16, 1, false]]) == 1)
        #expect(try first([[1, 16, 3, false]]) == 3)
        #expect(try first([[1, 256, 0, false], [3, 1, 0, false]]) == 1)
        #expect(try first([[1, 1, 0, false], [3, 256, 0, false]]) == 3)
    }
}
