// The same files and the same configuration served by nginx (Debian's nginx-light,
// which scripts/test installs) and by swiftginx: for each request the headers that
// must match — status, Content-Type, Content-Length, Content-Range, ETag,
// Last-Modified, Location, Vary, Content-Encoding, Accept-Ranges, Cache-Control — and
// the bodies of real content are compared byte for byte.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct NginxComparisonTests {
    static let nginxBinary = "/usr/sbin/nginx"

    static let template = """
        user root;
        daemon off;
        master_process off;
        worker_processes 1;
        error_log logs/NAME-error.log info;
        pid logs/NAME.pid;
        events { worker_connections 64; }
        http {
            include mime.types;
            default_type application/octet-stream;
            access_log off;
            client_body_temp_path temp/body;
            proxy_temp_path temp/proxy;
            fastcgi_temp_path temp/fastcgi;
            uwsgi_temp_path temp/uwsgi;
            scgi_temp_path temp/scgi;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root html;
                location / { index index.html; }
                location /files/ { autoindex on; }
                location /json/ { alias html/files/; autoindex on; autoindex_format json; }
                location /static/ { gzip_static on; expires 1h; add_header X-Static yes; }
                location /app/ { try_files $uri $uri/ /index.html; }
                location = /moved { return 301 /index.html; }
                location = /text { return 200 "text $uri $args"; }
                location /utf/ { alias html/; charset utf-8; }
                location /errs/ { error_page 404 /custom404.html; }
                location /one/ { alias html/; max_ranges 1; }
                location /none/ { alias html/; max_ranges 0; }
                location /exp/ { alias html/; expires -1; add_header X-Static always always; }
                location /gz/ { alias html/; gzip on; gzip_types text/plain; gzip_min_length 5; gzip_vary on; }
            }
        }
        """

    /// Starts nginx and swiftginx on one prefix; returns (nginx port, swiftginx port, stop).
    func startBoth() throws -> (Int, Int, TestServer, Int32) {
        let s = try TestServer(
            config: Self.template.replacingOccurrences(of: "NAME", with: "swiftginx"),
            files: [
                "html/index.html": "<html>home</html>\n",
                "html/dir/index.html": "dir",
                "html/noindex/a.txt": "a",
                "html/digits.txt": "0123456789abcdef",
                "html/files/b.txt": "bb",
                "html/files/sub/c.txt": "c",
                "html/files/<odd> & name.txt": "odd",
                "html/static/app.js": "plain javascript body",
                "html/static/app.js.gz": "gzip bytes",
                "html/custom404.html": "custom",
                "html/style.css": "body{}",
            ])
        for sub in ["temp"] {
            try FileManager.default.createDirectory(atPath: s.prefix + sub, withIntermediateDirectories: true)
        }
        chmod(s.prefix, 0o755)
        let nginxPort = freePort()
        let nginxConfig = Self.template.replacingOccurrences(of: "NAME", with: "nginx")
            .replacingOccurrences(of: "PORT", with: "\(nginxPort)")
        try nginxConfig.write(toFile: s.prefix + "conf/nginx.conf", atomically: true, encoding: .utf8)
        let err = open(s.prefix + "nginx-stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let pid = try ProcessControl.spawn(
            Self.nginxBinary, ["nginx", "-p", s.prefix, "-c", "conf/nginx.conf"], stdout: -1, stderr: err)
        close(err)
        try s.start()
        var up = false
        for _ in 0..<250 {
            if canConnect(port: nginxPort) {
                up = true
                break
            }
            usleep(20_000)
        }
        if !up {
            kill(pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 2000)
            throw TestFailure("nginx did not start: \(s.read("nginx-stderr.txt")) \(s.read("logs/nginx-error.log"))")
        }
        return (nginxPort, s.port, s, pid)
    }

    static let comparedHeaders = [
        "Content-Type", "Content-Length", "Content-Range", "ETag", "Last-Modified", "Location", "Vary",
        "Content-Encoding", "Accept-Ranges", "Cache-Control", "X-Static",
    ]

    @Test func sameAnswersAsNginx() throws {
        try requireNginx()
        let (nginxPort, ourPort, server, pid) = try startBoth()
        defer {
            kill(pid, SIGTERM)
            if ProcessControl.wait(pid, timeout: 5000) == nil {
                kill(pid, SIGKILL)
                _ = ProcessControl.wait(pid, timeout: 2000)
            }
            server.stop()
        }
        // (path, extra headers, compare the body)
        let cases: [(String, String, Bool)] = [
            ("/", "", true), ("/index.html", "", true), ("/dir", "", false), ("/dir/", "", true),
            ("/noindex/", "", false), ("/missing", "", false), ("/digits.txt", "Range: bytes=2-5\r\n", true),
            ("/digits.txt", "Range: bytes=-3\r\n", true), ("/digits.txt", "Range: bytes=50-60\r\n", false),
            ("/digits.txt", "If-Range: \"nope\"\r\nRange: bytes=0-1\r\n", true), ("/style.css", "", true),
            ("/files/", "", true), ("/json/", "", false), ("/static/app.js", "Accept-Encoding: gzip\r\n", true),
            ("/static/app.js", "", true), ("/app/none", "", true), ("/app/", "", true), ("/moved", "", false),
            ("/text?a=1", "", true), ("/utf/digits.txt", "", true), ("/errs/x", "", true),
            ("/digits.txt", "If-Match: \"x\"\r\n", false), ("/%64igits.txt", "", true),
            ("/dir?x=1&y=2", "", false), ("/files", "", false), ("/noindex/a.txt", "", true),
            ("/index.html", "If-Modified-Since: Thu, 01 Jan 1970 00:00:01 GMT\r\n", true),
            ("/index.html", "If-None-Match: *\r\n", false), ("/index.html", "If-Match: *\r\n", true),
            ("/digits.txt", "Range: bytes=0-\r\n", true), ("/digits.txt", "Range: bytes=-100\r\n", true),
            ("/digits.txt", "Range: bytes=10-100\r\n", true), ("/app/dir/", "", true),
            ("/one/digits.txt", "Range: bytes=0-1,4-5\r\n", true), ("/one/digits.txt", "Range: bytes=0-1\r\n", true),
            ("/none/digits.txt", "Range: bytes=0-1\r\n", true), ("/exp/digits.txt", "", true),
            ("/exp/missing", "", false), ("/digits.txt", "Range: bytes=5-2\r\n", false),
            ("/digits.txt", "Range: bytes=0-1,0-3\r\n", false), ("/digits.txt", "Range: bytes=abc\r\n", false),
            ("/gz/digits.txt", "Accept-Encoding: gzip\r\n", false), ("/gz/missing", "Accept-Encoding: gzip\r\n", false),
            ("/gz/noindex/", "Accept-Encoding: gzip\r\n", false), ("/gz/digits.txt", "Accept-Encoding: br\r\n", true),
        ]
        for (path, extra, compareBody) in cases {
            let a = try get(nginxPort, path, extra: extra)
            let b = try get(ourPort, path, extra: extra)
            let what = "\(path) \(extra.debugDescription)"
            #expect(a.status == b.status, "\(what): nginx \(a.status), swiftginx \(b.status)")
            for h in Self.comparedHeaders {
                var x = a.header(h)
                var y = b.header(h)
                if h == "Content-Type", x?.hasPrefix("multipart/byteranges") == true {
                    x = x?.components(separatedBy: "boundary=").first
                    y = y?.components(separatedBy: "boundary=").first
                }
                if h == "Location" {
                    x = x?.replacingOccurrences(of: ":\(nginxPort)", with: ":P")
                    y = y?.replacingOccurrences(of: ":\(ourPort)", with: ":P")
                }
                // Built-in error pages name the server in their footer, so their lengths differ;
                // where nginx streams chunked (autoindex) we send a length.
                if h == "Content-Length" && (!compareBody || a.header("Transfer-Encoding") == "chunked") { continue }
                // Deliberate, documented differences for precompressed variants: Vary is
                // sent without gzip_vary, and ranges on the variant are advertised.
                if path.hasPrefix("/static/") && (h == "Vary" || h == "Accept-Ranges") && x == nil { continue }
                // On-the-fly compression: nginx streams chunked with a weak ETag; we send a length.
                if path.hasPrefix("/gz/") && h == "Content-Length" && a.header("Content-Encoding") != nil { continue }
                #expect(x == y, "\(what) \(h): nginx \(x ?? "-"), swiftginx \(y ?? "-")")
            }
            if compareBody {
                #expect(
                    a.body == b.body,
                    "\(what) body: nginx \(a.bodyText.debugDescription), swiftginx \(b.bodyText.debugDescription)")
            }
        }
        // The JSON listing: same entries and sizes (nginx's mtime text is compared too).
        let ja = try JSONSerialization.jsonObject(with: Data(try get(nginxPort, "/json/").body)) as? [[String: Any]]
        let jb = try JSONSerialization.jsonObject(with: Data(try get(ourPort, "/json/").body)) as? [[String: Any]]
        #expect(
            ja?.map { "\($0["name"] ?? "")|\($0["type"] ?? "")|\($0["mtime"] ?? "")|\($0["size"] ?? "")" }
                == jb?.map { "\($0["name"] ?? "")|\($0["type"] ?? "")|\($0["mtime"] ?? "")|\($0["size"] ?? "")" })
        // Several ranges: the same multipart body once the boundaries are named alike.
        let ma = try get(nginxPort, "/digits.txt", extra: "Range: bytes=0-1,4-5,-2\r\n")
        let mb = try get(ourPort, "/digits.txt", extra: "Range: bytes=0-1,4-5,-2\r\n")
        #expect(ma.status == 206 && mb.status == 206)
        func normalized(_ r: HTTPResponse) -> String {
            let type = r.header("Content-Type") ?? ""
            let boundary = type.components(separatedBy: "boundary=").last ?? ""
            return r.bodyText.replacingOccurrences(of: boundary, with: "B") + "|"
                + type.replacingOccurrences(of: boundary, with: "B")
        }
        #expect(normalized(ma) == normalized(mb))
        #expect(ma.header("Content-Length") == mb.header("Content-Length"))
        // HEAD: same head, no body.
        let ha = try request(
            nginxPort, "HEAD /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", headRequest: true)
        let hb = try request(
            ourPort, "HEAD /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", headRequest: true)
        for h in Self.comparedHeaders { #expect(ha.header(h) == hb.header(h), "HEAD \(h)") }
        // The error log line for a missing file, after the "*N " connection number.
        func missingLine(_ log: String) -> String? {
            guard let line = log.split(separator: "\n").first(where: { $0.contains("html/missing\" failed") }),
                let star = line.range(of: "*")
            else { return nil }
            return String(line[star.upperBound...].drop { $0 != " " })
        }
        #expect(server.waitForFile("logs/swiftginx-error.log", containing: "html/missing\" failed"))
        let nginxLine = missingLine(server.read("logs/nginx-error.log"))
        #expect(nginxLine != nil)
        #expect(nginxLine == missingLine(server.read("logs/swiftginx-error.log")))
        // HEAD and conditional requests with nginx's own validators.
        let ref = try get(nginxPort, "/digits.txt")
        for extra in [
            "If-None-Match: \(ref.header("ETag") ?? "")\r\n",
            "If-Modified-Since: \(ref.header("Last-Modified") ?? "")\r\n",
        ] {
            #expect(try get(ourPort, "/digits.txt", extra: extra).status == 304)
        }
    }
}
