// `proxy_http_version`: 1.0 (nginx's default), 1.1, and 2 (HTTP/2 to the upstream, which
// keeps HTTP/1.1's request semantics), inherited like every proxy_* setting; other
// values are nginx's "invalid value" error; `proxy_pass_trailers` (off by default).

import SwiftginxConfig
import Testing

@Suite struct ProxyHTTPVersionConfigTests {
    func location(_ c: RuntimeConfig, _ uri: String) -> Location? {
        let server = c.listenGroups[0].servers[0]
        return uri.utf8.withContiguousStorageIfAvailable { server.locations.match(UnsafeRawBufferPointer($0)) }??
            .location
    }

    @Test func versionsAndInheritance() throws {
        let c = try load(
            http(
                """
                server {
                    listen 127.0.0.1:8080;
                    proxy_http_version 2;
                    proxy_pass_trailers on;
                    location /a/ { proxy_pass http://127.0.0.1:9000; }
                    location /b/ { proxy_pass http://127.0.0.1:9000; proxy_http_version 1.1; }
                    location /c/ { proxy_pass http://127.0.0.1:9000; proxy_http_version 1.0; }
                }
                """))
        let a = try #require(location(c, "/a/x")).settings.proxy
        #expect(a.http2 && a.http11 && a.passTrailers)
        let b = try #require(location(c, "/b/x")).settings.proxy
        #expect(!b.http2 && b.http11)
        let d = try #require(location(c, "/c/x")).settings.proxy
        #expect(!d.http2 && !d.http11 && d.passTrailers)
        #expect(!UpstreamSettings().passTrailers)
    }

    @Test func otherValuesAreRefused() throws {
        let e = try loadError(http("server { listen 127.0.0.1:8080; proxy_http_version 3; }"))
        #expect(e?.hasPrefix("invalid value \"3\"") == true, "\(e ?? "accepted")")
    }
}
