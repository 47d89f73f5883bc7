// Sizes, offsets, times and numbers parsed as nginx's ngx_parse_size / ngx_parse_offset /
// ngx_parse_time / ngx_atoi parse them (cases checked against nginx 1.22).

import Testing

@testable import SwiftginxConfig

@Suite struct ConfigValuesTests {
    @Test func sizes() {
        #expect(ConfigValues.size("10") == 10)
        #expect(ConfigValues.size("0") == 0)
        #expect(ConfigValues.size("1k") == 1024)
        #expect(ConfigValues.size("1K") == 1024)
        #expect(ConfigValues.size("8m") == 8 << 20)
        #expect(ConfigValues.size("8M") == 8 << 20)
        #expect(ConfigValues.size("1g") == nil)
        #expect(ConfigValues.size("1g", allowGiga: true) == 1 << 30)
        #expect(ConfigValues.size("1G", allowGiga: true) == 1 << 30)
        for bad in ["", "k", "1.5k", "-1", "1kk", "1 k", "1t", "x"] {
            #expect(ConfigValues.size(bad, allowGiga: true) == nil, "\(bad)")
        }
        #expect(ConfigValues.size("9223372036854775807") == Int.max)
        #expect(ConfigValues.size("9223372036854775807k") == nil)
    }

    @Test func millisecondTimes() {
        let table: [(String, Int?)] = [
            ("0", 0), ("30", 30_000), ("30s", 30_000), ("500ms", 500), ("1s500ms", 1500), ("1m", 60_000),
            ("1h30m", 5_400_000), ("1h 30m", 5_400_000), ("1d", 86_400_000), ("1w", 604_800_000),
            ("1M", nil), ("1y", nil), ("1h1h", nil), ("30m1h", nil), ("1.5s", nil), ("1S", nil), ("x", nil),
            ("", nil), ("s", nil), ("1ms1s", nil),
        ]
        for (text, expected) in table {
            #expect(ConfigValues.time(text, isSeconds: false) == expected, "\(text)")
        }
    }

    @Test func secondTimes() {
        let table: [(String, Int?)] = [
            ("30", 30), ("1h", 3600), ("1y", 31_536_000), ("1M", 2_592_000), ("1y1M1w1d1h1m1s", 34_822_861),
            ("500ms", nil), ("1s1M", nil),
        ]
        for (text, expected) in table {
            #expect(ConfigValues.time(text, isSeconds: true) == expected, "\(text)")
        }
    }

    @Test func numbers() {
        #expect(ConfigValues.number("0") == 0)
        #expect(ConfigValues.number("1024") == 1024)
        #expect(ConfigValues.number("-1") == nil)
        #expect(ConfigValues.number("+1") == nil)
        #expect(ConfigValues.number("") == nil)
        #expect(ConfigValues.number("99999999999999999999") == nil)
    }

    @Test func appliedToDirectives() throws {
        let config = try load(
            http(
                """
                client_max_body_size 2G; client_body_buffer_size 64k; send_timeout 1m30s;
                keepalive_timeout 30s 25; client_header_timeout 500ms; lingering_time 1h;
                server { listen 8080; location / {} }
                """))
        let server = config.listenGroups[0].defaultServer
        let s = try #require(server.locations.match("/")).location.settings
        #expect(s.clientMaxBodySize == 2 << 30)
        #expect(s.clientBodyBufferSize == 65536)
        #expect(s.sendTimeout == 90_000)
        #expect(s.keepaliveTimeout == 30_000)
        #expect(s.keepaliveHeaderTimeout == 25)
        #expect(s.lingeringTime == 3_600_000)
        #expect(server.settings.clientHeaderTimeout == 500)
        #expect(server.settings.keepaliveTimeout == 30_000)
    }
}
