// The client head of a proxied answer as the upstream's lines become it, over real
// sockets: lines already written as "Name: value\r\n" are copied as they are (in runs,
// around the hidden and hop-by-hop ones that are dropped), the others are rewritten in
// that form (no space, extra or trailing whitespace, a tab, a bare LF, an empty value);
// and proxy_set_header values without variables (made once with the configuration)
// are sent, replace Host, and take the field out when empty.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct ProxyHeadCopyTests {
    /// One scripted upstream connection: reads a request head, answers `response`, closes.
    final class ScriptedUpstream {
        let fd: Int32
        let port: Int
        private let thread: Thread

        init(response: String) throws {
            (fd, port) = try listenOnLoopback()
            let listener = fd
            let bytes = Array(response.utf8)
            thread = Thread {
                let c = accept(listener, nil, nil)
                guard c >= 0 else { return }
                var tv = timeval(tv_sec: 5, tv_usec: 0)
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                var request: [UInt8] = []
                var buf = [UInt8](repeating: 0, count: 4096)
                while !String(decoding: request, as: UTF8.self).contains("\r\n\r\n") {
                    let n = recv(c, &buf, buf.count, 0)
                    if n <= 0 { break }
                    request += buf[0..<n]
                }
                _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(c)
            }
            thread.start()
        }

        func stop() {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
    }

    @Test func upstreamLinesAreCopiedOrRewrittenInNginxForm() throws {
        let upstream = try ScriptedUpstream(
            response: "HTTP/1.1 200 OK\r\nServer: up\r\nX-A: one\r\nX-B:two\r\nX-C:   three  \r\nDate: x\r\n"
                + "X-D: four\r\nX-E: five\r\nConnection: close\r\nX-F:\tsix\r\nContent-Length: 2\r\n"
                + "X-G: seven\nX-Empty:\r\nX-H: eight\r\n\r\nok")
        defer { upstream.stop() }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        location / { proxy_pass http://127.0.0.1:\(upstream.port); }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        let r = try get(s.port, "/")
        #expect(r.status == 200)
        #expect(r.bodyText == "ok")
        let fields =
            "X-A: one\r\nX-B: two\r\nX-C: three\r\nX-D: four\r\nX-E: five\r\nX-F: six\r\nX-G: seven\r\n"
            + "X-Empty: \r\nX-H: eight\r\n"
        #expect(r.rawHead.contains(fields), "\(r.rawHead.debugDescription)")
        // The upstream's Server and Date are replaced by the proxy's own.
        #expect(!r.rawHead.contains("Server: up") && !r.rawHead.contains("Date: x"))
        #expect(r.rawHead.hasPrefix("HTTP/1.1 200 OK\r\nServer: "))
        // Its Connection line is dropped: the one left is the proxy's own (the client's close).
        #expect(r.rawHead.components(separatedBy: "Connection:").count == 2)
    }

    @Test func constantProxySetHeaderLines() throws {
        let up = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    upstream pool { server 127.0.0.1:\(up); keepalive 2; }
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        location / {
                            proxy_pass http://pool;
                            proxy_http_version 1.1;
                            proxy_set_header Connection "";
                            proxy_set_header X-Static "lit value";
                            proxy_set_header X-Gone "";
                            proxy_set_header X-Var "v=$request_method";
                        }
                        location /host/ {
                            proxy_pass http://pool;
                            proxy_set_header Host "example.test";
                        }
                    }
                    server {
                        listen 127.0.0.1:\(up);
                        server_name localhost example.test;
                        location / { return 200 "$http_x_static|$http_x_gone|$http_x_var|$host|$http_connection"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        for _ in 0..<2 {
            let r = try get(s.port, "/a", extra: "X-Gone: client\r\n")
            #expect(r.status == 200)
            #expect(r.bodyText == "lit value||v=GET|pool|")
        }
        let h = try get(s.port, "/host/")
        #expect(h.bodyText == "|||example.test|close")
    }
}
