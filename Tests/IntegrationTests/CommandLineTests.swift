// The command line as nginx users drive it: -t / -T / -q, -v / -V / -h, invalid
// options and the exact `[emerg] ... in file:line` + `test failed` output.

import Foundation
import Testing

@Suite struct CommandLineTests {
    @Test func testFlagReportsSuccess() throws {
        let s = try TestServer()
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("swiftginx: the configuration file \(s.prefix)conf/swiftginx.conf syntax is ok"))
        #expect(r.stderr.contains("swiftginx: configuration file \(s.prefix)conf/swiftginx.conf test is successful"))
    }

    @Test func testFlagQuietPrintsNothingOnSuccess() throws {
        let s = try TestServer()
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-tq"])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
    }

    @Test func testFlagNamesDirectivesWithoutEffect() throws {
        let s = try TestServer(config: "events {}\nhttp {\n    proxy_temp_path /tmp/x;\n    server { }\n}\n")
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(r.status == 0)
        #expect(
            r.stderr.contains(
                "swiftginx: [notice] \"proxy_temp_path\" is accepted without effect in \(s.prefix)conf/swiftginx.conf:3"
            ))
        let quiet = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-tq"])
        #expect(quiet.stderr.isEmpty)
    }

    @Test func unknownDirectiveFailsWithPlace() throws {
        let s = try TestServer(config: "events {}\nhttp {\n    foo bar;\n}\n")
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("swiftginx: [emerg] unknown directive \"foo\" in \(s.prefix)conf/swiftginx.conf:3"))
        #expect(r.stderr.contains("swiftginx: configuration file \(s.prefix)conf/swiftginx.conf test failed"))
    }

    @Test func dumpPrintsEveryFile() throws {
        let s = try TestServer()
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-T"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("# configuration file \(s.prefix)conf/swiftginx.conf:"))
        #expect(r.stdout.contains("# configuration file \(s.prefix)conf/mime.types:"))
        #expect(r.stdout.contains("worker_connections 64;"))
    }

    @Test func dumpWarnsAboutLocationsThatNeverMatch() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        location = /exact { return 200; }
                        location ~ \\.php$ { return 200; }
                        location ~ ^/exact$ { return 200; }
                        location ~ \\.php$ { return 201; }
                        location /app/ {
                            location ~ ^/ { return 200; }
                            location ~ \\.js$ { return 200; }
                        }
                        location ~ \\.css$ { return 200; }
                    }
                }
                """)
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-T"])
        #expect(r.status == 0)
        let conf = "\(s.prefix)conf/swiftginx.conf"
        #expect(
            r.stderr.contains(
                "[warn] location \"~ ^/exact$\" in \(conf):10 can never match: \"= /exact\" answers that URI first"))
        #expect(
            r.stderr.contains(
                "[warn] location \"~ \\.php$\" in \(conf):11 can never match: the same regex at \(conf):9 is tried first"
            ))
        #expect(
            r.stderr.contains(
                "[warn] location \"~ \\.js$\" in \(conf):14 can never match: \"~ ^/\" at \(conf):13 matches every URI first"
            ))
        #expect(!r.stderr.contains("\\.css"))
    }

    @Test func explainerShowsTheUpstream() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    upstream app { least_conn; server 127.0.0.1:8000; server 127.0.0.1:8001 backup; keepalive 8; }
                    server {
                        listen 127.0.0.1:PORT;
                        location /api/ { proxy_pass http://app/v1/; }
                        location = /auth { internal; proxy_pass http://app/check; }
                        location /private/ { auth_request /auth; }
                    }
                }
                """)
        let r = try runBinary([
            "-p", s.prefix, "-c", "conf/swiftginx.conf", "-x", "GET http://localhost:\(s.port)/api/users?id=1",
        ])
        #expect(r.stdout.contains("handler: proxy_pass to http://app, URI sent: /v1/users"), "\(r.stdout)")
        #expect(r.stdout.contains("upstream \"app\": least_conn, keepalive 8"))
        #expect(r.stdout.contains("peer 127.0.0.1:8001 weight=1 backup"))
        // An auth_request subrequest is run as far as it goes without connecting.
        let a = try runBinary([
            "-p", s.prefix, "-c", "conf/swiftginx.conf", "-x", "GET http://localhost:\(s.port)/private/x",
        ])
        #expect(a.stdout.contains("phase access: auth_request"), "\(a.stdout)")
        #expect(a.stdout.contains("auth_request subrequest to \"/auth\""))
        #expect(a.stdout.contains("handler: proxy_pass to http://app, URI sent: /check"))
        #expect(a.stdout.contains("handler: static file "))
    }

    /// Debian's stock configuration (nginx-light: `include modules-enabled/*.conf` loading
    /// the echo module, `user www-data`, absolute paths) passes `-t`, with a warning for
    /// the module swiftginx cannot load.
    @Test func debiansStockConfigurationPassesTheTest() throws {
        try requireNginx()
        let r = try runBinary(["-p", "/etc/nginx/", "-c", "/etc/nginx/nginx.conf", "-t"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("test is successful"))
        #expect(r.stderr.contains("[warn] module \"ngx_http_echo_module\" of \"load_module\" is not available"))
    }

    @Test func versionFlags() throws {
        let v = try runBinary(["-v"])
        #expect(v.status == 0)
        #expect(v.stderr.hasPrefix("nginx version: nginx/1.31.5 (swiftginx/"))
        let vv = try runBinary(["-V"])
        #expect(vv.status == 0)
        #expect(vv.stderr.hasPrefix("nginx version: nginx/1.31.5 (swiftginx/"))
        #expect(vv.stderr.contains("\nTLS SNI support enabled\n"))
        #expect(vv.stderr.contains("--with-http_realip_module"))
        // The HTTP cache is built in: -V no longer says --without-http-cache.
        #expect(!vv.stderr.contains("--without-http-cache"))
        #expect(vv.stderr.contains("built with OpenSSL 3"))
        #expect(vv.stderr.contains("built with PCRE2 10."))
        #expect(vv.stderr.contains("configure arguments:"))
        #expect(vv.stderr.contains("--with-http_gzip_static_module"))
        #expect(vv.stderr.contains("--with-http_ssl_module"))
        #expect(vv.stderr.contains("--with-http_v2_module"))
        #expect(vv.stderr.contains("--without-http_grpc_module"))
        #expect(!vv.stderr.contains("--without-http_fastcgi_module"))
        #expect(!vv.stderr.contains("--without-http_scgi_module"))
        #expect(!vv.stderr.contains("--without-http_upstream_hash_module"))
        #expect(!vv.stderr.contains("--without-http_proxy_module"))
        #expect(!vv.stderr.contains("--without-http_uwsgi_module"))
        #expect(!vv.stderr.contains("--without-http_gzip_module"))
        let h = try runBinary(["-h"])
        #expect(h.stderr.contains("-s signal     : send signal to a master process: stop, quit, reopen, reload"))
    }

    @Test func invalidOption() throws {
        let r = try runBinary(["-z"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("swiftginx: invalid option: \"z\""))
        let s = try runBinary(["-s", "bogus"])
        #expect(s.status == 1)
    }

    @Test func globalDirectivesFromCommandLine() throws {
        let s = try TestServer(config: TestServer.defaultConfig.replacingOccurrences(of: "daemon off;\n", with: ""))
        let ok = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-g", "daemon off;", "-t"])
        #expect(ok.status == 0)
        let dup = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-g", "pid x.pid;", "-t"])
        #expect(dup.status == 1)
        #expect(dup.stderr.contains("\"pid\" directive is duplicate"))
    }

    @Test func signalWithoutPidFileFails() throws {
        let s = try TestServer()
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-s", "reload"])
        #expect(r.status == 1)
        #expect(
            r.stderr.contains("[error] open() \"\(s.prefix)logs/swiftginx.pid\" failed (2: No such file or directory)"))
    }

    @Test func dashEReplacesTheDefaultErrorLog() throws {
        let s = try TestServer(
            config: """
                daemon off;
                pid logs/swiftginx.pid;
                events {}
                http { server { listen 127.0.0.1:PORT; location / { root html; } } }
                """)
        try s.start(extraArgs: ["-e", "logs/other.log"])
        _ = try get(s.port, "/missing")
        #expect(s.waitForFile("logs/other.log", containing: "open() \"\(s.prefix)html/missing\" failed"))
        #expect(!FileManager.default.fileExists(atPath: s.prefix + "logs/error.log"))
    }

    @Test func routeExplainer() throws {
        let s = try TestServer(
            config: """
                events {}
                http {
                    server {
                        listen 127.0.0.1:8080; server_name www.example.com; root html;
                        rewrite ^/old/(.*)$ /static/$1 last;
                        location / { try_files $uri $uri/ /index.html; }
                        location /new/ { if ($arg_x) { return 418; } }
                        location ^~ /static/ { expires 1h; }
                        location ~ \\.js$ { return 403; }
                        location = /health { return 200 "ok"; }
                    }
                    server { listen 127.0.0.1:8080 default_server; server_name *.example.org; return 444; }
                }
                """, files: ["html/static/app.js": "x"])
        func explain(_ request: String) throws -> String {
            let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-x", request])
            #expect(r.status == 0)
            return r.stdout
        }
        let a = try explain("GET http://www.example.com:8080/static/app.js")
        #expect(a.contains("server: server_name www.example.com — exact server_name"))
        #expect(
            a.contains(
                "location ^~ /static/: longest matching prefix (8 bytes), ^~ so regular expressions are not checked"))
        #expect(a.contains("handler: static file \(s.prefix)html/static/app.js"))
        let b = try explain("http://www.example.com:8080/x/y.js?a=1")
        #expect(b.contains("location ~ \\.js$: first matching regex, it wins"))
        #expect(b.contains("handler: return 403"))
        #expect(b.contains("phase rewrite: the location's rewrite directives"))
        #expect(b.contains("answer: 403 Forbidden"))
        let c = try explain("GET http://www.example.com:8080/health")
        #expect(c.contains("location = /health: exact match, search stops"))
        let d = try explain("GET http://unknown.test:8080/")
        #expect(d.contains("the default server of 127.0.0.1:8080"))
        #expect(d.contains("phase server rewrite: the server's rewrite directives\nhandler: return 444"))
        #expect(d.contains("answer: 444, the connection is closed without a response"))
        let e = try explain("GET http://www.example.com:8080/page")
        #expect(e.contains("phase precontent: try_files"))
        #expect(e.contains("candidate $uri: \(s.prefix)html/page missing"))
        #expect(e.contains("internal redirect to \"/index.html\""))
        // The explainer runs the serving code: a server-level rewrite is followed before
        // the locations are searched (the URI ends in .js, but the rewritten one is static).
        let f = try explain("GET http://www.example.com:8080/old/app.js")
        #expect(
            f.contains("rewrite ^/old/(.*)$: matches, URI becomes /static/app.js (last: search the locations again)"))
        #expect(f.contains("location: ^~ /static/"))
        #expect(f.contains("handler: static file \(s.prefix)html/static/app.js"))
        #expect(f.contains("answer: 200 OK"))
        #expect(!f.contains("return 403"))
        // if steps, with the outcome for this request.
        let g = try explain("GET http://www.example.com:8080/new/x?x=1")
        #expect(g.contains("if ($arg_x): true"))
        #expect(g.contains("answer: 418"))
        let h = try explain("GET http://www.example.com:8080/new/x")
        #expect(h.contains("if ($arg_x): false"))
        // The index module: a directory URI, its index candidates, then the answer.
        let i = try explain("GET http://www.example.com:8080/static/")
        #expect(i.contains("index \(s.prefix)html/static/index.html: missing"))
    }
}
