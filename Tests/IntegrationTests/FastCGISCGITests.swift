// fastcgi_pass and scgi_pass end to end, against real servers: php-fpm (Debian's) running
// PHP scripts, and flup's SCGI server running the example Django project, each over TCP
// and a unix socket, through the fastcgi.conf / scgi_params files the project ships.
// Checked: the parameters the application sees (SCRIPT_NAME and PATH_INFO from
// fastcgi_split_path_info, fastcgi_index, the query, HTTP_* headers), request bodies
// (in memory, in a temporary file, chunked, unbuffered), CGI status heads (Status:,
// Location: → 302, http_response_code), large answers, PHP's stderr in the error log,
// fastcgi_keep_conn with an upstream keepalive cache, and the 502 of a dead backend.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct FastCGISCGITests {
    static func json(_ r: HTTPResponse) throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(r.rawHead)\n\(r.bodyText)")
        }
        return o
    }

    /// A server whose conf/ has the shipped fastcgi.conf, fastcgi_params and scgi_params.
    static func server(_ http: String) throws -> TestServer {
        var files: [String: String] = [:]
        for name in ["fastcgi.conf", "fastcgi_params", "scgi_params"] {
            files["conf/" + name] = try String(
                contentsOf: repositoryRoot.appendingPathComponent("conf/" + name), encoding: .utf8)
        }
        let s = try TestServer(
            config: TestServer.preamble + "\nhttp {\n access_log logs/access.log;\n" + http + "\n}\n", files: files)
        try s.start()
        return s
    }

    static func post(_ port: Int, _ path: String, _ body: [UInt8], chunked: Bool = false) throws -> HTTPResponse {
        let c = try RawClient(port: port, timeoutSeconds: 20)
        let framing = chunked ? "Transfer-Encoding: chunked" : "Content-Length: \(body.count)"
        try c.send("POST \(path) HTTP/1.1\r\nHost: localhost\r\n\(framing)\r\nConnection: close\r\n\r\n")
        if chunked {
            var i = 0
            while i < body.count {
                let n = min(70000, body.count - i)
                try c.send(String(n, radix: 16) + "\r\n")
                try c.send(Array(body[i..<(i + n)]))
                try c.send("\r\n")
                i += n
            }
            try c.send("0\r\n\r\n")
        } else {
            try c.send(body)
        }
        return try c.readResponse()
    }

    @Test(arguments: [false, true])
    func phpFPM(unixSocket: Bool) throws {
        let php = try CGIBackend.startPHPFPM(unixSocket: unixSocket)
        defer { php.stop() }
        let s = try Self.server(
            """
            upstream fpm { server \(php.address); keepalive 2; }
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root \(php.documentRoot);
                location ~ [^/]\\.php(/|$) {
                    fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
                    include fastcgi.conf;
                    fastcgi_param PATH_INFO $fastcgi_path_info;
                    fastcgi_pass \(php.address);
                }
                location = / {
                    fastcgi_index index.php;
                    include fastcgi.conf;
                    fastcgi_pass \(php.address);
                }
                location = /slow/big.php {
                    include fastcgi.conf;
                    fastcgi_param SCRIPT_FILENAME $document_root/big.php;
                    fastcgi_limit_rate 1m;
                    fastcgi_buffering off;
                    fastcgi_pass \(php.address);
                }
                location ^~ /bare/ {
                    rewrite ^/bare(/.*)$ $1 break;
                    include fastcgi.conf;
                    fastcgi_pass_request_headers off;
                    fastcgi_pass_request_body off;
                    fastcgi_hide_header X-Powered-By;
                    fastcgi_pass \(php.address);
                }
                location ^~ /caught/ {
                    rewrite ^/caught(/.*)$ $1 break;
                    include fastcgi.conf;
                    fastcgi_intercept_errors on;
                    error_page 418 = @teapot;
                    fastcgi_pass \(php.address);
                }
                location @teapot { return 200 "intercepted\n"; }
                location ^~ /kept/ {
                    rewrite ^/kept(/.*)$ $1 break;
                    include fastcgi.conf;
                    fastcgi_pass fpm;
                    fastcgi_keep_conn on;
                }
            }
            """)
        defer { s.stop() }
        let root = php.documentRoot

        let info = try get(s.port, "/info.php/extra/path?x=1&y=2", extra: "X-Custom: yes\r\n")
        #expect(info.status == 200, "\(info.rawHead)\n\(info.bodyText)\n\(php.log)\n\(s.read("logs/error.log"))")
        #expect(info.header("Content-Type") == "application/json")
        #expect(info.header("Status") == nil)
        #expect(info.rawHead.contains("\r\nContent-Type: application/json\r\n"))
        let j = try Self.json(info)
        #expect(j["script_name"] as? String == "/info.php")
        #expect(j["script_filename"] as? String == root + "/info.php")
        #expect(j["path_info"] as? String == "/extra/path")
        #expect(j["query"] as? String == "x=1&y=2")
        #expect(j["request_uri"] as? String == "/info.php/extra/path?x=1&y=2")
        #expect(j["method"] as? String == "GET")
        #expect(j["x_custom"] as? String == "yes")
        #expect(j["gateway"] as? String == "CGI/1.1")
        #expect(j["remote_addr"] as? String == "127.0.0.1")
        #expect(j["https"] == nil || j["https"] is NSNull)

        #expect(try get(s.port, "/").bodyText == "php index")

        // Bodies: in memory, in a temporary file (past client_body_buffer_size), chunked.
        for (size, chunked) in [(100, false), (300_000, false), (150_000, true)] {
            let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 11) }
            let r = try Self.post(s.port, "/info.php", body, chunked: chunked)
            #expect(r.status == 200, "\(r.bodyText)")
            let u = try Self.json(r)
            #expect(u["length"] as? Int == size)
            #expect(u["sha256"] as? String == sha256Hex(body))
            #expect(u["content_length"] as? String == String(size))
        }

        // Neither headers nor body passed, X-Powered-By hidden.
        let bare = try request(
            s.port,
            "POST /bare/info.php HTTP/1.1\r\nHost: localhost\r\nX-Custom: yes\r\nContent-Length: 4\r\n"
                + "Connection: close\r\n\r\nbody")
        let bj = try Self.json(bare)
        #expect(bj["length"] as? Int == 0)
        #expect(bj["x_custom"] == nil || bj["x_custom"] is NSNull)
        #expect(bare.header("X-Powered-By") == nil)
        #expect(info.header("X-Powered-By") != nil)
        #expect(try get(s.port, "/caught/teapot.php").bodyText == "intercepted\n")

        let teapot = try get(s.port, "/teapot.php")
        #expect(teapot.status == 418)
        #expect(teapot.header("X-App") == "php")
        #expect(teapot.bodyText == "short and stout")
        let busy = try get(s.port, "/status.php")
        #expect(busy.status == 503)
        #expect(busy.rawHead.hasPrefix("HTTP/1.1 503 Try Later\r\n"))
        let redirect = try get(s.port, "/redirect.php")
        #expect(redirect.status == 302)
        #expect(redirect.header("Location") == "/info.php")
        #expect(redirect.header("Set-Cookie") == "a=1")

        let big = try get(s.port, "/big.php")
        #expect(big.status == 200)
        #expect(big.body.count == 2_000_000)
        #expect(big.body.prefix(3) == [97, 97, 97] && big.body.suffix(3) == [102, 102, 102])

        // fastcgi_limit_rate: 2 MB read from PHP at 1 MB/s cannot take less than a second.
        let started = Date()
        #expect(try get(s.port, "/slow/big.php").body.count == 2_000_000)
        #expect(Date().timeIntervalSince(started) >= 1.0)

        #expect(try get(s.port, "/warn.php").bodyText == "warned")
        #expect(s.waitForFile("logs/error.log", containing: "FastCGI sent in stderr: \"PHP message: php says hello\""))

        // fastcgi_keep_conn with a keepalive upstream: the same connections serve again.
        for i in 0..<6 {
            let r = try get(s.port, "/kept/info.php?n=\(i)")
            #expect(r.status == 200)
            #expect(try Self.json(r)["query"] as? String == "n=\(i)")
        }

        php.stop()
        let down = try get(s.port, "/info.php")
        #expect(down.status == 502)
    }

    @Test(arguments: [false, true])
    func flupSCGI(unixSocket: Bool) throws {
        let scgi = try CGIBackend.startFlupSCGI(unixSocket: unixSocket)
        defer { scgi.stop() }
        let s = try Self.server(
            """
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                location / {
                    include scgi_params;
                    scgi_param PATH_INFO $uri;
                    scgi_pass \(scgi.address);
                }
                location /streamed/ {
                    rewrite ^/streamed(/.*)$ $1 break;
                    include scgi_params;
                    scgi_param PATH_INFO $uri;
                    scgi_request_buffering off;
                    scgi_pass \(scgi.address);
                }
            }
            """)
        defer { s.stop() }

        let health = try get(s.port, "/health/")
        #expect(health.status == 200, "\(health.rawHead)\n\(health.bodyText)\n\(scgi.log)\n\(s.read("logs/error.log"))")
        #expect(health.bodyText == "ok")

        let h = try get(s.port, "/headers/?a=1&b=two", host: "example.test", extra: "X-Custom: yes\r\n")
        #expect(h.status == 200, "\(h.bodyText)")
        let j = try Self.json(h)
        #expect(j["path"] as? String == "/headers/")
        #expect(j["query"] as? String == "a=1&b=two")
        #expect(j["method"] as? String == "GET")
        #expect(j["host"] as? String == "example.test")
        #expect((j["headers"] as? [String: String])?["HTTP_X_CUSTOM"] == "yes")
        if !unixSocket { #expect(j["remote_addr"] as? String == "127.0.0.1") }

        for (path, size, chunked) in [
            ("/upload/", 1000, false), ("/upload/", 1 << 20, false), ("/upload/", 200_000, true),
            ("/streamed/upload/", 500_000, false),
        ] {
            let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let r = try Self.post(s.port, path, body, chunked: chunked)
            #expect(r.status == 200, "\(path) \(size): \(r.bodyText)")
            let u = try Self.json(r)
            #expect(u["length"] as? Int == size)
            #expect(u["sha256"] as? String == sha256Hex(body))
        }

        let download = try get(s.port, "/download/?size=100000")
        #expect(download.status == 200)
        #expect(download.body == (0..<100000).map { UInt8($0 % 251) })

        let redirect = try get(s.port, "/redirect/")
        #expect(redirect.status == 302)
        #expect(redirect.header("Location") == "/headers/")
        let cookies = redirect.headers.filter { $0.0.lowercased() == "set-cookie" }.map(\.1)
        #expect(cookies.contains("a=1; Path=/"))
        #expect(try get(s.port, "/status/503/").status == 503)
    }

    /// conf/examples/django-php-fpm.conf with its real backends — gunicorn for Django,
    /// php-fpm (on a socket of the test's own) for the PHP application — under swiftginx
    /// and under nginx (the reference), with the same checks.
    @Test(arguments: ["swiftginx", "nginx"])
    func djangoAndPHPExample(_ front: String) throws {
        if front == "nginx" { try requireNginx() }
        let gunicorn = try Backend.start(.gunicornTCP, name: "django-php")
        defer { gunicorn.stop() }
        let php = try CGIBackend.startPHPFPM(unixSocket: true)
        defer { php.stop() }
        let conf = repositoryRoot.appendingPathComponent("conf").path
        var text = try String(contentsOfFile: conf + "/examples/django-php-fpm.conf", encoding: .utf8)
        let port = front == "nginx" ? freePort() : 0
        for (from, to) in [
            ("127.0.0.1:8080", front == "nginx" ? "127.0.0.1:\(port)" : "127.0.0.1:PORT"),
            ("127.0.0.1:8000", gunicorn.address), ("unix:/run/php/php8.2-fpm.sock", php.address),
            ("include ../", "include \(conf)/"), ("alias conf/examples/", "alias \(conf)/examples/"),
            ("root conf/examples;", "root \(conf)/examples;"),
            ("pid logs/django-php-fpm.pid;", front == "nginx" ? "pid logs/nginx.pid;" : "pid logs/swiftginx.pid;"),
        ] {
            text = text.replacingOccurrences(of: from, with: to)
        }
        var head = "daemon off;\n"
        if front == "nginx" {
            head += "master_process off;\n" + (getuid() == 0 ? "user root;\n" : "")
            let nginx = try ReferenceNginx(config: head + text, port: port)
            defer { nginx.stop() }
            try Self.checkDjangoAndPHP(port: port, log: { nginx.log + php.log })
        } else {
            let s = try TestServer(config: head + text)
            try s.start()
            defer { s.stop() }
            try Self.checkDjangoAndPHP(port: s.port, log: { s.read("logs/error.log") + php.log })
        }
    }

    static func checkDjangoAndPHP(port: Int, log: () -> String) throws {
        let index = try get(port, "/php/?a=b")
        #expect(index.status == 200, "\(index.rawHead)\n\(index.bodyText)\n\(log())")
        #expect(index.bodyText.contains("PHP via CGI/1.1\nscript: /php/index.php\n"))
        #expect(index.bodyText.contains("query: a=b\n"))
        #expect(index.header("Content-Type") == "text/plain;charset=UTF-8")
        let info = try get(port, "/php/index.php/extra/path")
        #expect(info.bodyText.contains("script: /php/index.php\npath_info: /extra/path\n"), "\(info.bodyText)")
        #expect(try get(port, "/php/missing.php").status == 404)

        let django = try get(port, "/headers/?q=1")
        #expect(django.status == 200)
        let j = try json(django)
        #expect(j["path"] as? String == "/headers/")
        #expect(j["x_forwarded_for"] as? String == "127.0.0.1")
        let staticFile = try get(port, "/static/hello.txt")
        #expect(staticFile.bodyText == "static file for the example configs\n")
    }

    /// fastcgi_keep_conn with answers that carry a Content-Length: the connection goes
    /// back to the keep-alive cache once END_REQUEST is read, and is closed when the
    /// answer had more bytes than it announced (nginx's warning, the extra bytes dropped).
    @Test func keepConnWithContentLength() throws {
        let port = freePort()
        let script = repositoryRoot.appendingPathComponent("Tests/IntegrationTests/Support/fastcgi_counter.py").path
        let pid = try ProcessControl.spawn(
            "/usr/bin/setsid", ["/usr/bin/setsid", "/usr/bin/python3", script, "\(port)"], stdout: -1, stderr: -1)
        defer {
            Glibc.kill(-pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 5000)
        }
        let deadline = Date().addingTimeInterval(10)
        // The probe is the counter's connection 1.
        while !canConnect(port: port) && Date() < deadline { usleep(50_000) }
        let s = try Self.server(
            """
            upstream counter { server 127.0.0.1:\(port); keepalive 2; }
            server {
                listen 127.0.0.1:PORT;
                location / {
                    fastcgi_param REQUEST_URI $request_uri;
                    fastcgi_pass counter;
                    fastcgi_keep_conn on;
                }
                location /closed/ {
                    fastcgi_param REQUEST_URI $request_uri;
                    fastcgi_pass 127.0.0.1:\(port);
                }
            }
            """)
        defer { s.stop() }
        for _ in 0..<4 {
            let r = try get(s.port, "/kept")
            #expect(r.status == 200 && r.bodyText == "connection 2", "\(r.rawHead)\n\(r.bodyText)")
            #expect(r.header("Content-Length") == "12")
        }
        // Without fastcgi_keep_conn each request has a connection of its own.
        #expect(try get(s.port, "/closed/a").bodyText == "connection 3")
        #expect(try get(s.port, "/closed/b").bodyText == "connection 4")
        #expect(try get(s.port, "/again").bodyText == "connection 2")
        // Two bytes past Content-Length: dropped, warned about, and the connection closed.
        let extra = try get(s.port, "/extra")
        #expect(extra.bodyText == "connection 2")
        #expect(s.waitForFile("logs/error.log", containing: "upstream sent more data than specified"))
        #expect(try get(s.port, "/after").bodyText == "connection 5")
    }
}
