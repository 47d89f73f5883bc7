// The SSI module's directives: `ssi` (also in `if`), `ssi_types` (text/html always,
// `*` for all), `ssi_silent_errors`, `ssi_last_modified`, `ssi_value_length`, inherited
// http → server → location; `ssi_min_file_chunk` accepted without effect.

import Testing

@testable import SwiftginxConfig

@Suite struct SSIConfigTests {
    let conf = "/srv/conf/nginx.conf"

    func load(_ http: String) throws(ConfigError) -> RuntimeConfig {
        var env = MemoryEnvironment()
        env.files[conf] = "events {}\nhttp {\n\(http)\n}\n"
        return try ConfigLoader.load(path: conf, prefix: "/srv/", environment: env)
    }

    @Test func settingsAndInheritance() throws {
        let c = try load(
            """
            ssi_types text/plain;
            ssi_value_length 1024;
            server {
                listen 127.0.0.1:8080;
                location / { ssi on; ssi_silent_errors on; ssi_min_file_chunk 2k; }
                location /all { ssi on; ssi_types *; ssi_last_modified on; }
                location /off { }
            }
            """)
        let s = c.listenGroups[0].defaultServer
        let root = try #require(s.locations.match("/")).location.settings.ssi
        #expect(root.enabled && root.silentErrors && !root.lastModified)
        #expect(root.valueLength == 1024)
        #expect(root.processes(type: "text/html; charset=utf-8"))
        #expect(root.processes(type: "text/plain"))
        #expect(!root.processes(type: "application/json"))
        let all = try #require(s.locations.match("/all")).location.settings.ssi
        #expect(all.lastModified && all.processes(type: "image/png"))
        let off = try #require(s.locations.match("/off")).location.settings.ssi
        #expect(!off.enabled && off.valueLength == 1024)
        #expect(DirectiveTable.acceptedWithoutEffect.contains("ssi_min_file_chunk"))
    }

    @Test func badValuesAreRefused() {
        #expect(throws: ConfigError.self) { try load("server { listen 127.0.0.1:8080; ssi maybe; }") }
        #expect(throws: ConfigError.self) { try load("server { listen 127.0.0.1:8080; ssi_value_length x; }") }
    }
}
