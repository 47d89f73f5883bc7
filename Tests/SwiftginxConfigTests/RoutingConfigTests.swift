// The routing and static directives as compiled: map (later variables, hostnames,
// volatile), charset_map tables and their errors, expires (with variables and nginx's
// messages), auth_delay, recursive_error_pages and alias prefixes.

import Foundation
import SwiftginxRouting
import Testing

@testable import SwiftginxConfig

@Suite struct RoutingConfigTests {
    func settings(_ config: RuntimeConfig, _ path: String) throws -> LocationSettings {
        try #require(config.listenGroups[0].defaultServer.locations.match(path)).location.settings
    }

    func value(_ v: ComplexValue?) -> String? {
        guard let v, v.segments.count == 1, case .literal(let b) = v.segments[0] else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    @Test func mapsUseLaterVariablesAndHostnames() throws {
        let config = try load(
            http(
                """
                map $args $a { default $b; }
                map $args $b { default x; }
                map $host $h { hostnames; volatile; example.com e; *.example.com l; www.example.* r; .dot.test d; }
                server { listen 8080; location / { return 200 $a; } }
                """))
        let h = try #require(config.maps["h"])
        #expect(h.volatile)
        #expect(try #require(config.maps["a"]).volatile == false)
        #expect(value(h.lookup(Array("EXAMPLE.com.".utf8))) == "e")
        #expect(value(h.lookup(Array("a.example.com".utf8))) == "l")
        #expect(value(h.lookup(Array("www.example.org".utf8))) == "r")
        #expect(value(h.lookup(Array("dot.test".utf8))) == "d")
        #expect(value(h.lookup(Array("a.dot.test".utf8))) == "d")
        #expect(h.lookup(Array("example.org".utf8)) == nil)
    }

    @Test func charsetMaps() throws {
        let config = try load(http("charset_map koi8-r B { C1 41; }\ncharset_map A utf-8 { C1 D0B0; }"))
        var out: [UInt8] = []
        try #require(config.charsetMaps.table(from: "KOI8-R", to: "b")).recode([0xC1, 0x61, 0xFF], into: &out)
        #expect(out == [0x41, 0x61, UInt8(ascii: "?")])
        out = []
        try #require(config.charsetMaps.table(from: "b", to: "koi8-r")).recode([0x41], into: &out)
        #expect(out == [0xC1])
        out = []
        let toUTF8 = try #require(config.charsetMaps.table(from: "A", to: "utf-8"))
        #expect(!toUTF8.keepsLength)
        toUTF8.recode([0xC1, 0x41], into: &out)
        #expect(out == [0xD0, 0xB0, 0x41])
        out = []
        try #require(config.charsetMaps.table(from: "utf-8", to: "A")).recode(Array("а!я".utf8), into: &out)
        #expect(out == [0xC1, UInt8(ascii: "!")] + Array("&#1103;".utf8))
        // A body recoded in pieces: a character split between them waits for the rest.
        let fromUTF8 = try #require(config.charsetMaps.table(from: "utf-8", to: "A"))
        var carry: [UInt8] = []
        out = []
        fromUTF8.recode([0x41, 0xD0], into: &out, carry: &carry, final: false)
        #expect(out == [0x41])
        #expect(carry == [0xD0])
        fromUTF8.recode([0xB0], into: &out, carry: &carry, final: false)
        #expect(out == [0x41, 0xC1])
        #expect(carry.isEmpty)
        // Any bytes in any pieces: no trap, and the carry never holds a whole character.
        var g = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            carry = []
            out = []
            for _ in 0..<4 {
                let piece = (0..<Int.random(in: 0..<9, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
                fromUTF8.recode(piece, into: &out, carry: &carry, final: false)
                #expect(carry.count < 4)
            }
            fromUTF8.recode([], into: &out, carry: &carry, final: true)
            #expect(carry.isEmpty)
        }
    }

    @Test func charsetMapErrors() throws {
        #expect(
            try loadError(http("charset_map A A { 41 42; }"))
                == "\"charset_map\" between the same charsets \"A\" and \"A\" in nginx.conf:3")
        #expect(
            try loadError(http("charset_map utf-8 A { 41 42; }"))
                == "\"charset_map\" with \"utf-8\" charset should be given in the second column in nginx.conf:3")
        #expect(try loadError(http("charset_map A B {\n 4G 42; }")) == "invalid value \"4G\" in nginx.conf:4")
        #expect(
            try loadError(http("charset_map A B { 41 42; }\ncharset_map B A { 41 42; }"))
                == "duplicate \"charset_map\" between \"B\" and \"A\" in nginx.conf:4")
    }

    @Test func expiresValues() throws {
        #expect(Expires.parse("1h", modified: false) == .success(.access(3600)))
        #expect(Expires.parse("-1m", modified: true) == .success(.modified(-60)))
        #expect(Expires.parse("@1h", modified: false) == .success(.daily(3600)))
        #expect(Expires.parse("epoch", modified: false) == .success(.epoch))
        if case .failure(let e) = Expires.parse("epoch", modified: true) { #expect(e.message == "invalid value") }
        let config = try load(
            http("server { listen 8080; location / { expires modified $arg_e; } location /x { expires 2d; } }"))
        guard case .variable(let v, let modified) = try settings(config, "/").expires else {
            Issue.record("not a variable")
            return
        }
        #expect(v.source == "$arg_e")
        #expect(modified)
        #expect(try settings(config, "/x").expires == .access(172_800))
        #expect(
            try loadError(http("server { listen 8080; expires @25h; }"))
                == "\"expires\" directive daily time value must be less than 24 hours in nginx.conf:3")
    }

    @Test func authDelayErrorPagesAndAliasPrefix() throws {
        let config = try load(
            http(
                """
                auth_delay 2s;
                server { listen 8080; recursive_error_pages on;
                    location /a/ { alias /srv/; location ~ x { } }
                    location ~ /r { alias /srv/r; }
                }
                """))
        let s = try settings(config, "/a/")
        #expect(s.authDelay == 2000)
        #expect(s.recursiveErrorPages)
        #expect(s.aliasPrefixLength == 3)
        #expect(try settings(config, "/a/x").aliasPrefixLength == 3)
        #expect(try settings(config, "/r").aliasPrefixLength == nil)
    }
}
