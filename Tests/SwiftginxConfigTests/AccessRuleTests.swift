// allow/deny parameters as nginx reads them, and which client addresses each covers.

import Testing

@testable import SwiftginxConfig

@Suite struct AccessRuleTests {
    func rule(_ text: String) throws -> AccessRule {
        var warning: String? = nil
        return try #require(AccessRule.parse(text, allow: true, warning: &warning), "\(text) did not parse")
    }

    func covers(_ r: AccessRule, _ bytes: [UInt8]?) -> Bool {
        guard let bytes else { return r.covers(nil) }
        return bytes.withUnsafeBytes { r.covers($0) }
    }

    static func mapped(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] {
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a, b, c, d]
    }

    @Test func ipv4AddressesAndNetworks() throws {
        let one = try rule("192.168.1.7")
        #expect(covers(one, [192, 168, 1, 7]))
        #expect(!covers(one, [192, 168, 1, 8]))
        let net = try rule("10.0.0.0/8")
        #expect(covers(net, [10, 200, 3, 4]))
        #expect(!covers(net, [11, 0, 0, 1]))
        // An IPv4-mapped IPv6 client is checked against IPv4 rules, as nginx does.
        #expect(covers(net, Self.mapped(10, 1, 2, 3)))
        #expect(!covers(net, nil))
        let everything = try rule("0.0.0.0/0")
        #expect(covers(everything, [8, 8, 8, 8]))
        #expect(!covers(everything, [UInt8](repeating: 0x20, count: 16)))
    }

    @Test func ipv6AddressesAndNetworks() throws {
        let loopback = try rule("::1")
        #expect(covers(loopback, [UInt8](repeating: 0, count: 15) + [1]))
        #expect(!covers(loopback, [127, 0, 0, 1]))
        let net = try rule("2001:db8::/32")
        #expect(covers(net, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 7, count: 12)))
        #expect(!covers(net, [0x20, 0x01, 0x0d, 0xb9] + [UInt8](repeating: 0, count: 12)))
        let wide = try rule("2001:db8:1:2:3::/72")
        #expect(covers(wide, [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 0, 0, 0, 0, 9]))
        #expect(!covers(wide, [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0x80, 3, 0, 0, 0, 0, 0, 9]))
    }

    @Test func allUnixAndErrors() throws {
        #expect(covers(try rule("all"), [1, 2, 3, 4]))
        #expect(covers(try rule("all"), nil))
        #expect(covers(try rule("unix:"), nil))
        #expect(!covers(try rule("unix:"), [127, 0, 0, 1]))
        var warning: String? = nil
        for bad in ["300.1.1.1", "10.0.0.0/33", "::1/129", "localhost", "10.0.0.0/x", ""] {
            #expect(AccessRule.parse(bad, allow: false, warning: &warning) == nil, "\(bad) parsed")
        }
        _ = AccessRule.parse("10.1.2.3/8", allow: false, warning: &warning)
        #expect(warning == "low address bits of 10.1.2.3/8 are meaningless")
        warning = nil
        _ = AccessRule.parse("10.0.0.0/8", allow: false, warning: &warning)
        #expect(warning == nil)
    }
}
