// Static files over real sockets: bodies, types, ETag/Last-Modified and 304,
// ranges (206/416), index and directory redirects, 403/404 pages, alias,
// error_page, return, add_header, expires, HEAD.

import Foundation
import Glibc
import Testing

@Suite struct StaticFileTests {
    static let config = """
        daemon off;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 64; }
        http {
            include mime.types;
            default_type application/octet-stream;
            access_log logs/access.log;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root html;
                location / { index index.html; }
                location /assets/ { alias PREFIXfiles/; expires 1h; add_header X-Asset yes; }
                location = /gone { return 410; }
                location = /drop { return 444; }
                location = /moved { return 301 /new-place; }
                location = /text { return 200 "hello $uri"; }
                location /secret/ { internal; }
                location /errs/ { error_page 404 /custom404.html; }
                location /fallback/ { error_page 404 = @named; }
                location @named { return 200 "named fallback"; }
                location /always/ { add_header X-Always 1 always; add_header X-Only-Ok 1; }
            }
        }
        """

    func makeServer() throws -> TestServer {
        let s = try TestServer(
            config: Self.config,
            files: [
                "html/hello.txt": "hello world\n",
                "html/style.css": "body{}",
                "html/dir/index.html": "dir index",
                "html/noindex/file.txt": "x",
                "html/custom404.html": "custom not found",
                "files/app.js": "console.log(1)",
            ])
        try s.start()
        return s
    }

    @Test func servesFileWithNginxHeaders() throws {
        let s = try makeServer()
        let r = try get(s.port, "/hello.txt")
        #expect(r.status == 200)
        #expect(r.bodyText == "hello world\n")
        #expect(r.header("Content-Type") == "text/plain")
        #expect(r.header("Content-Length") == "12")
        #expect(r.header("Server") == "nginx/1.31.5")
        #expect(r.header("Accept-Ranges") == "bytes")
        let etag = try #require(r.header("ETag"))
        #expect(etag.hasPrefix("\"") && etag.hasSuffix("-c\""))
        #expect(r.header("Last-Modified")?.hasSuffix(" GMT") == true)
        #expect(r.header("Date")?.hasSuffix(" GMT") == true)
        #expect(r.rawHead.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(try get(s.port, "/style.css").header("Content-Type") == "text/css")
    }

    @Test func headHasNoBody() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send(
            "HEAD /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let h = try c.readResponse(headRequest: true)
        #expect(h.status == 200)
        #expect(h.header("Content-Length") == "12")
        let g = try c.readResponse()
        #expect(g.bodyText == "hello world\n")
    }

    @Test func conditionalRequests() throws {
        let s = try makeServer()
        let r = try get(s.port, "/hello.txt")
        let etag = try #require(r.header("ETag"))
        let lm = try #require(r.header("Last-Modified"))
        let a = try get(s.port, "/hello.txt", extra: "If-None-Match: \(etag)\r\n")
        #expect(a.status == 304)
        #expect(a.body.isEmpty)
        #expect(a.header("ETag") == etag)
        let b = try get(s.port, "/hello.txt", extra: "If-Modified-Since: \(lm)\r\n")
        #expect(b.status == 304)
        let c = try get(s.port, "/hello.txt", extra: "If-None-Match: \"other\"\r\n")
        #expect(c.status == 200)
        let d = try get(s.port, "/hello.txt", extra: "If-Match: \"other\"\r\n")
        #expect(d.status == 412)
    }

    @Test func ranges() throws {
        let s = try makeServer()
        let r = try get(s.port, "/hello.txt", extra: "Range: bytes=0-4\r\n")
        #expect(r.status == 206)
        #expect(r.bodyText == "hello")
        #expect(r.header("Content-Range") == "bytes 0-4/12")
        #expect(r.header("Content-Length") == "5")
        let tail = try get(s.port, "/hello.txt", extra: "Range: bytes=-6\r\n")
        #expect(tail.status == 206)
        #expect(tail.bodyText == "world\n")
        let bad = try get(s.port, "/hello.txt", extra: "Range: bytes=100-200\r\n")
        #expect(bad.status == 416)
        #expect(bad.header("Content-Range") == "bytes */12")
        let etag = try #require(r.header("ETag"))
        let ifRange = try get(s.port, "/hello.txt", extra: "Range: bytes=0-4\r\nIf-Range: \"stale\"\r\n")
        #expect(ifRange.status == 200)
        let ifRangeOk = try get(s.port, "/hello.txt", extra: "Range: bytes=0-4\r\nIf-Range: \(etag)\r\n")
        #expect(ifRangeOk.status == 206)
    }

    @Test func indexAndDirectories() throws {
        let s = try makeServer()
        let root = try get(s.port, "/")
        #expect(root.status == 200)
        #expect(root.bodyText == "<html>index</html>\n")
        #expect(root.header("Content-Type") == "text/html")
        let redirect = try get(s.port, "/dir?x=1")
        #expect(redirect.status == 301)
        #expect(redirect.header("Location") == "http://localhost:\(s.port)/dir/?x=1")
        #expect(redirect.bodyText.contains("<title>301 Moved Permanently</title>"))
        #expect(try get(s.port, "/dir/").bodyText == "dir index")
        let forbidden = try get(s.port, "/noindex/")
        #expect(forbidden.status == 403)
        #expect(forbidden.bodyText.contains("<center><h1>403 Forbidden</h1></center>"))
        #expect(
            s.waitForFile("logs/error.log", containing: "directory index of \"\(s.prefix)html/noindex/\" is forbidden"))
    }

    @Test func notFoundPageAndLog() throws {
        let s = try makeServer()
        let r = try get(s.port, "/nope.html")
        #expect(r.status == 404)
        #expect(r.header("Content-Type") == "text/html")
        #expect(r.bodyText.contains("<center><h1>404 Not Found</h1></center>"))
        #expect(r.bodyText.contains("<hr><center>nginx/1.31.5</center>"))
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing:
                    "open() \"\(s.prefix)html/nope.html\" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: \"GET /nope.html HTTP/1.1\", host: \"localhost\""
            ))
    }

    @Test func aliasExpiresAddHeader() throws {
        let s = try makeServer()
        let r = try get(s.port, "/assets/app.js")
        #expect(r.status == 200)
        #expect(r.bodyText == "console.log(1)")
        #expect(r.header("Content-Type") == "application/javascript")
        #expect(r.header("Cache-Control") == "max-age=3600")
        #expect(r.header("Expires") != nil)
        #expect(r.header("X-Asset") == "yes")
        let missing = try get(s.port, "/assets/none.js")
        #expect(missing.status == 404)
        #expect(missing.header("X-Asset") == nil)
    }

    @Test func addHeaderAlways() throws {
        let s = try makeServer()
        let r = try get(s.port, "/always/none")
        #expect(r.status == 404)
        #expect(r.header("X-Always") == "1")
        #expect(r.header("X-Only-Ok") == nil)
    }

    @Test func returnDirective() throws {
        let s = try makeServer()
        let gone = try get(s.port, "/gone")
        #expect(gone.status == 410)
        #expect(gone.bodyText.contains("410 Gone"))
        let moved = try get(s.port, "/moved")
        #expect(moved.status == 301)
        #expect(moved.header("Location") == "http://localhost:\(s.port)/new-place")
        let text = try get(s.port, "/text?a=1")
        #expect(text.status == 200)
        #expect(text.bodyText == "hello /text")
        #expect(text.header("Content-Type") == "application/octet-stream")
    }

    @Test func internalAndErrorPages() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/secret/x").status == 404)
        let custom = try get(s.port, "/errs/missing")
        #expect(custom.status == 404)
        #expect(custom.bodyText == "custom not found")
        let named = try get(s.port, "/fallback/missing")
        #expect(named.status == 200)
        #expect(named.bodyText == "named fallback")
    }

    @Test func methodNotAllowedForStatic() throws {
        let s = try makeServer()
        let r = try request(
            s.port, "POST /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
        #expect(r.status == 405)
    }

    @Test func uriNormalizationStaysInRoot() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/dir/../hello.txt").bodyText == "hello world\n")
        #expect(try get(s.port, "/%68ello.txt").bodyText == "hello world\n")
        #expect(try get(s.port, "//hello.txt").status == 200)
        let escape = try get(s.port, "/../../etc/passwd")
        #expect(escape.status == 400)
    }

    @Test func changedFilesAreSeenAtOnce() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/hello.txt").bodyText == "hello world\n")
        // Rewritten in place (same inode), replaced by rename, made unreadable, removed.
        let fh = try FileHandle(forWritingTo: URL(fileURLWithPath: s.prefix + "html/hello.txt"))
        fh.write(Data("HELLO".utf8))
        try fh.close()
        #expect(try get(s.port, "/hello.txt").bodyText == "HELLO world\n")
        try s.write("html/hello.txt", "replaced")
        #expect(try get(s.port, "/hello.txt").bodyText == "replaced")
        if getuid() != 0 {
            chmod(s.prefix + "html/hello.txt", 0)
            #expect(try get(s.port, "/hello.txt").status == 403)
        }
        unlink(s.prefix + "html/hello.txt")
        #expect(try get(s.port, "/hello.txt").status == 404)
        // On one keep-alive connection too: the next request is read in a later turn of
        // the worker's loop, whose stat() sees the change.
        try s.write("html/again.txt", "one")
        let c = try RawClient(port: s.port)
        let request = "GET /again.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        try c.send(request)
        #expect(try c.readResponse().bodyText == "one")
        try s.write("html/again.txt", "two, longer")
        try c.send(request)
        #expect(try c.readResponse().bodyText == "two, longer")
    }

    @Test func pipelinedMixedResponsesStayInOrder() throws {
        let big = String(repeating: "B", count: 200_000)
        let s = try TestServer(config: Self.config, files: ["html/small.txt": "small", "html/big.txt": big])
        try s.start()
        let c = try RawClient(port: s.port)
        let paths = ["/small.txt", "/big.txt", "/missing", "/small.txt", "/gone", "/big.txt", "/small.txt"]
        try c.send(paths.map { "GET \($0) HTTP/1.1\r\nHost: localhost\r\n\r\n" }.joined())
        for p in paths {
            let r = try c.readResponse()
            switch p {
            case "/small.txt": #expect(r.bodyText == "small")
            case "/big.txt": #expect(r.body.count == 200_000)
            case "/missing": #expect(r.status == 404)
            default: #expect(r.status == 410)
            }
        }
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        let log = s.read("logs/access.log").split(separator: "\n")
        #expect(log.count == paths.count)
        #expect(log.first?.contains("\"GET /small.txt HTTP/1.1\" 200 5 ") == true)
        #expect(log[1].contains("\"GET /big.txt HTTP/1.1\" 200 200000 "))
    }

    @Test func return444ClosesWithoutResponse() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send("GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\nGET /drop HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try c.readResponse().bodyText == "hello world\n")
        #expect(c.isClosedByPeer())
        #expect(c.pending.isEmpty)
        #expect(s.waitForFile("logs/access.log", containing: "\"GET /drop HTTP/1.1\" 444 0"))
    }

    @Test func serverTokensOffAndEtagOff() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log;
                pid logs/swiftginx.pid;
                events {}
                http {
                    server_tokens off;
                    etag off;
                    server { listen 127.0.0.1:PORT; location / { root html; } }
                }
                """, files: ["html/a.txt": "a"])
        try s.start()
        let ok = try get(s.port, "/a.txt")
        #expect(ok.header("Server") == "nginx")
        #expect(ok.header("ETag") == nil)
        let missing = try get(s.port, "/none")
        #expect(missing.bodyText.contains("<hr><center>nginx</center>"))
    }

    @Test func serverTokensBuildNamesTheBuild() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log;
                pid logs/swiftginx.pid;
                events {}
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        location / { root html; }
                        location /b/ { server_tokens build; root html; }
                    }
                }
                """, files: ["html/b/a.txt": "a"])
        try s.start()
        #expect(try get(s.port, "/b/a.txt").header("Server") == "nginx/1.31.5 (swiftginx/0.1.0)")
        let missing = try get(s.port, "/b/none")
        #expect(missing.bodyText.contains("<hr><center>nginx/1.31.5 (swiftginx/0.1.0)</center>"))
    }

    @Test func customLogFormatVariables() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log;
                pid logs/swiftginx.pid;
                events {}
                http {
                    log_format custom '$request_method|$uri|$args|$status|$http_x_test|$arg_a|$cookie_c|$server_port|$connection_requests';
                    log_format js escape=json '{"ua":"$http_user_agent"}';
                    server {
                        listen 127.0.0.1:PORT;
                        access_log logs/custom.log custom;
                        access_log logs/json.log js;
                        location / { return 204; }
                    }
                }
                """)
        try s.start()
        _ = try get(s.port, "/p%20q?a=1&b=2", extra: "X-Test: t\"1\r\nCookie: x=0; c=9\r\nUser-Agent: a\"b\r\n")
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        #expect(s.read("logs/custom.log") == "GET|/p q|a=1&b=2|204|t\\x221|1|9|\(s.port)|1\n")
        #expect(s.read("logs/json.log") == "{\"ua\":\"a\\\"b\"}\n")
    }
}
