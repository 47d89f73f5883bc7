// conf/examples/django-microcache.conf in front of the real gunicorn and the example
// Django project: anonymous pages are rendered once and then HIT, a logged-in user's
// requests bypass the cache, a POST and an answer with Set-Cookie are never stored, and
// the last copy is served (STALE) while gunicorn is down; and uwsgi_cache in front of
// uWSGI's native protocol.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct DjangoCacheTests {
    /// The example file with the backend's address, the test's port and prefix.
    func render(backend: Backend) throws -> String {
        let text = try String(
            contentsOf: repositoryRoot.appendingPathComponent("conf/examples/django-microcache.conf"), encoding: .utf8)
        return "daemon off;\n"
            + text.replacingOccurrences(of: "127.0.0.1:8000", with: backend.address)
            .replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:PORT")
            .replacingOccurrences(of: "include ../mime.types;", with: "include mime.types;")
            .replacingOccurrences(of: "pid logs/django-microcache.pid;", with: "pid logs/swiftginx.pid;")
            .replacingOccurrences(
                of: "alias conf/examples/django/static/;",
                with: "alias \(repositoryRoot.appendingPathComponent("conf/examples/django/static").path)/;")
    }

    @Test func microCachingWithGunicorn() throws {
        try Backends.require()
        let backend = try Backend.start(.gunicornTCP, name: "mc")
        defer { backend.stop() }
        let server = try TestServer(config: try render(backend: backend))
        try server.start()
        defer { server.stop() }
        let port = server.port

        let first = try get(port, "/headers/?page=1")
        #expect(first.status == 200)
        #expect(first.header("X-Cache") == "MISS")
        let second = try get(port, "/headers/?page=1")
        #expect(second.header("X-Cache") == "HIT")
        #expect(second.body == first.body)

        // A logged-in user (Django's session cookie) always reaches Django.
        let user = try get(port, "/headers/?page=1", extra: "Cookie: sessionid=abc\r\n")
        #expect(user.header("X-Cache") == "BYPASS")
        #expect(user.bodyText.contains("sessionid=abc"))

        // POST is not a cached method; an answer with Set-Cookie is not stored.
        let post = try request(
            port, "POST /headers/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab")
        #expect(post.status == 200)
        #expect(post.header("X-Cache") == nil)
        _ = try get(port, "/redirect/")
        #expect(try get(port, "/redirect/").header("X-Cache") == "MISS")

        // gunicorn goes away: the last copy keeps the page up.
        backend.kill()
        #expect(backend.waitUntilGone())
        usleep(2_100_000)
        let stale = try get(port, "/headers/?page=1")
        #expect(stale.status == 200)
        #expect(stale.header("X-Cache") == "STALE")
        #expect(stale.body == first.body)
    }

    @Test func uwsgiCacheWithUWSGI() throws {
        try Backends.require()
        let backend = try Backend.start(.uwsgiNative, name: "uc")
        defer { backend.stop() }
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    uwsgi_cache_path PREFIXucache levels=1:2 keys_zone=apps:1m;
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            include \(repositoryRoot.appendingPathComponent("conf/uwsgi_params").path);
                            uwsgi_pass \(backend.address);
                            uwsgi_cache apps;
                            uwsgi_cache_key $host$request_uri;
                            uwsgi_cache_valid 200 1m;
                            add_header X-Cache $upstream_cache_status;
                        }
                    }
                }
                """)
        try server.start()
        defer { server.stop() }
        let first = try get(server.port, "/headers/?u=1")
        #expect(first.status == 200)
        #expect(first.header("X-Cache") == "MISS")
        let second = try get(server.port, "/headers/?u=1")
        #expect(second.header("X-Cache") == "HIT")
        #expect(second.body == first.body)
        #expect(try get(server.port, "/headers/?u=2").header("X-Cache") == "MISS")
    }
}
