// The proxy module's rules as nginx applies them, over real sockets with the server
// itself as the upstream (a second server block): proxy_cookie_flags / _domain / _path,
// $upstream_cookie_*, $upstream_bytes_*, X-Accel-Redirect (unsafe URIs, method, server
// rewrites, named locations), proxy_bind, proxy_set_body, proxy_pass with variables
// naming an implicit group, proxy_pass in limit_except and in if,
// duplicate upstream fields, hash with an empty key, down peers and next_upstream.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct ProxyNginxRulesTests {
    /// A server on PORT proxying to a second server on `up` (its `upstream` locations).
    func start(front: String, upstream: String, http: String = "") throws -> (TestServer, Int) {
        let up = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    \(http.replacingOccurrences(of: "UP", with: "\(up)"))
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        root html;
                        \(front.replacingOccurrences(of: "UP", with: "\(up)"))
                    }
                    server {
                        listen 127.0.0.1:\(up);
                        server_name localhost;
                        \(upstream)
                    }
                }
                """)
        try s.start()
        return (s, up)
    }

    @Test func cookieFlagsDomainsAndPathsAreRewrittenAsNginxDoes() throws {
        let (s, _) = try start(
            front: """
                location / {
                    proxy_pass http://127.0.0.1:UP;
                    proxy_cookie_flags a secure httponly samesite=lax;
                    proxy_cookie_flags ~^re nosecure;
                    proxy_cookie_domain .$server_name.com en.$server_name.org;
                    proxy_cookie_domain ~^(.+)\\.net$ $1.org;
                    proxy_cookie_path ~*^/CASE/(.+)$ /$1;
                }
                """,
            upstream: "location / { add_header Set-Cookie $http_x_c; return 204; }")
        defer { s.stop() }
        func cookie(_ c: String) throws -> String? {
            try get(s.port, "/", extra: "X-C: \(c)\r\n").header("Set-Cookie")
        }
        #expect(try cookie("a=1;SameSite=None") == "a=1; SameSite=Lax; Secure; HttpOnly")
        #expect(try cookie("rex=1; Secure; Path=/") == "rex=1; Path=/")
        // No rule applies: the upstream's bytes pass unchanged.
        #expect(try cookie("zz=1;secure") == "zz=1;secure")
        #expect(try cookie("v=1; Domain=.LocalHost.com") == "v=1; Domain=.en.localhost.org")
        #expect(try cookie("v=1; Domain=www.example.NET") == "v=1; Domain=www.example.org")
        #expect(try cookie("v=1; Path=/case/x.html") == "v=1; Path=/x.html")
    }

    @Test func upstreamCookieAndByteCountVariables() throws {
        let (s, _) = try start(
            front: """
                location / {
                    proxy_pass http://127.0.0.1:UP;
                    add_header X-C $upstream_cookie_tc;
                    add_header X-Bar $upstream_http_bar;
                    add_header X-Bytes "$upstream_bytes_received $upstream_bytes_sent $upstream_response_length";
                }
                """,
            upstream: """
                location / {
                    add_header Set-Cookie "tc = one;two";
                    add_header Bar a;
                    add_header Bar b;
                    return 200 body;
                }
                """)
        defer { s.stop() }
        let r = try get(s.port, "/")
        #expect(r.header("X-C") == "one")
        #expect(r.header("X-Bar") == "a, b")
        let parts = (r.header("X-Bytes") ?? "").split(separator: " ").compactMap { Int($0) }
        #expect(parts.count == 3)
        if parts.count == 3 {
            #expect(parts[0] > parts[2])
            #expect(parts[1] > 0)
            #expect(parts[2] == 4)
        }
    }

    @Test func xAccelRedirectFollowsNginxRules() throws {
        let (s, _) = try start(
            front: """
                if ($upstream_http_x_accel_redirect) {
                    return 200 "xar $uri $args $request_method";
                }
                location /p { proxy_pass http://127.0.0.1:UP/; }
                location @named { return 200 "named $uri"; }
                """,
            upstream: "location / { add_header X-Accel-Redirect $arg_x; return 204; }")
        defer { s.stop() }
        #expect(try get(s.port, "/p?x=/a%20b?q=1").bodyText == "xar /a b q=1 GET")
        let post = try request(s.port, "POST /p?x=/f HTTP/1.1\r\nHost: l\r\nContent-Length: 0\r\n\r\n")
        #expect(post.bodyText == "xar /f  GET")
        for unsafe in ["..", "../f", "/f/..", "/f/.%2e"] {
            let r = try get(s.port, "/p?x=" + unsafe)
            #expect(r.status == 404, "\(unsafe)")
        }
        #expect(s.waitForFile("logs/error.log", containing: "unsafe URI \"../f\" was detected"))
        #expect(try get(s.port, "/p?x=@named").bodyText == "named /p")
    }

    @Test func proxyBindSetsTheLocalAddress() throws {
        let (s, _) = try start(
            front: """
                proxy_bind 127.0.0.2;
                location / { proxy_pass http://127.0.0.1:UP/; }
                location /off { proxy_bind off; proxy_pass http://127.0.0.1:UP/; }
                location /var { proxy_bind $arg_b; proxy_pass http://127.0.0.1:UP/; }
                """,
            upstream: "location / { return 200 $remote_addr; }")
        defer { s.stop() }
        #expect(try get(s.port, "/").bodyText == "127.0.0.2")
        #expect(try get(s.port, "/off").bodyText == "127.0.0.1")
        #expect(try get(s.port, "/var?b=127.0.0.3").bodyText == "127.0.0.3")
        #expect(try get(s.port, "/var").bodyText == "127.0.0.1")
    }

    @Test func setBodyReplacesTheClientsBody() throws {
        let (s, _) = try start(
            front: "location / { proxy_pass http://127.0.0.1:UP/; proxy_set_body \"set $arg_a\"; }",
            upstream: "location / { return 200 \"$http_content_length $request_method\"; }")
        defer { s.stop() }
        #expect(try get(s.port, "/?a=12").bodyText == "6 GET")
        let r = try request(s.port, "POST /?a=1 HTTP/1.1\r\nHost: l\r\nContent-Length: 9\r\n\r\nclientbod")
        #expect(r.bodyText == "5 POST")
    }

    @Test func requestBodyVariableAlsoWhenStreamed() throws {
        let (s, _) = try start(
            front: """
                client_body_buffer_size 2k;
                location /b { add_header X-Body $request_body; proxy_pass http://127.0.0.1:UP/; }
                location /s {
                    proxy_request_buffering off;
                    add_header X-Body $request_body;
                    proxy_pass http://127.0.0.1:UP/;
                }
                """,
            upstream: "location / { return 204; }")
        defer { s.stop() }
        for path in ["/b", "/s"] {
            let body = String(repeating: "0123456789", count: 128)
            let r = try request(
                s.port, "POST \(path) HTTP/1.1\r\nHost: l\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            #expect(r.header("X-Body") == body, "\(path)")
            // Past client_body_buffer_size the body is not in memory: empty, as nginx.
            let big = String(repeating: "x", count: 6000)
            let b = try request(
                s.port, "POST \(path) HTTP/1.1\r\nHost: l\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)")
            #expect(b.status == 204 && b.header("X-Body") == nil, "\(path)")
        }
    }

    @Test func variablesNameImplicitGroups() throws {
        let (s, up) = try start(
            front: """
                location /a { proxy_pass http://localhost:UP/a; }
                location /var { proxy_pass http://$arg_b; }
                """,
            upstream: "location / { return 200 \"up $uri\"; }")
        defer { s.stop() }
        // "localhost:UP" is the implicit group of /a's proxy_pass: no resolver is needed.
        #expect(try get(s.port, "/var?b=localhost:\(up)/x").bodyText == "up /x")
        #expect(try get(s.port, "/var?b=127.0.0.1:\(up)/y").bodyText == "up /y")
        // A name nothing declared needs a resolver.
        #expect(try get(s.port, "/var?b=nowhere.invalid/z").status == 502)
    }

    @Test func passInLimitExceptAndInIfBlocks() throws {
        let (s, _) = try start(
            front: """
                location /lmt {
                    proxy_pass http://127.0.0.1:UP/replaced;
                    limit_except POST { proxy_pass http://127.0.0.1:UP; }
                }
                location /crash {
                    set $t 1;
                    if ($t) { proxy_pass http://127.0.0.1:UP; }
                    if ($t) { }
                }
                """,
            upstream: "location / { return 200 \"uri $uri\"; }")
        defer { s.stop() }
        #expect(try get(s.port, "/lmt").bodyText == "uri /lmt")
        let post = try request(s.port, "POST /lmt HTTP/1.1\r\nHost: l\r\nContent-Length: 0\r\n\r\n")
        #expect(post.bodyText == "uri /replaced")
        #expect(try get(s.port, "/crash").status == 500)
    }

    @Test func balancingRulesOfNginx() throws {
        let other = freePort()
        let (s, _) = try start(
            front: """
                location /h { proxy_pass http://h; }
                location /d { proxy_pass http://d; proxy_next_upstream http_404; }
                """,
            upstream: "location / { return 404; } location /h { return 200 $server_port; }",
            http: """
                upstream h { hash $arg_k; server 127.0.0.1:UP; server 127.0.0.1:\(other); }
                upstream d { server 127.0.0.1:UP; server 127.0.0.1:1 down; }
                server { listen 127.0.0.1:\(other); return 200 $server_port; }
                """)
        defer { s.stop() }
        // An empty key: round robin between both servers.
        var ports: Set<String> = []
        for _ in 0..<4 { ports.insert(try get(s.port, "/h").bodyText) }
        #expect(ports.count == 2)
        // A key: always the same one.
        var keyed: Set<String> = []
        for _ in 0..<4 { keyed.insert(try get(s.port, "/h?k=x").bodyText) }
        #expect(keyed.count == 1)
        // The down peer is not tried: the upstream's 404 is the answer.
        #expect(try get(s.port, "/d").status == 404)
    }

    @Test func duplicateSingleValueFieldsKeepTheFirst() throws {
        let (s, _) = try start(
            front: "location / { proxy_pass http://127.0.0.1:UP; }",
            upstream: "location / { add_header Expires foo; add_header Expires bar; return 204; }")
        defer { s.stop() }
        let r = try get(s.port, "/")
        #expect(r.headers.filter { $0.0 == "Expires" }.map(\.1) == ["foo"])
        #expect(s.waitForFile("logs/error.log", containing: "upstream sent duplicate header line: \"Expires: bar\""))
    }

    @Test func trailersFollowAChunkedBody() throws {
        let (s, _) = try start(
            front: """
                add_trailer X-Host $host;
                add_trailer X-Again $sent_trailer_x_host always;
                location / { }
                location /r { return 200 "hello"; }
                location /p { proxy_pass http://127.0.0.1:UP/; add_trailer X-L $upstream_response_length; }
                """,
            upstream: "location / { return 200 \"upstream\"; }")
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        try c.send("GET /r HTTP/1.1\r\nHost: h\r\n\r\nGET /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        let raw = String(decoding: c.readToEnd(), as: UTF8.self)
        #expect(raw.contains("Transfer-Encoding: chunked\r\n"))
        #expect(!raw.contains("Content-Length"))
        #expect(raw.contains("\r\n\r\n5\r\nhello\r\n0\r\nX-Host: h\r\nX-Again: h\r\n\r\nHTTP/1.1 200"))
        #expect(raw.hasSuffix("\r\n\r\n8\r\nupstream\r\n0\r\nX-L: 8\r\n\r\n"))
        // HTTP/1.0 and HEAD: no trailers, the length stays.
        let old = try request(s.port, "GET /r HTTP/1.0\r\nHost: h\r\n\r\n")
        #expect(old.header("Content-Length") == "5" && old.bodyText == "hello")
        let head = try request(s.port, "HEAD /r HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.header("Content-Length") == "5")
        // A 404: only the `always` trailer, empty here (X-Host was not sent), so none.
        let c2 = try RawClient(port: s.port)
        try c2.send("GET /missing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        let nx = String(decoding: c2.readToEnd(), as: UTF8.self)
        #expect(nx.hasPrefix("HTTP/1.1 404"))
        #expect(nx.hasSuffix("\r\n0\r\n\r\n"))
        #expect(!nx.contains("X-Host") && !nx.contains("X-Again"))
    }

    @Test func aClientGoneWhileTheUpstreamThinksEndsTheRequestWith499() throws {
        let b = try EchoBackend()
        let (s, _) = try start(
            front: """
                location / {
                    proxy_pass http://127.0.0.1:\(b.port);
                    access_log logs/access.log gone;
                }
                """,
            upstream: "location / { return 204; }",
            http: "log_format gone '$status $upstream_header_time';")
        defer {
            s.stop()
            b.stop()
        }
        let c = try RawClient(port: s.port)
        try c.send("GET /slow?ms=1500 HTTP/1.1\r\nHost: l\r\n\r\n")
        usleep(300_000)
        c.close()
        // 499 and no header time: the request ended before the upstream answered.
        #expect(s.waitForFile("logs/access.log", containing: "499 -", timeout: 3))
        #expect(s.waitForFile("logs/error.log", containing: "client prematurely closed connection"))
    }

    /// `proxy_ignore_client_abort on`: the client leaving does not end the upstream request;
    /// its answer is read to the end (and dropped), so the upstream's status is logged.
    @Test func ignoreClientAbortLetsTheUpstreamFinish() throws {
        let b = try EchoBackend()
        let (s, _) = try start(
            front: """
                location / {
                    proxy_pass http://127.0.0.1:\(b.port);
                    proxy_ignore_client_abort on;
                    access_log logs/access.log kept;
                }
                """,
            upstream: "location / { return 204; }",
            http: "log_format kept '$status $upstream_status';")
        defer {
            s.stop()
            b.stop()
        }
        let c = try RawClient(port: s.port)
        try c.send("GET /slow?ms=1000 HTTP/1.1\r\nHost: l\r\n\r\n")
        usleep(300_000)
        c.close()
        #expect(s.waitForFile("logs/access.log", containing: " 200", timeout: 4), "\(s.read("logs/access.log"))")
        #expect(!s.read("logs/access.log").contains("499"))
    }

    @Test func variablesCarryTheTLSScheme() throws {
        let pki = try TestPKI()
        let tlsPort = freePort()
        let (s, up) = try start(
            front: "location / { proxy_pass $arg_s://127.0.0.1:$arg_p/; }",
            upstream: "location / { return 200 \"plain $scheme\"; }",
            http: """
                server {
                    listen 127.0.0.1:\(tlsPort) ssl;
                    \(pki.certificate("rsa"))
                    location / { return 200 "tls $scheme"; }
                }
                """)
        defer { s.stop() }
        #expect(try get(s.port, "/?s=https&p=\(tlsPort)").bodyText == "tls https")
        #expect(try get(s.port, "/?s=http&p=\(up)").bodyText == "plain http")
    }
}
