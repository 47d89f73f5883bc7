// Static features nginx users lean on beyond plain files: try_files (Django's
// front-controller pattern), autoindex in every format with hostile names,
// multipart/byteranges, and charset.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite struct StaticFeatureTests {
    static let config = """
        \(TestServer.preamble)
        http {
            include mime.types;
            default_type application/octet-stream;
            access_log logs/access.log;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root html;
                location / { try_files $uri $uri/ /app?from=$uri; }
                location = /app { return 200 "app args=$args uri=$uri"; }
                location /code/ { try_files $uri =418; }
                location /named/ { try_files $uri @fallback; }
                location @fallback { return 200 "fallback $uri"; }
                location /files/ { autoindex on; }
                location /json/ { alias html/files/; autoindex on; autoindex_format json; }
                location /xml/ { alias html/files/; autoindex on; autoindex_format xml; }
                location /jsonp/ { alias html/files/; autoindex on; autoindex_format jsonp; }
                location /utf/ { alias html/; charset utf-8; }
                location ~ ^/img/(?<name>[a-z]+)-(\\d+)\\.txt$ { alias html/files/$name$2.txt; }
            }
        }
        """

    func makeServer() throws -> TestServer {
        let s = try TestServer(
            config: Self.config,
            files: [
                "html/exists.txt": "I exist",
                "html/dir/index.html": "dir index",
                "html/files/<script>.txt": "x",
                "html/files/b.txt": "bb",
                "html/files/sub/c.txt": "c",
                "html/files/.hidden": "h",
                "html/digits.txt": "0123456789",
                "html/named/real.txt": "real",
                "html/files/b2.txt": "regex alias",
            ])
        try s.start()
        return s
    }

    @Test func tryFilesFileDirectoryAndFallback() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/exists.txt").bodyText == "I exist")
        #expect(try get(s.port, "/dir/").bodyText == "dir index")
        let fallback = try get(s.port, "/missing/page?x=1")
        #expect(fallback.status == 200)
        #expect(fallback.bodyText == "app args=from=/missing/page uri=/app")
        #expect(try get(s.port, "/code/none").status == 418)
        #expect(try get(s.port, "/named/none").bodyText == "fallback /named/none")
        #expect(try get(s.port, "/named/real.txt").bodyText == "real")
    }

    @Test func autoindexHTMLEscapesNames() throws {
        let s = try makeServer()
        let r = try get(s.port, "/files/")
        #expect(r.status == 200)
        #expect(r.header("Content-Type") == "text/html")
        let body = r.bodyText
        #expect(
            body.hasPrefix(
                "<html>\r\n<head><title>Index of /files/</title></head>\r\n<body>\r\n<h1>Index of /files/</h1><hr><pre><a href=\"../\">../</a>\r\n"
            ))
        #expect(body.contains("<a href=\"%3Cscript%3E.txt\">&lt;script&gt;.txt</a>"))
        #expect(!body.contains("<script>"))
        #expect(!body.contains(".hidden"))
        // Directories first, padded to nginx's 50 columns, exact sizes right-aligned in 19.
        let sub = try #require(body.range(of: "<a href=\"sub/\">sub/</a>"))
        let b = try #require(body.range(of: "<a href=\"b.txt\">b.txt</a>"))
        #expect(sub.lowerBound < b.lowerBound)
        let line = try #require(body[b.lowerBound...].components(separatedBy: "\r\n").first)
        #expect(
            line.range(of: #"</a> {45} \d{2}-[A-Z][a-z]{2}-\d{4} \d{2}:\d{2} {19}2$"#, options: .regularExpression)
                != nil, "\(line)")
        #expect(body.hasSuffix("</pre><hr></body>\r\n</html>\r\n"))
    }

    @Test func autoindexJSONXMLJSONP() throws {
        let s = try makeServer()
        let j = try get(s.port, "/json/")
        #expect(j.header("Content-Type") == "application/json")
        let parsed = try JSONSerialization.jsonObject(with: Data(j.body)) as? [[String: Any]]
        let names = parsed?.compactMap { $0["name"] as? String }
        #expect(names == ["sub", "<script>.txt", "b.txt", "b2.txt"])
        #expect(parsed?.first?["type"] as? String == "directory")
        #expect(parsed?.last?["size"] as? Int == 11)
        let x = try get(s.port, "/xml/")
        #expect(x.header("Content-Type") == "text/xml; charset=utf-8")
        #expect(x.bodyText.contains("<file mtime=\""))
        #expect(x.bodyText.contains(">&lt;script&gt;.txt</file>"))
        let p = try get(s.port, "/jsonp/?callback=cb")
        #expect(p.bodyText.hasPrefix("cb([\n"))
        #expect(p.bodyText.hasSuffix("]\n);\n"))
        #expect(try get(s.port, "/jsonp/?callback=%3Cbad").status == 400)
    }

    @Test func multipleRanges() throws {
        let s = try makeServer()
        let r = try get(s.port, "/utf/digits.txt", extra: "Range: bytes=0-1,5-6\r\n")
        #expect(r.status == 206)
        let type = try #require(r.header("Content-Type"))
        #expect(type.hasPrefix("multipart/byteranges; boundary="))
        let boundary = String(type.dropFirst("multipart/byteranges; boundary=".count))
        let expected =
            "\r\n--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/10\r\n\r\n01"
            + "\r\n--\(boundary)\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 5-6/10\r\n\r\n56"
            + "\r\n--\(boundary)--\r\n"
        #expect(r.bodyText == expected)
        #expect(r.header("Content-Length") == "\(expected.utf8.count)")
    }

    @Test func multipleRangesOfALargeFileUseSendfile() throws {
        var big = ""
        for i in 0..<20000 { big += String(format: "%05d\n", i) }
        let s = try TestServer(config: Self.config, files: ["html/big.txt": big])
        try s.start()
        let r = try get(s.port, "/big.txt", extra: "Range: bytes=6-11,60000-60005\r\n")
        #expect(r.status == 206)
        #expect(r.bodyText.contains("Content-Range: bytes 6-11/120000\r\n\r\n00001\n\r\n"))
        #expect(r.bodyText.contains("Content-Range: bytes 60000-60005/120000\r\n\r\n10000\n\r\n"))
        #expect(r.header("Content-Length") == "\(r.body.count)")
    }

    @Test func charsetForTextTypes() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/utf/exists.txt").header("Content-Type") == "text/plain; charset=utf-8")
        #expect(try get(s.port, "/exists.txt").header("Content-Type") == "text/plain")
    }

    @Test func precompressedVariantsByAcceptEncoding() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    include mime.types;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /static/ { gzip_static on; brotli_static on; zstd_static on; }
                        location /always/ { alias html/static/; gzip_static always; }
                    }
                }
                """,
            files: [
                "html/static/app.js": "plain-js", "html/static/app.js.gz": "GZ-BYTES", "html/static/app.js.br": "BR",
                "html/static/only.css.gz": "GZ-ONLY",
            ])
        try s.start()
        let br = try get(s.port, "/static/app.js", extra: "Accept-Encoding: gzip, deflate, br\r\n")
        #expect(br.bodyText == "BR")
        #expect(br.header("Content-Encoding") == "br")
        #expect(br.header("Content-Type") == "application/javascript")
        #expect(br.header("Vary") == "Accept-Encoding")
        #expect(br.header("Content-Length") == "2")
        let gz = try get(s.port, "/static/app.js", extra: "Accept-Encoding: br;q=0.5, gzip\r\n")
        #expect(gz.bodyText == "GZ-BYTES")
        #expect(gz.header("Content-Encoding") == "gzip")
        // zstd is enabled but app.js.zst does not exist: the next acceptable coding is used.
        let fallback = try get(s.port, "/static/app.js", extra: "Accept-Encoding: zstd, gzip;q=0.9\r\n")
        #expect(fallback.header("Content-Encoding") == "gzip")
        let plain = try get(s.port, "/static/app.js")
        #expect(plain.bodyText == "plain-js")
        #expect(plain.header("Content-Encoding") == nil)
        #expect(plain.header("Vary") == "Accept-Encoding")
        let refused = try get(s.port, "/static/app.js", extra: "Accept-Encoding: gzip;q=0, br;q=0\r\n")
        #expect(refused.bodyText == "plain-js")
        // As nginx: only the compressed file exists, and it is served to a client that accepts it.
        #expect(try get(s.port, "/static/only.css", extra: "Accept-Encoding: gzip\r\n").bodyText == "GZ-ONLY")
        let always = try get(s.port, "/always/app.js")
        #expect(always.bodyText == "GZ-BYTES")
        #expect(always.header("Content-Encoding") == "gzip")
        let range = try get(s.port, "/static/app.js", extra: "Accept-Encoding: gzip\r\nRange: bytes=0-1\r\n")
        #expect(range.status == 206)
        #expect(range.bodyText == "GZ")
    }

    /// Decompresses with the system's gzip (a real decoder, not ours).
    func gunzip(_ bytes: [UInt8]) throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID().uuidString)").path
        try Data(bytes).write(to: URL(fileURLWithPath: base + ".gz"))
        defer {
            unlink(base + ".gz")
            unlink(base + ".out")
        }
        let out = open(base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let pid = try ProcessControl.spawn("/bin/gzip", ["gzip", "-dc", base + ".gz"], stdout: out, stderr: -1)
        close(out)
        #expect(ProcessControl.wait(pid, timeout: 5000) == 0)
        return try String(contentsOfFile: base + ".out", encoding: .utf8)
    }

    @Test func onTheFlyGzip() throws {
        let text = String(repeating: "body { color: red; }\n", count: 4000)
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    include mime.types;
                    gzip on;
                    gzip_types text/css;
                    gzip_min_length 100;
                    gzip_vary on;
                    gzip_disable "Bot/1";
                    server { listen 127.0.0.1:PORT; root html; }
                }
                """, files: ["html/site.css": text, "html/tiny.css": "a{}", "html/data.bin": text])
        try s.start()
        let r = try get(s.port, "/site.css", extra: "Accept-Encoding: gzip\r\n")
        #expect(r.status == 200)
        #expect(r.header("Content-Encoding") == "gzip")
        #expect(r.header("Vary") == "Accept-Encoding")
        #expect(r.header("ETag")?.hasPrefix("W/\"") == true)
        #expect(r.body.count < text.utf8.count / 10)
        #expect(r.header("Content-Length") == "\(r.body.count)")
        #expect(try gunzip(r.body) == text)
        // Cached per worker: a second answer is the same bytes.
        #expect(try get(s.port, "/site.css", extra: "Accept-Encoding: gzip\r\n").body == r.body)
        #expect(try get(s.port, "/site.css").header("Content-Encoding") == nil)
        #expect(try get(s.port, "/tiny.css", extra: "Accept-Encoding: gzip\r\n").header("Content-Encoding") == nil)
        #expect(try get(s.port, "/data.bin", extra: "Accept-Encoding: gzip\r\n").header("Content-Encoding") == nil)
        let bot = try get(s.port, "/site.css", extra: "Accept-Encoding: gzip\r\nUser-Agent: Bot/1.0\r\n")
        #expect(bot.header("Content-Encoding") == nil)
        let proxied = try get(s.port, "/site.css", extra: "Accept-Encoding: gzip\r\nVia: 1.1 cache\r\n")
        #expect(proxied.header("Content-Encoding") == nil)
        let ranged = try get(s.port, "/site.css", extra: "Accept-Encoding: gzip\r\nRange: bytes=0-3\r\n")
        #expect(ranged.header("Content-Encoding") == "gzip")
        #expect(ranged.status == 200)
    }

    @Test func neverOutsideTheRoot() throws {
        let s = try makeServer()
        for attack in [
            "/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/%2E%2E/etc/passwd", "/files/..%2f..%2f..%2fetc/passwd",
            "/a%00b", "/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        ] {
            let r = try get(s.port, attack)
            #expect(r.status == 400, "\(attack) → \(r.status)")
        }
        // A backslash is an ordinary byte on Unix (as in nginx): no file of that name, so
        // try_files falls back to /app with the URI unchanged.
        let bs = try get(s.port, "/..\\..\\etc\\passwd")
        #expect(bs.bodyText == "app args=from=/..\\..\\etc\\passwd uri=/app")
        #expect(try get(s.port, "/%2e/exists.txt").bodyText == "I exist")
    }

    @Test func filesOverFourGiB() throws {
        let s = try makeServer()
        // A sparse 5 GiB file costs no disk space.
        let path = s.prefix + "html/huge.bin"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let size: Int64 = 5 << 30
        #expect(ftruncate(fd, off_t(size)) == 0)
        #expect(pwrite(fd, "END!", 4, off_t(size - 4)) == 4)
        close(fd)
        let head = try request(
            s.port, "HEAD /huge.bin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.header("Content-Length") == "5368709120")
        let tail = try get(s.port, "/huge.bin", extra: "Range: bytes=-4\r\n")
        #expect(tail.status == 206)
        #expect(tail.header("Content-Range") == "bytes 5368709116-5368709119/5368709120")
        #expect(tail.bodyText == "END!")
        let mid = try get(s.port, "/huge.bin", extra: "Range: bytes=4294967296-4294967299\r\n")
        #expect(mid.body == [0, 0, 0, 0])
        #expect(mid.header("Content-Range") == "bytes 4294967296-4294967299/5368709120")
    }

    @Test func aliasWithCapturesInRegexLocation() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/img/b-2.txt").bodyText == "regex alias")
        #expect(try get(s.port, "/img/b-3.txt").status == 404)
    }

    @Test func disableSymlinks() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /open/ { alias html/real/; }
                        location /on/ { alias html/real/; disable_symlinks on; }
                        location /owner/ { alias html/real/; disable_symlinks if_not_owner; }
                        location /real/ { root linked; disable_symlinks on from=$document_root; }
                        location /try/ {
                            alias html/real/; disable_symlinks on;
                            try_files $uri $uri.txt =404;
                        }
                        location /if/ {
                            alias html/real/; disable_symlinks on;
                            if (-f $request_filename) { return 204; }
                        }
                        location /dir { disable_symlinks on; try_files $uri/ =404; }
                    }
                }
                """,
            files: ["html/real/file.txt": "real", "html/real/other.txt": "other", "html/real/link.txt.txt": "local"])
        symlink(s.prefix + "html/real/file.txt", s.prefix + "html/real/link.txt")
        symlink(s.prefix + "html/real/other.txt", s.prefix + "html/real/foreign.txt")
        lchown(s.prefix + "html/real/foreign.txt", 65534, 65534)
        symlink(s.prefix + "html", s.prefix + "linked")
        symlink(s.prefix + "html/real", s.prefix + "html/dirlink")
        try s.start()
        #expect(try get(s.port, "/open/link.txt").bodyText == "real")
        #expect(try get(s.port, "/on/link.txt").status == 403)
        #expect(try get(s.port, "/on/file.txt").bodyText == "real")
        #expect(
            s.waitForFile("logs/error.log", containing: "link.txt\" failed (40: Too many levels of symbolic links)"))
        #expect(try get(s.port, "/owner/link.txt").bodyText == "real")
        if getuid() == 0 {
            #expect(try get(s.port, "/owner/foreign.txt").status == 403)
        }
        // The symlinked root itself is allowed by from=$document_root; links below it are not.
        #expect(try get(s.port, "/real/file.txt").bodyText == "real")
        #expect(try get(s.port, "/real/link.txt").status == 403)
        // try_files and `if (-f ...)` see a refused link as missing, as nginx's open file cache.
        #expect(try get(s.port, "/try/link.txt").bodyText == "local")
        #expect(try get(s.port, "/if/file.txt").status == 204)
        #expect(try get(s.port, "/if/link.txt").status == 403)
        #expect(try get(s.port, "/dirlink").status == 404)
    }

    @Test func openFileCacheValidErrorsAndMinUses() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /cached/ {
                            open_file_cache max=100 inactive=20s;
                            open_file_cache_valid 2s;
                            open_file_cache_errors on;
                        }
                        location /twice/ {
                            open_file_cache max=100;
                            open_file_cache_valid 2s;
                            open_file_cache_min_uses 2;
                        }
                    }
                }
                """, files: ["html/cached/a.txt": "one", "html/twice/b.txt": "one"])
        try s.start()
        #expect(try get(s.port, "/cached/a.txt").bodyText == "one")
        #expect(try get(s.port, "/cached/new.txt").status == 404)
        // Within open_file_cache_valid the cached descriptor and the cached error are trusted.
        try s.write("html/cached/a.txt", "two")
        try s.write("html/cached/new.txt", "new")
        #expect(try get(s.port, "/cached/a.txt").bodyText == "one")
        #expect(try get(s.port, "/cached/new.txt").status == 404)
        // min_uses 2: after one use the entry is still checked, so a change is seen at once.
        #expect(try get(s.port, "/twice/b.txt").bodyText == "one")
        try s.write("html/twice/b.txt", "two")
        #expect(try get(s.port, "/twice/b.txt").bodyText == "two")
        usleep(2_300_000)
        #expect(try get(s.port, "/cached/a.txt").bodyText == "two")
        #expect(try get(s.port, "/cached/new.txt").bodyText == "new")
    }

    @Test func largeFilesAreCompressedWhileSent() throws {
        var text = ""
        for i in 0..<200_000 { text += "line \(i) of a large stylesheet { color: red; }\n" }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    include mime.types;
                    gzip on;
                    gzip_types text/css;
                    gzip_http_version 1.0;
                    server { listen 127.0.0.1:PORT; root html; }
                }
                """, files: ["html/big.css": text])
        try s.start()
        #expect(text.utf8.count > 8 << 20)
        let c = try RawClient(port: s.port, timeoutSeconds: 10)
        try c.send("GET /big.css HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.header("Transfer-Encoding") == "chunked")
        #expect(r.header("Content-Encoding") == "gzip")
        #expect(r.header("Content-Length") == nil)
        #expect(r.body.count < text.utf8.count / 5)
        #expect(try gunzip(r.body) == text)
        // The connection stays usable after the last chunk.
        try c.send("GET /big.css HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().body.count == text.utf8.count)
        // HTTP/1.0 (allowed by gzip_http_version 1.0): the body ends with the connection.
        let old = try request(s.port, "GET /big.css HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n")
        #expect(old.header("Connection") == "close")
        #expect(try gunzip(old.body) == text)
    }

    @Test func gzipProxiedRules() throws {
        let text = String(repeating: "body { color: red; }\n", count: 100)
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    include mime.types;
                    gzip on;
                    gzip_types text/css;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /auth/ { alias html/; gzip_proxied auth; }
                        location /private/ { alias html/; gzip_proxied private; add_header Cache-Control private; }
                        location /expired/ { alias html/; gzip_proxied expired; expires epoch; }
                        location /etag/ { alias html/; gzip_proxied no_etag; }
                        location /noetag/ { alias html/; gzip_proxied no_etag; etag off; }
                    }
                }
                """, files: ["html/a.css": text])
        try s.start()
        func encoding(_ path: String, _ extra: String = "") throws -> String? {
            try get(s.port, path, extra: "Accept-Encoding: gzip\r\nVia: 1.1 proxy\r\n" + extra).header(
                "Content-Encoding")
        }
        #expect(try encoding("/a.css") == nil)
        #expect(try encoding("/auth/a.css") == nil)
        #expect(try encoding("/auth/a.css", "Authorization: Basic eDp5\r\n") == "gzip")
        #expect(try encoding("/private/a.css") == "gzip")
        #expect(try encoding("/expired/a.css") == "gzip")
        #expect(try encoding("/etag/a.css") == nil)
        #expect(try encoding("/noetag/a.css") == "gzip")
    }
}
