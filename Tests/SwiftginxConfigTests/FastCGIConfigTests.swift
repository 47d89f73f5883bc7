// fastcgi_* and scgi_* directives: targets, the FastCGI module's own settings, the
// shared upstream settings kept apart per module, inheritance of *_param lists, the
// variables' split, and nginx's error messages with their places.

import SwiftginxConfig
import Testing

@Suite struct FastCGIConfigTests {
    func location(_ c: RuntimeConfig, _ uri: String) -> Location? {
        let server = c.listenGroups[0].servers[0]
        return uri.utf8.withContiguousStorageIfAvailable { server.locations.match(UnsafeRawBufferPointer($0)) }??
            .location
    }

    @Test func passesAndSettings() throws {
        let c = try load(
            http(
                """
                fastcgi_read_timeout 5s;
                fastcgi_param A a;
                fastcgi_catch_stderr fatal;
                upstream php { server 127.0.0.1:9000; keepalive 4; }
                server {
                    listen 127.0.0.1:8080;
                    proxy_read_timeout 7s;
                    location /f/ {
                        fastcgi_pass php;
                        fastcgi_keep_conn on;
                        fastcgi_index index.php;
                        fastcgi_split_path_info ^(.+\\.php)(.*)$;
                        fastcgi_catch_stderr boom;
                        fastcgi_param B b if_not_empty;
                        fastcgi_hide_header X-Secret;
                    }
                    location /u/ { fastcgi_pass unix:/run/php.sock; }
                    location /s/ {
                        scgi_pass 127.0.0.1:4000; scgi_param SCGI 1; scgi_request_buffering off; scgi_limit_rate 10k;
                    }
                    location /v/ { scgi_pass $arg_to; }
                }
                """))
        let f = try #require(location(c, "/f/x"))
        #expect(f.settings.pass?.proto == .fastcgi)
        #expect(f.settings.pass?.group?.name == "php")
        let s = f.settings.fastcgi
        #expect(s.readTimeout == 5000)
        #expect(f.settings.proxy.readTimeout == 7000)
        #expect(s.fastcgi.keepConn && s.fastcgi.index == Array("index.php".utf8))
        #expect(s.fastcgi.catchStderr == [Array("boom".utf8)])
        // A level with its own fastcgi_param lines replaces the inherited list (nginx).
        #expect(s.params.map(\.name) == ["B"] && s.params[0].ifNotEmpty)
        #expect(s.hidden.contains(Array("status".utf8)) && s.hidden.contains(Array("x-secret".utf8)))
        #expect(!f.settings.proxy.hidden.contains(Array("status".utf8)))
        let split = s.fastcgi.split(Array("/f/info.php/path/info".utf8))
        #expect(split.scriptName == Array("/f/info.php".utf8) && split.pathInfo == Array("/path/info".utf8))
        let index = s.fastcgi.split(Array("/f/dir/".utf8))
        #expect(index.scriptName == Array("/f/dir/index.php".utf8) && index.pathInfo.isEmpty)

        let u = try #require(location(c, "/u/x"))
        #expect(u.settings.pass?.group?.servers.first?.address == .unix("/run/php.sock"))
        #expect(u.settings.fastcgi.params.map(\.name) == ["A"])
        #expect(!u.settings.fastcgi.fastcgi.keepConn)
        #expect(u.settings.fastcgi.fastcgi.catchStderr == [Array("fatal".utf8)])

        let sc = try #require(location(c, "/s/x"))
        #expect(sc.settings.pass?.proto == .scgi)
        #expect(!sc.settings.scgi.requestBuffering && sc.settings.fastcgi.requestBuffering)
        #expect(sc.settings.scgi.params.map(\.name) == ["SCGI"])
        #expect(sc.settings.sendRate.scgiLimitRate != nil && sc.settings.sendRate.fastcgiLimitRate == nil)
        #expect(try #require(location(c, "/v/x")).settings.pass?.dynamic != nil)
    }

    @Test(arguments: [
        (
            "server { location / { fastcgi_split_path_info ^(.+)$; } }",
            "pattern \"^(.+)$\" must have 2 captures in nginx.conf:3"
        ),
        (
            "server { location / { fastcgi_pass 127.0.0.1:9000/x; } }",
            "invalid host in upstream \"127.0.0.1:9000/x\" in nginx.conf:3"
        ),
        (
            "server { location / { scgi_param A; } }",
            "invalid number of arguments in \"scgi_param\" directive in nginx.conf:3"
        ),
        ("server { location / { fastcgi_param A b c; } }", "invalid parameter \"c\" in nginx.conf:3"),
        (
            "server { location / { fastcgi_keep_conn maybe; } }",
            "invalid value \"maybe\" in \"fastcgi_keep_conn\" directive, it must be \"on\" or \"off\" in nginx.conf:3"
        ),
        ("server { location / { scgi_ssl_verify on; } }", "unknown directive \"scgi_ssl_verify\" in nginx.conf:3"),
    ])
    func errors(_ text: String, _ message: String) throws {
        #expect(try loadError(http(text)) == message)
    }

    @Test func healthChecksStayWithHTTPAndUwsgi() throws {
        let text = http(
            """
            upstream php { zone php 64k; server 127.0.0.1:9000; }
            server { location / { fastcgi_pass php; health_check; } }
            """)
        #expect(try loadError(text)?.hasPrefix("\"health_check\" requires an \"upstream\" block") == true)
    }

    /// Whether Server and Date are hidden (then swiftginx writes its own) is decided with
    /// the hidden list, per module, at configuration time.
    @Test func serverAndDateHiding() throws {
        let c = try load(
            http(
                """
                server {
                    location /a/ { proxy_pass http://127.0.0.1:9000; }
                    location /b/ { proxy_pass http://127.0.0.1:9000; proxy_pass_header Server; }
                    location /c/ { fastcgi_pass 127.0.0.1:9000; fastcgi_pass_header Date; }
                }
                """))
        let a = try #require(location(c, "/a/x")).settings.proxy
        #expect(a.hidesServer && a.hidesDate)
        let b = try #require(location(c, "/b/x")).settings.proxy
        #expect(!b.hidesServer && b.hidesDate)
        let f = try #require(location(c, "/c/x")).settings.fastcgi
        #expect(f.hidesServer && !f.hidesDate)
    }
}
