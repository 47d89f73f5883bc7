// `geo` blocks read from configuration text and looked up as nginx would: networks
// (the longest prefix wins, IPv4 and IPv6), ranges (inserted, split, deleted), proxies
// with X-Forwarded-For, unix clients, and nginx's errors and warnings.

import Testing

@testable import SwiftginxConfig

@Suite struct GeoBlockTests {
    let conf = "/srv/conf/nginx.conf"

    func load(_ http: String, files: [String: String] = [:]) throws(ConfigError) -> RuntimeConfig {
        var env = MemoryEnvironment()
        env.files[conf] = "events {}\nhttp {\n\(http)\n}\n"
        for (name, text) in files { env.files["/srv/conf/" + name] = text }
        return try ConfigLoader.load(path: conf, prefix: "/srv/", environment: env)
    }

    func geo(_ block: String, files: [String: String] = [:]) throws -> GeoBlock {
        try #require(try load("geo $g {\n\(block)\n}", files: files).geos["g"])
    }

    func error(_ http: String) -> String? {
        do {
            _ = try load(http)
            return nil
        } catch {
            return error.description
        }
    }

    func value(_ g: GeoBlock, _ address: String) -> String {
        let a = Array(address.utf8).withUnsafeBytes { GeoAddress.parse($0) }
        return String(decoding: g.lookup(a), as: UTF8.self)
    }

    @Test func longestPrefixWins() throws {
        let g = try geo(
            """
            default       world;
            10.0.0.0/8    ten;
            10.1.0.0/16   ten-one;
            10.1.2.3      host;
            192.0.2.0/24  test;
            """)
        #expect(value(g, "10.9.9.9") == "ten")
        #expect(value(g, "10.1.9.9") == "ten-one")
        #expect(value(g, "10.1.2.3") == "host")
        #expect(value(g, "10.1.2.4") == "ten-one")
        #expect(value(g, "192.0.2.255") == "test")
        #expect(value(g, "8.8.8.8") == "world")
        #expect(value(g, "255.255.255.255") == "world")
        // Not an address: looked up as 255.255.255.255.
        #expect(value(g, "nonsense") == "world")
        #expect(value(g, "2001:db8::1") == "world")
        #expect(value(g, "::ffff:10.1.2.3") == "host")
    }

    @Test func noDefaultIsEmpty() throws {
        let g = try geo("127.0.0.0/8 loopback;")
        #expect(value(g, "127.0.0.1") == "loopback")
        #expect(value(g, "128.0.0.1") == "")
    }

    @Test func ipv6Networks() throws {
        let g = try geo(
            """
            ::1/128         loopback;
            2001:0db8::/32  test;
            2001:db8:1::/48 deeper;
            ::/0            world;
            delete          ::1/128;
            """)
        #expect(value(g, "::1") == "world")
        #expect(value(g, "2001:db8::5") == "test")
        #expect(value(g, "2001:db8:1:ffff::5") == "deeper")
        #expect(value(g, "2001:db9::") == "world")
        // IPv4 addresses use the IPv4 networks, where none matches.
        #expect(value(g, "127.0.0.1") == "")
    }

    @Test func deleteAndUnixClients() throws {
        let g = try geo(
            """
            127.0.0.0/8      loopback;
            0.0.0.0/0        world;
            255.255.255.255  none;
            delete           127.0.0.0/8;
            """)
        #expect(value(g, "127.0.0.1") == "world")
        #expect(String(decoding: g.lookup(GeoAddress(raw: nil)), as: UTF8.self) == "none")
    }

    @Test func rangesInsertSplitAndDelete() throws {
        let g = try geo(
            """
            ranges;
            default                default;
            127.0.0.0-127.0.0.255  test;
            127.0.0.1-127.0.0.2    test2;
            127.0.0.1-127.0.0.1    loopback;
            10.10.3.0-10.11.2.255  foo;
            10.12.3.0-10.13.2.255  foo2;
            delete                 10.10.3.0-10.11.2.255;
            """)
        #expect(value(g, "127.0.0.0") == "test")
        #expect(value(g, "127.0.0.1") == "loopback")
        #expect(value(g, "127.0.0.2") == "test2")
        #expect(value(g, "127.0.0.3") == "test")
        #expect(value(g, "127.0.1.0") == "default")
        #expect(value(g, "10.11.2.1") == "default")
        #expect(value(g, "10.13.2.1") == "foo2")
        #expect(value(g, "10.12.3.0") == "foo2")
        #expect(value(g, "10.12.2.255") == "default")
        #expect(value(g, "2001:db8::1") == "default")
        #expect(value(g, "::ffff:127.0.0.1") == "loopback")
    }

    @Test func rangesFromAnIncludedFileAndTheWholeSpace() throws {
        let g = try geo(
            """
            ranges;
            include  r.conf;
            default  none;
            """, files: ["r.conf": "0.0.0.0-255.255.255.254 test;"])
        #expect(value(g, "0.0.0.0") == "test")
        #expect(value(g, "200.1.1.1") == "test")
        #expect(String(decoding: g.lookup(GeoAddress(raw: nil)), as: UTF8.self) == "none")
    }

    func forwarded(_ g: GeoBlock, client: String, _ headers: [String]) -> String {
        var address = Array(client.utf8).withUnsafeBytes { GeoAddress.parse($0) }
        // Copies that stay valid for the walk (the closure hands out pointers to them).
        let values = headers.map { text -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: text.utf8.count, alignment: 1)
            p.copyBytes(from: Array(text.utf8))
            return p
        }
        defer { values.forEach { $0.deallocate() } }
        g.forwarded(&address) { i in i < values.count ? UnsafeRawBufferPointer(values[values.count - 1 - i]) : nil }
        return String(decoding: g.lookup(address), as: UTF8.self)
    }

    @Test func proxiesTakeTheAddressFromXForwardedFor() throws {
        let block = """
            default       default;
            proxy         127.0.0.1;
            proxy         10.0.0.0/8;
            127.0.0.0/8   loopback;
            192.0.2.0/24  test;
            """
        let g = try geo(block)
        #expect(forwarded(g, client: "127.0.0.1", ["192.0.2.1"]) == "test")
        #expect(forwarded(g, client: "127.0.0.1", ["10.0.0.1, 192.0.2.1"]) == "test")
        #expect(forwarded(g, client: "127.0.0.1", ["192.0.2.1, 127.0.0.1"]) == "loopback")
        #expect(forwarded(g, client: "127.0.0.1", ["192.0.2.1:8080"]) == "test")
        #expect(forwarded(g, client: "127.0.0.1", ["junk"]) == "loopback")
        // Not a proxy: the header is ignored.
        #expect(forwarded(g, client: "192.0.2.9", ["127.0.0.1"]) == "test")
        let r = try geo("proxy_recursive;\n" + block)
        #expect(forwarded(r, client: "127.0.0.1", ["192.0.2.1, 127.0.0.1"]) == "test")
        #expect(forwarded(r, client: "127.0.0.1", ["192.0.2.1, 10.1.1.1, 127.0.0.1"]) == "test")
        #expect(forwarded(r, client: "127.0.0.1", ["192.0.2.1", "10.1.1.1"]) == "test")
        #expect(forwarded(r, client: "127.0.0.1", ["[2001:db8::1]:80, 127.0.0.1"]) == "default")
    }

    @Test func volatileAndSource() throws {
        let config = try load("geo $arg_ip $g { volatile; 192.0.2.0/24 test; }")
        let g = try #require(config.geos["g"])
        #expect(g.volatile)
        #expect(g.source != nil)
    }

    @Test func nginxMessages() {
        #expect(error("geo $g { 127.0.0.0/8 a; ranges; }")?.contains(#""ranges" directive must be the first"#) == true)
        #expect(error("geo $g { 10.0.0.0/33 a; }")?.contains(#"invalid network "10.0.0.0/33""#) == true)
        #expect(
            error("geo $g { ranges; 10.0.0.5-10.0.0.1 a; }")?.contains(#"invalid range "10.0.0.5-10.0.0.1""#) == true)
        #expect(error("geo $g { ranges; 10.0.0.1 a; }")?.contains(#"invalid range "10.0.0.1""#) == true)
        #expect(error("geo $g { a b c; }")?.contains("invalid number of the geo parameters") == true)
        #expect(error("geo g { }")?.contains(#"invalid variable name "g""#) == true)
        #expect(error("geo $a g { }")?.contains(#"invalid variable name "g""#) == true)
        #expect(
            error("geo $g { ranges; 10.0.0.0-10.0.0.9 a; 10.0.0.5-10.0.0.20 b; }")?
                .contains(#"range "10.0.0.5-10.0.0.20" overlaps "10.0.0.0-10.0.0.9""#) == true)
        #expect(error("geo $g { default a; }\nserver { listen 80; return 200 $g; }") == nil)
    }

    @Test func certificatesMayBeNamedByGeoVariables() {
        let server = "server { listen 443 ssl; ssl_certificate_key k.key; ssl_certificate "
        #expect(error("geo $c { default a; }\n" + server + "$c.crt; }") == nil)
        #expect(error(server + "$c.crt; }\ngeo $c { default a; }") == nil)
        // Other variables are still refused (only the handshake's name and address are known).
        #expect(error("map $host $c { default a; }\n" + server + "$c.crt; }") != nil)
        #expect(error(server + "$host.crt; }")?.contains("only $ssl_server_name can be used") == true)
    }

    @Test func warnings() throws {
        let config = try load(
            """
            geo $g { 10.0.0.1/8 a; 10.0.0.0/8 b; delete 11.0.0.0/8; }
            geo $r { ranges; default a; default b; 1.0.0.0-1.0.0.9 a; 1.0.0.0-1.0.0.9 b; delete 2.0.0.0-2.0.0.1; }
            """)
        let all = config.warnings.joined(separator: "\n")
        #expect(all.contains("low address bits of 10.0.0.1/8 are meaningless"))
        #expect(all.contains(#"duplicate network "10.0.0.0/8", value: "b", old value: "a""#))
        #expect(all.contains(#"no network "11.0.0.0/8" to delete"#))
        #expect(all.contains(#"duplicate default geo range value: "b", old value: "a""#))
        #expect(all.contains(#"duplicate range "1.0.0.0-1.0.0.9", value: "b", old value: "a""#))
        #expect(all.contains(#"no address range "2.0.0.0-2.0.0.1" to delete"#))
    }
}
