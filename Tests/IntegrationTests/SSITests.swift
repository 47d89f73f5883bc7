// The SSI filter over real sockets: a static page with echo, set, if/elif/else, config
// and blocks; includes of a static file, of a location proxied to this server, and of
// the echo upstream streaming its answer in pieces (the page waits for it and goes on
// in order); the answer is chunked without Content-Length, Last-Modified or ETag; a
// location without `ssi on` sends the commands as they are. A proxied page whose
// upstream (a one-answer socket here) sends a command in two writes 150 ms apart is
// filtered as it is relayed.

import Foundation
import Testing

@Suite(.serialized) struct SSITests {
    func start(_ b: EchoBackend) throws -> TestServer {
        let page = """
            <!--# set var="who" value="<world>" -->hello <!--# echo var="who" -->|\
            <!--# echo var="who" encoding="none" -->|<!--# echo var="nothing" default="dflt" -->|\
            <!--# echo var="arg_x" -->|\
            <!--# if expr="$arg_x = /^y+$/" -->Y<!--# elif expr="$arg_x" -->X<!--# else -->NONE<!--# endif -->|\
            <!--# include virtual="/part.html" -->|<!--# include virtual="/self/part.html" -->|\
            <!--# include virtual="/api/stream?n=2&ms=100" -->|\
            <!--# block name="fallback" -->stub!<!--# endblock -->\
            <!--# include virtual="/missing.html" stub="fallback" -->|\
            <!--# include virtual="/part.html" set="kept" --><!--# echo var="kept" -->|\
            <!--# bogus -->|<!--# config errmsg="E" --><!--# bogus -->|end
            """
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        root html;
                        location / { ssi on; }
                        location /self/ { proxy_pass http://127.0.0.1:PORT/plain/; }
                        location /plain/ { alias html/; }
                        location /api/ { proxy_pass http://127.0.0.1:\(b.port)/; }
                    }
                }
                """,
            files: ["html/page.html": page, "html/part.html": "PART"])
        try server.start()
        return server
    }

    @Test func aStaticPageRunsItsCommandsAndIncludesInOrder() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let r = try get(s.port, "/page.html?x=yy")
        #expect(r.status == 200)
        #expect(r.header("Transfer-Encoding") == "chunked")
        #expect(r.header("Content-Length") == nil)
        #expect(r.header("Last-Modified") == nil)
        #expect(r.header("ETag") == nil)
        let parts = r.bodyText.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(
            parts == [
                "hello &lt;world&gt;", "<world>", "dflt", "yy", "Y", "PART", "PART", "chunk 0\nchunk 1\n", "stub!",
                "PART", "[an error occurred while processing the directive]", "E", "end",
            ])
        #expect(try get(s.port, "/page.html?x=z").bodyText.contains("|X|"))
        #expect(try get(s.port, "/page.html").bodyText.contains("|(none)|NONE|"))
    }

    @Test func withoutSSITheCommandsAreSentAsTheyAre() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let r = try get(s.port, "/plain/page.html")
        #expect(r.status == 200)
        #expect(r.header("Content-Length") != nil)
        #expect(r.bodyText.hasPrefix("<!--# set var=\"who\""))
    }

    @Test func aProxiedPageIsFilteredWithACommandSplitAcrossReads() throws {
        let up = try SplitUpstream(pieces: ["<p>A<!--# ec", "ho var=\"arg_x\" -->B</p>"])
        defer { up.stop() }
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        location / { ssi on; proxy_pass http://127.0.0.1:\(up.port); }
                    }
                }
                """,
            files: [:])
        try server.start()
        defer { server.stop() }
        let r = try get(server.port, "/page?x=<1>")
        #expect(r.status == 200)
        #expect(r.header("Content-Length") == nil)
        #expect(r.header("Last-Modified") == nil)
        #expect(r.header("ETag") == nil)
        #expect(r.bodyText == "<p>A&lt;1&gt;B</p>")
    }
}

/// An upstream answering one request with a text/html body written in pieces, 150 ms apart.
final class SplitUpstream {
    let fd: Int32
    let port: Int
    private let thread: Thread

    init(pieces: [String]) throws {
        (fd, port) = try listenOnLoopback()
        let listener = fd
        let body = pieces.map { Array($0.utf8) }
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
            let total = body.reduce(0) { $0 + $1.count }
            let head = Array(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: \(total)\r\nConnection: close\r\n\r\n"
                    .utf8)
            _ = head.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            for (i, piece) in body.enumerated() {
                if i > 0 { usleep(150_000) }
                _ = piece.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            close(c)
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
