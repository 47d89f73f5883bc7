// nginx's routing, rewrite and static-content details over real sockets, as nginx's
// own test suite checks them: escaped Locations of directory redirects, the local
// address when Host is invalid, error_page after a redirect (the old Location kept
// or replaced, the latest error's status), rewrite's escaping and unescaping, try_files
// with directories and aliases, map (later declarations, hostnames, caching, volatile),
// If-Range against an added Last-Modified, charset recoding with ranges, a compressed
// HEAD, auth_delay and `expires` with variables.

import Foundation
import Glibc
import Testing

@Suite struct RoutingCompatibilityTests {
    static let config = """
        \(TestServer.preamble)
        http {
            include mime.types;
            default_type application/octet-stream;
            charset_map B A { 58 59; }
            charset_map K utf-8 { C1 D0B0; }
            map $args $early { default $later; x one; }
            map $args $later { default later; y two; }
            map $args $host_kind {
                hostnames; default none;
                example.com exact; *.example.com left; example.* right; .dot.example.com dot;
            }
            map $uri $cached { /m/ /m/next; /m/next changed; }
            map $uri $fresh { volatile; /v/ /v/next; /v/next changed; }
            map $sent_http_content_type $lifetime { default off; ~text/plain 1h; }
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root html;
                error_page 400 /bad;
                location = /bad { return 301 /after-bad; }
                location /override/ { charset B; override_charset on; proxy_pass http://127.0.0.1:PORT/recode/; }
                location /first302 { error_page 302 /text200; return 302 "first"; }
                location /first302again { error_page 302 /redirect302; return 302 "first"; }
                location = /text200 { return 200 "text"; }
                location = /redirect302 { return 302 "http://example.com/"; }
                location /e404 { error_page 404 /r405; return 404; }
                location = /r405 { return 405; }
                location /cap/ { rewrite ^(.*) $1?c=$1; return 200 "uri:$uri args:$args"; }
                location /unesc { rewrite ^ $arg_r? redirect; }
                location /tf-dir/ { try_files /tree/ =404; }
                location /tf-alias/ {
                    alias html/tree/;
                    location ~ txt { try_files $uri =404; }
                }
                location ~ /re-alias.txt { alias html/tree; try_files $uri =404; }
                location = /maps { return 200 "$early $host_kind"; }
                location /m/ { index $cached; }
                location /m/next { return 200 "$cached"; }
                location /v/ { index $fresh; }
                location /v/next { return 200 "$fresh"; }
                location /lm/ { add_header Last-Modified "Mon, 28 Sep 1970 06:00:00 GMT"; }
                location /etag/ { alias html/lm/; add_header ETag foo; add_header ETag ""; }
                location /expmod/ { expires modified 2048; proxy_pass http://127.0.0.1:PORT/lm/; }
                location /recode/ { charset A; source_charset B; charset_types *; }
                location = /recode/text { charset A; source_charset B; charset_types *; return 200 "XoX"; }
                location /k/ { charset K; source_charset utf-8; }
                location = /accel-src { add_header X-Accel-Charset A; return 200 "XX"; }
                location = /accel { source_charset B; proxy_pass http://127.0.0.1:PORT/accel-src; }
                location /to-utf/ { charset utf-8; override_charset on; proxy_pass http://127.0.0.1:PORT/k/; }
                location /gz/ { gzip on; gzip_min_length 1; gzip_types text/plain; }
                location /delay/ {
                    auth_delay 1s;
                    auth_basic "closed";
                    auth_basic_user_file htpasswd;
                }
                location /exp/ { expires $lifetime; }
                location /auto/ { autoindex on; }
                location /setargs { set $args "a=1&b=2"; return 200 "$args $arg_b"; }
            }
        }
        """

    func makeServer() throws -> TestServer {
        let s = try TestServer(
            config: Self.config,
            files: [
                "html/tree/x.txt": "tree x", "html/tree/re-alias.txt": "regex alias",
                "html/dir sp/index.html": "in dir", "html/m/next": "", "html/v/next": "",
                "html/lm/a.txt": "0123456789", "html/k/t.txt": "аа!", "html/recode/t.txt": "X000XXXX",
                "html/gz/a.txt": String(repeating: "compress me ", count: 20), "html/exp/a.txt": "plain",
                "html/exp/a.html": "<p>", "html/auto/a:b": "", "conf/htpasswd": "u:{PLAIN}p\n",
            ])
        try s.start()
        return s
    }

    @Test func directoryRedirectsAreEscaped() throws {
        let s = try makeServer()
        let r = try get(s.port, "/dir%20sp?a=b")
        #expect(r.status == 301)
        #expect(r.header("Location") == "http://localhost:\(s.port)/dir%20sp/?a=b")
    }

    @Test func invalidHostRedirectsToTheLocalAddress() throws {
        let s = try makeServer()
        let r = try request(s.port, "GET / HTTP/1.0\r\nHost: .\r\n\r\n")
        #expect(r.status == 301)
        #expect(r.header("Location") == "http://127.0.0.1:\(s.port)/after-bad")
    }

    /// An error page of a refused head that would proxy has no request to pass on: the
    /// built-in page answers (and the worker lives on).
    @Test func refusedHeadErrorPageThatProxies() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        error_page 400 414 /p;
                        location /p { proxy_pass http://127.0.0.1:PORT/x; }
                        location /x { return 200 "x"; }
                    }
                }
                """)
        try s.start()
        let r = try request(s.port, "GET / HTTP/1.0\r\nHost: .\r\n\r\n")
        #expect(r.status == 400)
        let long = try request(s.port, "GET /" + String(repeating: "a", count: 20000) + " HTTP/1.0\r\n\r\n")
        #expect(long.status == 414)
        #expect(try get(s.port, "/x").bodyText == "x")
    }

    /// Named locations and error pages that send the request back where it came from
    /// end in nginx's 500 after ten steps (never an endless recursion).
    @Test func cyclesThroughNamedLocationsAndErrorPages() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        recursive_error_pages on;
                        location /a { error_page 404 @x; return 404; }
                        location @x { error_page 404 @x; return 404; }
                        location /b { error_page 404 /b; return 404; }
                        location /d { try_files /nope @d; }
                        location @d { try_files /nope @d; }
                    }
                }
                """)
        try s.start()
        for path in ["/a", "/b", "/d"] { #expect(try get(s.port, path).status == 500) }
        #expect(
            s.read("logs/error.log").contains(
                "rewrite or internal redirection cycle while redirect to named location \"@x\""))
    }

    @Test func errorPageAfterRedirect() throws {
        let s = try makeServer()
        let kept = try get(s.port, "/first302")
        #expect(kept.status == 302)
        #expect(kept.header("Location") == "first")
        #expect(kept.bodyText == "text")
        let replaced = try get(s.port, "/first302again")
        #expect(replaced.status == 302)
        #expect(replaced.header("Location") == "http://example.com/")
        #expect(!replaced.rawHead.contains("Location: first"))
        #expect(try get(s.port, "/e404").status == 405)
    }

    @Test func rewriteEscapesAndUnescapes() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/cap/%25?a=b").bodyText == "uri:/cap/% args:c=/cap/%25&a=b")
        let r = try get(s.port, "/unesc?r=http%3A%2F%2Fexample.com%0D%0Asplit")
        #expect(r.header("Location") == "http://example.com%0D%0Asplit")
        let q = try get(s.port, "/unesc?r=http%3A%2F%2Fexample.com%2F%3Ffrom")
        #expect(q.header("Location") == "http://example.com/?from")
    }

    @Test func tryFilesDirectoriesAndAliases() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/tf-dir/").status == 301)
        #expect(try get(s.port, "/tf-alias/x.txt").bodyText == "tree x")
        #expect(try get(s.port, "/re-alias.txt").bodyText == "regex alias")
    }

    @Test func mapsAsNginx() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/maps?x").bodyText == "one none")
        #expect(try get(s.port, "/maps?y").bodyText == "two none")
        #expect(try get(s.port, "/maps?example.com.").bodyText == "later exact")
        #expect(try get(s.port, "/maps?a.example.com").bodyText == "later left")
        #expect(try get(s.port, "/maps?example.org").bodyText == "later right")
        #expect(try get(s.port, "/maps?dot.example.com").bodyText == "later dot")
        // A map's value is kept for the request (across the index redirect) unless volatile.
        #expect(try get(s.port, "/m/").bodyText == "/m/next")
        #expect(try get(s.port, "/v/").bodyText == "changed")
    }

    @Test func ifRangeUsesTheAddedLastModified() throws {
        let s = try makeServer()
        let r = try get(s.port, "/lm/a.txt", extra: "Range: bytes=0-1\r\nIf-Range: Mon, 28 Sep 1970 06:00:00 GMT\r\n")
        #expect(r.status == 206)
        #expect(r.bodyText == "01")
    }

    @Test func addHeaderReplacesETagAndExpiresFollowsTheUpstream() throws {
        let s = try makeServer()
        let r = try get(s.port, "/etag/a.txt")
        #expect(r.status == 200)
        #expect(r.header("ETag") == nil)
        let proxied = try get(s.port, "/expmod/a.txt")
        #expect(proxied.header("Expires") == "Mon, 28 Sep 1970 06:34:08 GMT")
    }

    @Test func charsetRecodingKeepsRanges() throws {
        let s = try makeServer()
        let whole = try get(s.port, "/recode/t.txt")
        #expect(whole.header("Content-Type") == "text/plain; charset=A")
        #expect(whole.bodyText == "Y000YYYY")
        #expect(try get(s.port, "/recode/text").bodyText == "YoY")
        let part = try get(s.port, "/recode/t.txt", extra: "Range: bytes=4-5\r\n")
        #expect(part.status == 206)
        #expect(part.bodyText == "YY")
        // A proxied answer in A, its charset overridden by B: recoded back.
        let proxied = try get(s.port, "/override/t.txt")
        #expect(proxied.header("Content-Type") == "text/plain; charset=B")
        #expect(proxied.bodyText == "X000XXXX")
        // UTF-8 to a single-byte charset (static), and back as a proxied body (chunked).
        let k = try get(s.port, "/k/t.txt")
        #expect(k.body == [0xC1, 0xC1, UInt8(ascii: "!")])
        #expect(k.header("Content-Length") == "3")
        let back = try get(s.port, "/to-utf/t.txt")
        #expect(back.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(back.header("Content-Length") == nil)
        #expect(back.bodyText == "аа!")
        // The upstream's X-Accel-Charset names the charset to send (and is not passed on).
        let accel = try get(s.port, "/accel")
        #expect(accel.header("Content-Type") == "application/octet-stream; charset=A")
        #expect(accel.header("X-Accel-Charset") == nil)
        #expect(accel.bodyText == "YY")
    }

    @Test func compressedHead() throws {
        let s = try makeServer()
        let r = try request(
            s.port, "HEAD /gz/a.txt HTTP/1.1\r\nHost: localhost\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
            headRequest: true)
        #expect(r.status == 200)
        #expect(r.header("Content-Encoding") == "gzip")
        #expect(r.header("Content-Length") == nil)
    }

    @Test func authDelayHoldsUnauthorized() throws {
        let s = try makeServer()
        let start = Date()
        let bad = try get(s.port, "/delay/", extra: "Authorization: Basic dTp4\r\n")
        #expect(bad.status == 401)
        #expect(Date().timeIntervalSince(start) >= 0.9)
    }

    @Test func expiresFromAVariable() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/exp/a.txt").header("Cache-Control") == "max-age=3600")
        #expect(try get(s.port, "/exp/a.html").header("Cache-Control") == nil)
    }

    @Test func setArgs() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/setargs?x=y").bodyText == "a=1&b=2 2")
    }

    @Test func autoindexLinksAreURIComponents() throws {
        let s = try makeServer()
        #expect(try get(s.port, "/auto/").bodyText.contains("href=\"a%3Ab\""))
    }
}
