// upstream blocks, proxy_pass/uwsgi_pass targets, balancing methods, health checks
// and match blocks: compiled values and nginx's error messages with their places.

import SwiftginxConfig
import SwiftginxUpstream
import Testing

@Suite struct UpstreamConfigTests {
    @Test func upstreamServersAndParameters() throws {
        let c = try load(
            http(
                """
                upstream app {
                    least_conn;
                    server 127.0.0.1:8000 weight=3 max_fails=2 fail_timeout=30s slow_start=10s;
                    server localhost:8001 backup;
                    server unix:/tmp/app.sock down max_conns=5;
                    keepalive 16; keepalive_timeout 30s; keepalive_requests 50; keepalive_time 2m;
                }
                server { listen 127.0.0.1:8080; location / { proxy_pass http://app; } }
                """))
        let g = try #require(c.upstreamsByName["app"])
        #expect(g.method == .leastConn)
        #expect(g.keepalive == 16 && g.keepaliveTimeout == 30_000 && g.keepaliveRequests == 50)
        #expect(g.keepaliveTime == 120_000)
        #expect(g.servers[0].weight == 3 && g.servers[0].maxFails == 2)
        #expect(g.servers[0].failTimeout == 30_000 && g.servers[0].slowStart == 10_000)
        #expect(g.servers[0].name == "127.0.0.1:8000")
        #expect(g.servers.contains { $0.backup && $0.name == "localhost:8001" })
        #expect(g.servers.last?.address == .unix("/tmp/app.sock"))
        #expect(g.servers.last?.down == true && g.servers.last?.maxConns == 5)
    }

    @Test func passTargets() throws {
        let c = try load(
            http(
                """
                server {
                    listen 127.0.0.1:8080;
                    location /a/ { proxy_pass http://127.0.0.1:8000/b/; }
                    location /u/ { uwsgi_pass unix:/tmp/u.sock; }
                    location /v/ { proxy_pass http://$arg_host; }
                    location /s/ { proxy_pass http://unix:/tmp/g.sock:/x/; }
                }
                """))
        let server = c.listenGroups[0].servers[0]
        func pass(_ uri: String) -> UpstreamPass? {
            uri.utf8.withContiguousStorageIfAvailable { server.locations.match(UnsafeRawBufferPointer($0)) }??
                .location.settings.pass
        }
        let a = try #require(pass("/a/x"))
        #expect(a.proxyHost == "127.0.0.1:8000" && a.uri == Array("/b/".utf8))
        #expect(a.group?.servers.first?.address == .inet(host: "127.0.0.1", port: 8000))
        let u = try #require(pass("/u/x"))
        #expect(u.proto == .uwsgi && u.group?.servers.first?.address == .unix("/tmp/u.sock"))
        #expect(try #require(pass("/v/x")).dynamic != nil)
        let s = try #require(pass("/s/x"))
        #expect(s.proxyHost == "localhost" && s.uri == Array("/x/".utf8))
    }

    @Test(arguments: [
        (
            "upstream a { server 127.0.0.1:1; ip_hash; least_conn; }",
            "load balancing method redefined in nginx.conf:3"
        ),
        ("upstream a { }", "no servers are inside upstream in nginx.conf:3"),
        ("upstream a { server 127.0.0.1:1 weight=0; }", "invalid parameter \"weight=0\" in nginx.conf:3"),
        (
            "upstream a { server no-such-host.invalid:80; }",
            "host not found in upstream \"no-such-host.invalid:80\" in nginx.conf:3"
        ),
        ("upstream a { server 127.0.0.1:1; hash $uri ring; }", "invalid parameter \"ring\" in nginx.conf:3"),
        (
            "server { location ~ x { proxy_pass http://127.0.0.1:1/u; } }",
            "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside named location, or inside \"if\" statement, or inside \"limit_except\" block in nginx.conf:3"
        ),
        (
            "server { location / { proxy_pass ftp://127.0.0.1; } }",
            "invalid URL prefix in \"ftp://127.0.0.1\" in nginx.conf:3"
        ),
        ("server { location / { proxy_pass 127.0.0.1; } }", "invalid URL prefix in \"127.0.0.1\" in nginx.conf:3"),
        (
            "server { location / { proxy_pass http://127.0.0.1:1; proxy_pass http://127.0.0.1:2; } }",
            "\"proxy_pass\" directive is duplicate in nginx.conf:3"
        ),
        (
            "server { location / { proxy_pass http://127.0.0.1:1; health_check; } }",
            "\"health_check\" requires an \"upstream\" block named in proxy_pass or uwsgi_pass in nginx.conf:3"
        ),
        (
            "upstream a { server 127.0.0.1:1; } server { location / { proxy_pass http://a; health_check match=m; } }",
            "match \"m\" not found in nginx.conf:3"
        ),
        ("match m { status 99; }", "invalid status \"99\" in nginx.conf:3"),
        ("server { location / { proxy_next_upstream error bogus; } }", "invalid value \"bogus\" in nginx.conf:3"),
        ("server { location / { proxy_cookie_flags on; } }", "invalid parameter \"on\" in nginx.conf:3"),
        (
            "server { location / { proxy_cookie_flags off; proxy_cookie_flags a secure; } }",
            "\"proxy_cookie_flags\" directive is duplicate in nginx.conf:3"
        ),
        (
            "server { location / { proxy_cookie_path /a /b; proxy_cookie_path off; } }",
            "\"proxy_cookie_path\" directive is duplicate in nginx.conf:3"
        ),
        ("server { location / { proxy_bind 127.0.0.1 bogus; } }", "invalid parameter \"bogus\" in nginx.conf:3"),
        (
            "server { location / { limit_except GET { proxy_pass http://127.0.0.1:1/u; } } }",
            "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside named location, or inside \"if\" statement, or inside \"limit_except\" block in nginx.conf:3"
        ),
        ("server { location / { proxy_bind bad:address:1; } }", "invalid address \"bad:address:1\" in nginx.conf:3"),
    ])
    func errors(_ text: String, _ message: String) throws {
        #expect(try loadError(http(text)) == message)
    }

    @Test func cookieRulesBindAndSetBodyCompile() throws {
        let c = try load(
            http(
                """
                proxy_bind 127.0.0.2;
                server {
                    listen 127.0.0.1:8080;
                    location / {
                        proxy_pass http://127.0.0.1:8000;
                        proxy_cookie_domain .Example.org .example.com;
                        proxy_cookie_path ~*^/a/(.*)$ /$1;
                        proxy_cookie_flags ~^s secure samesite=lax;
                        proxy_cookie_flags $arg_c $arg_f;
                        proxy_set_body "x=$arg_x";
                    }
                    location /t { proxy_pass http://127.0.0.1:8000; proxy_bind $arg_b transparent; }
                    location /o { proxy_pass http://127.0.0.1:8000; proxy_bind off; }
                }
                """))
        let server = c.listenGroups[0].servers[0]
        func settings(_ uri: String) -> UpstreamSettings? {
            uri.utf8.withContiguousStorageIfAvailable { server.locations.match(UnsafeRawBufferPointer($0)) }??
                .location.settings.proxy
        }
        let s = try #require(settings("/"))
        #expect(s.cookieDomains.count == 1 && s.cookiePaths.count == 1 && s.cookieFlags.count == 2)
        if case .text(let from) = s.cookieDomains[0].pattern {
            // The leading dots are dropped from the pattern and the replacement, as nginx does.
            #expect(from.source == "Example.org")
            #expect(s.cookieDomains[0].replacement.source == "example.com")
        } else {
            Issue.record("a text pattern was expected")
        }
        #expect(s.setBody?.source == "x=$arg_x")
        #expect(s.bind?.address.source == "127.0.0.2" && s.bind?.transparent == false)
        #expect(settings("/t")?.bind?.transparent == true)
        #expect(settings("/o")?.bind == nil)
        #expect(UpstreamBind.split("[::1]:80")! == ("::1", 80))
        #expect(UpstreamBind.split("10.0.0.1")! == ("10.0.0.1", 0))
        #expect(UpstreamBind.split("10.0.0.1:x") == nil)
        let bad = try loadError(http("server { location / { proxy_cookie_domain ~( x; } }"))
        #expect(bad?.contains("missing closing parenthesis") == true)
    }

    @Test func healthChecksAttachToTheirUpstream() throws {
        let c = try load(
            http(
                """
                match ok { status 200-299; header Content-Type ~ json; body !~ "down"; }
                upstream app { server 127.0.0.1:8000; server 127.0.0.1:8001; }
                server {
                    listen 127.0.0.1:8080;
                    location / {
                        proxy_pass http://app;
                        proxy_connect_timeout 2s;
                        health_check interval=2s fails=3 passes=2 uri=/health/ match=ok mandatory;
                    }
                }
                """))
        let g = try #require(c.upstreamsByName["app"])
        let h = try #require(c.healthChecks[g.index]?.first)
        #expect(h.interval == 2_000 && h.fails == 3 && h.passes == 2 && h.uri == "/health/" && h.mandatory)
        #expect(h.connectTimeout == 2_000 && h.host == "app")
        #expect(h.match?.statuses.first?.ranges == [200...299])
        #expect(h.match?.body.count == 1)
    }
}
