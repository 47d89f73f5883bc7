// nginx's rewrite module over real sockets: rewrite with last / break / redirect /
// permanent and without a flag, argument handling, set variables, break, return in
// order with rewrites, captures, the redirection cycle limit, rewrite_log — and the
// same requests answered by nginx for comparison.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite struct RewriteTests {
    static let config = """
        daemon off;
        error_log logs/error.log notice;
        pid logs/swiftginx.pid;
        events {}
        http {
            map $http_user_agent $is_bot { default 0; ~*bot 1; "~^curl" 2; }
            map $host $site { hostnames; default other; .example.com example; www.test.org test; }
            map $is_bot $bot_word { 0 human; default machine; }
            map $uri $moved { default ""; "~^/moved/(?<rest>.*)$" /new/$rest; "~*^/legacy/(\\w+)/(\\d+)$" /new/$2-$1; }
            split_clients "${arg_k}salt" $variant { 33.3% a; 33.3% b; 0.5% tiny; * c; }
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                location /map/ { return 200 "bot=$is_bot site=$site word=$bot_word"; }
                location /moved/ { if ($moved) { return 301 $moved; } return 404; }
                location /cond/ {
                    if ($arg_nocache) { add_header Cache-Control no-store; expires epoch; }
                    if ($arg_other) { root html/brk; }
                    add_header X-Base yes;
                }
                location /legacy/ { if ($moved) { return 301 $moved; } return 404; }
                location /split/ { return 200 "$variant"; }
                location /if/ {
                    if ($http_x_mode = "deny") { return 403; }
                    if ($arg_go) { rewrite ^ /target/from-if last; }
                    if ($http_user_agent ~* "(?<engine>gecko|webkit)") { return 200 "engine $engine"; }
                    if (-f $request_filename) { return 200 "file exists"; }
                    if (!-e $request_filename) { set $missing yes; }
                    return 200 "fallthrough missing=$missing";
                }
                root html;
                rewrite ^/old/(.*)$ /new/$1 permanent;
                location /new/ { return 200 "new $uri args=$args"; }
                location /last/ { rewrite ^/last/(\\\\w+)$ /target/$1 last; return 500; }
                location /target/ { return 200 "target $uri"; }
                location /brk/ { rewrite ^ /brk/other.txt break; return 500; }
                location /redir/ { rewrite ^/redir/(.*)$ /new/$1?from=redir redirect; }
                location /args/ { rewrite ^ /new/x?a=1 last; }
                location /noargs/ { rewrite ^ /new/x? last; }
                location /chain/ { rewrite ^/chain/a$ /chain/b; rewrite ^/chain/b$ /target/chained; }
                location /set/ { set $who "world"; set $greeting "hello $who"; return 200 "$greeting"; }
                location /named/ { rewrite "^/named/(?<id>[0-9]+)$" /target/item-$id last; }
                location /loop/ { rewrite ^ /loop/again last; }
                location /abs/ { rewrite ^ http://example.test/elsewhere; }
                location /logged/ { rewrite_log on; rewrite ^ /target/logged last; }
            }
            server {
                listen 127.0.0.1:PORT;
                server_name "~^(?<sub>[a-z]+)\\.captures\\.test$";
                location / { return 200 "sub=$sub first=$1"; }
                location ~ ^/re/(\\d+)$ { return 200 "sub=$sub first=$1"; }
            }
        }
        """

    func makeServer() throws -> TestServer {
        let s = try TestServer(
            config: Self.config,
            files: [
                "html/brk/other.txt": "other file", "html/if/exists.txt": "x", "html/cond/c.txt": "cond",
                "html/brk/cond/c.txt": "other root",
            ])
        try s.start()
        return s
    }

    @Test func flagsAndArguments() throws {
        let s = try makeServer()
        let old = try get(s.port, "/old/page?q=1")
        #expect(old.status == 301)
        #expect(old.header("Location") == "http://localhost:\(s.port)/new/page?q=1")
        #expect(try get(s.port, "/last/abc").bodyText == "target /target/abc")
        #expect(try get(s.port, "/brk/anything").bodyText == "other file")
        let r = try get(s.port, "/redir/p?x=2")
        #expect(r.status == 302)
        #expect(r.header("Location") == "http://localhost:\(s.port)/new/p?from=redir&x=2")
        #expect(try get(s.port, "/args/?b=2").bodyText == "new /new/x args=a=1&b=2")
        #expect(try get(s.port, "/noargs/?b=2").bodyText == "new /new/x args=")
        #expect(try get(s.port, "/chain/a").bodyText == "target /target/chained")
        #expect(try get(s.port, "/named/42").bodyText == "target /target/item-42")
        let abs = try get(s.port, "/abs/x")
        #expect(abs.status == 302)
        #expect(abs.header("Location") == "http://example.test/elsewhere")
    }

    @Test func setVariablesAndLimits() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/set/").bodyText == "hello world")
        #expect(try get(s.port, "/loop/x").status == 500)
        #expect(s.waitForFile("logs/error.log", containing: "rewrite or internal redirection cycle"))
        #expect(try get(s.port, "/logged/x").bodyText == "target /target/logged")
        #expect(s.waitForFile("logs/error.log", containing: "[notice]"))
        #expect(s.read("logs/error.log").contains("\"^\" matches \"/logged/x\""))
    }

    @Test func maps() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/map/", host: "www.example.com").bodyText == "bot=0 site=example word=human")
        #expect(
            try get(s.port, "/map/", host: "example.com", extra: "User-Agent: GoogleBOT\r\n").bodyText
                == "bot=1 site=example word=machine")
        #expect(
            try get(s.port, "/map/", host: "WWW.TEST.ORG", extra: "User-Agent: curl/8\r\n").bodyText
                == "bot=2 site=test word=machine")
        #expect(try get(s.port, "/map/", host: "elsewhere").bodyText == "bot=0 site=other word=human")
        // Captures of a map regex in its value: named and numbered.
        #expect(try get(s.port, "/moved/a/b.html").header("Location") == "http://localhost:\(s.port)/new/a/b.html")
        #expect(try get(s.port, "/legacy/item/7").header("Location") == "http://localhost:\(s.port)/new/7-item")
    }

    static let ifCases: [(String, String)] = [
        ("/if/a", "X-Mode: deny\r\n"), ("/if/a?go=1", ""), ("/if/a?go=0", ""),
        ("/if/a", "User-Agent: Mozilla Gecko/1\r\n"),
        ("/if/exists.txt", ""), ("/if/none", ""), ("/if/", ""),
    ]

    @Test func ifConditions() throws {
        let s = try makeServer()
        let expected = [
            "403", "target /target/from-if", "fallthrough missing=yes", "engine Gecko", "file exists",
            "fallthrough missing=yes", "fallthrough missing=",
        ]
        for ((path, extra), want) in zip(Self.ifCases, expected) {
            let r = try get(s.port, path, extra: extra)
            #expect((r.status == 403 ? "403" : r.bodyText) == want, "\(path) \(extra.debugDescription)")
        }
        let bad = try TestServer(config: "events {}\nhttp { server { if ($uri) { root /x; } } }\n")
        let r = try runBinary(["-p", bad.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(r.status == 1)
        // nginx's message: only the rewrite module's directives may be inside a server-level if.
        #expect(r.stderr.contains("\"root\" directive is not allowed here in \(bad.prefix)conf/swiftginx.conf:2"))
    }

    @Test func sentHeadersAndLimitRateInTheAccessLog() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format sent '$status "$sent_http_content_type" "$sent_http_x_tag" "$sent_http_set_cookie" $limit_rate';
                    access_log logs/sent.log sent;
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            add_header X-Tag one;
                            add_header Set-Cookie a=1;
                            add_header Set-Cookie b=2;
                            return 200 "hi";
                        }
                    }
                }
                """)
        try s.start()
        _ = try get(s.port, "/")
        s.stop()
        #expect(s.read("logs/sent.log") == "200 \"text/plain\" \"one\" \"a=1, b=2\" 0\n")
    }

    @Test func serverNameCaptures() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/x", host: "shop.captures.test").bodyText == "sub=shop first=shop")
        // A location regex's captures replace the numbered ones; named ones stay.
        #expect(try get(s.port, "/re/42", host: "shop.captures.test").bodyText == "sub=shop first=42")
    }

    @Test func configErrors() throws {
        let s = try TestServer(config: "events {}\nhttp { server { rewrite ^ /x foo; } }\n")
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(r.stderr.contains("[emerg] invalid parameter \"foo\" in \(s.prefix)conf/swiftginx.conf:2"))
        let u = try TestServer(config: "events {}\nhttp { server { return 200 $undeclared; set $other 1; } }\n")
        let e = try runBinary(["-p", u.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(e.stderr.contains("unknown \"undeclared\" variable"))
        // As in nginx, a variable may be used before the `set` (or `map`) that declares it.
        let later = try TestServer(config: "events {}\nhttp { server { return 200 $later; set $later 1; } }\n")
        let l = try runBinary(["-p", later.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(l.stderr.contains("test is successful"))
    }

    @Test func sameAsNginx() throws {
        try requireNginx()
        let s = try makeServer()
        let nginxPort = freePort()
        let conf = Self.config.replacingOccurrences(of: "PORT", with: "\(nginxPort)")
            .replacingOccurrences(of: "logs/swiftginx.pid", with: "logs/nginx.pid")
            .replacingOccurrences(of: "logs/error.log", with: "logs/nginx-error.log")
            .replacingOccurrences(of: "daemon off;", with: "daemon off; master_process off; user root;")
            .replacingOccurrences(
                of: "http {",
                with:
                    "http { client_body_temp_path temp/b; proxy_temp_path temp/p; fastcgi_temp_path temp/f; uwsgi_temp_path temp/u; scgi_temp_path temp/s;"
            )
        try FileManager.default.createDirectory(atPath: s.prefix + "temp", withIntermediateDirectories: true)
        try conf.write(toFile: s.prefix + "conf/nginx.conf", atomically: true, encoding: .utf8)
        chmod(s.prefix, 0o755)
        let pid = try ProcessControl.spawn(
            "/usr/sbin/nginx", ["nginx", "-p", s.prefix, "-c", "conf/nginx.conf"], stdout: -1, stderr: -1)
        defer {
            kill(pid, SIGTERM)
            if ProcessControl.wait(pid, timeout: 5000) == nil {
                kill(pid, SIGKILL)
                _ = ProcessControl.wait(pid, timeout: 2000)
            }
        }
        for _ in 0..<250 where !canConnect(port: nginxPort) { usleep(20_000) }
        for path in [
            "/old/page?q=1", "/last/abc", "/brk/anything", "/redir/p?x=2", "/args/?b=2", "/noargs/?b=2", "/chain/a",
            "/named/42", "/set/", "/loop/x", "/abs/x", "/map/", "/moved/a/b.html", "/LEGACY/item/7", "/legacy/x",
            "/cond/c.txt", "/cond/c.txt?nocache=1", "/cond/c.txt?other=1",
        ] {
            let a = try get(nginxPort, path, host: "www.example.com", extra: "User-Agent: a bot\r\n")
            let b = try get(s.port, path, host: "www.example.com", extra: "User-Agent: a bot\r\n")
            #expect(a.status == b.status, "\(path)")
            #expect(
                a.header("Location")?.replacingOccurrences(of: ":\(nginxPort)", with: ":P")
                    == b.header("Location")?.replacingOccurrences(of: ":\(s.port)", with: ":P"), "\(path)")
            if a.status == 200 { #expect(a.bodyText == b.bodyText, "\(path)") }
            for h in ["Cache-Control", "Expires", "X-Base"] {
                #expect(a.header(h) == b.header(h) || h == "Expires", "\(path) \(h)")
                #expect((a.header(h) == nil) == (b.header(h) == nil), "\(path) \(h)")
            }
        }
        // split_clients: the same band as nginx for every key.
        var seen = Set<String>()
        for k in 0..<120 {
            let a = try get(nginxPort, "/split/?k=\(k)")
            let b = try get(s.port, "/split/?k=\(k)")
            #expect(a.bodyText == b.bodyText, "split_clients key \(k)")
            seen.insert(b.bodyText)
        }
        #expect(seen.isSuperset(of: ["a", "b", "c"]))
        for path in ["/x", "/re/42"] {
            let a = try get(nginxPort, path, host: "shop.captures.test")
            let b = try get(s.port, path, host: "shop.captures.test")
            #expect(a.bodyText == b.bodyText, "captures \(path)")
        }
        for (path, extra) in Self.ifCases {
            let a = try get(nginxPort, path, extra: extra)
            let b = try get(s.port, path, extra: extra)
            #expect(a.status == b.status, "\(path) \(extra.debugDescription)")
            if a.status == 200 { #expect(a.bodyText == b.bodyText, "\(path) \(extra.debugDescription)") }
        }
    }
}
