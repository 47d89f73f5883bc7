// The http_v2 module's directives: `http2` per server (inherited from http),
// the limits with nginx's defaults and checks, `http2_chunk_size` per location, and the
// obsolete directives accepted with nginx's warnings.

import Testing

@testable import SwiftginxConfig

@Suite struct HTTP2ConfigTests {
    let conf = "/srv/conf/nginx.conf"

    func load(_ http: String) throws(ConfigError) -> RuntimeConfig {
        var env = MemoryEnvironment()
        env.files[conf] = "events {}\nhttp {\n\(http)\n}\n"
        return try ConfigLoader.load(path: conf, prefix: "/srv/", environment: env)
    }

    @Test func defaultsAndSettings() throws {
        let c = try load(
            """
            http2_body_preread_size 128k;
            server { listen 127.0.0.1:8080; }
            server {
                listen 127.0.0.1:8081;
                http2 on;
                http2_max_concurrent_streams 10;
                location / { http2_chunk_size 16k; }
                location /x { }
            }
            """)
        let first = c.listenGroups[0].defaultServer.settings.http2
        #expect(!first.enabled)
        #expect(first.maxConcurrentStreams == 128)
        #expect(first.bodyPrereadSize == 128 * 1024)
        let second = c.listenGroups[1].defaultServer
        #expect(second.settings.http2.enabled)
        #expect(second.settings.http2.maxConcurrentStreams == 10)
        #expect(try #require(second.locations.match("/")).location.settings.http2ChunkSize == 16384)
        #expect(try #require(second.locations.match("/x")).location.settings.http2ChunkSize == 8192)
    }

    @Test func listenHTTP2StillWorksWithTheWarning() throws {
        let c = try load("server { listen 127.0.0.1:8080 http2; }")
        #expect(c.listenGroups[0].options.http2)
        #expect(c.warnings.contains { $0.contains("the \"listen ... http2\" directive is deprecated") })
    }

    @Test func obsoleteDirectivesWarn() throws {
        let c = try load(
            """
            http2_idle_timeout 3m; http2_max_requests 5; http2_max_field_size 4k; http2_push_preload on;
            server { listen 127.0.0.1:8080; http2_push /x; }
            """)
        #expect(
            c.warnings.contains {
                $0.contains(
                    "the \"http2_idle_timeout\" directive is obsolete, use the \"keepalive_timeout\" directive instead")
            })
        #expect(
            c.warnings.contains {
                $0.contains("\"http2_max_requests\" directive is obsolete, use the \"keepalive_requests\"")
            })
        #expect(c.warnings.contains { $0.contains("the \"http2_push\" directive is obsolete, ignored") })
        #expect(DirectiveTable.acceptedWithoutEffect.contains("http2_streams_index_size"))
    }

    @Test func invalidValuesAreErrors() {
        #expect(throws: ConfigError.self) { try load("http2 maybe;") }
        #expect(throws: ConfigError.self) { try load("http2_chunk_size 0;") }
        #expect(throws: ConfigError.self) { try load("http2_recv_buffer_size 1k;") }
        #expect(throws: ConfigError.self) { try load("server { location / { http2 on; } }") }
    }
}
