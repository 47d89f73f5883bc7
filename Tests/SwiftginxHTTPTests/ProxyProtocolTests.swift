// The PROXY protocol header parser: version 1 lines (TCP4, TCP6, UNKNOWN, broken
// ones with nginx's log text), version 2 binary headers (IPv4, IPv6, TLVs, LOCAL,
// unsupported families, a bad version, too large), every header split at every
// offset (incomplete until whole), address formatting and TLV lookup.

import Testing

@testable import SwiftginxHTTP

@Suite struct ProxyProtocolTests {
    func parse(_ bytes: [UInt8]) -> ProxyProtocol.ParseResult {
        bytes.withUnsafeBytes { ProxyProtocol.parse($0) }
    }

    func parse(_ text: String) -> ProxyProtocol.ParseResult { parse(Array(text.utf8)) }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    func v2(_ command: UInt8, _ family: UInt8, _ body: [UInt8]) -> [UInt8] {
        Self.signature + [command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    @Test func versionOne() {
        let line = "PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n"
        guard case .complete(let n, let h?) = parse(line + "GET / HTTP/1.0\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(n == line.utf8.count)
        #expect(text(h.sourceAddress) == "192.0.2.1" && h.sourcePort == 123)
        #expect(text(h.destinationAddress) == "192.0.2.2" && h.destinationPort == 5678)
        guard case .complete(_, let h6?) = parse("PROXY TCP6 2001:Db8::1 2001:Db8::2 1 65535\r\n") else {
            Issue.record("not parsed")
            return
        }
        #expect(text(h6.sourceAddress) == "2001:Db8::1" && h6.destinationPort == 65535)
        #expect(parse("PROXY UNKNOWN\r\nGET") == .complete(length: 15, header: nil))
        #expect(parse("PROXY UNKNOWN 1 2 3 4 5 6\r\n") == .complete(length: 27, header: nil))
    }

    @Test func brokenVersionOneHeaders() {
        let broken = [
            "GET / HTTP/1.0\r\n", "PROXY TCP5 1.1.1.1 2.2.2.2 1 2\r\n", "PROXY TCP4 1.1.1.1 2.2.2.2 1 70000\r\n",
            "PROXY TCP4 1.1.1.x 2.2.2.2 1 2\r\n", "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\n", "PROXY TCP4 1.1.1.1\r\n",
            "PROXY TCP4 1.1.1.1 2.2.2.2  2\r\n",
        ]
        for b in broken {
            guard case .broken(let message) = parse(b) else {
                Issue.record("accepted: \(b)")
                continue
            }
            #expect(message.hasPrefix("broken header: \""), "\(b)")
        }
        #expect(parse("GET / HTTP/1.0\r\n") == .broken(message: "broken header: \"GET / HTTP/1.0\""))
        // No line end within nginx's 107 bytes.
        #expect(parse("PROXY TCP4 " + String(repeating: "1", count: 120)) != .incomplete)
    }

    @Test func versionTwo() {
        let v4 = v2(0x21, 0x11, [192, 0, 2, 1, 192, 0, 2, 2, 0, 123, 0x16, 0x2E] + [0x01, 0, 2, 0x68, 0x32])
        guard case .complete(let n, let h?) = parse(v4 + Array("GET".utf8)) else {
            Issue.record("not parsed")
            return
        }
        #expect(n == v4.count)
        #expect(text(h.sourceAddress) == "192.0.2.1" && h.sourcePort == 123)
        #expect(text(h.destinationAddress) == "192.0.2.2" && h.destinationPort == 5678)
        #expect(h.tlvs == [0x01, 0, 2, 0x68, 0x32])
        #expect(ProxyProtocol.value(ofType: 1, in: h.tlvs[...]).map(Array.init) == [0x68, 0x32])
        #expect(ProxyProtocol.value(ofType: 2, in: h.tlvs[...]) == nil)

        var six: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
        six += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]
        six += [0, 1, 0, 2]
        guard case .complete(_, let h6?) = parse(v2(0x21, 0x21, six)) else {
            Issue.record("not parsed")
            return
        }
        #expect(text(h6.sourceAddress) == "2001:db8::1" && text(h6.destinationAddress) == "2001:db8::2")
        // LOCAL, unspecified family, datagram: skipped whole, no addresses.
        #expect(parse(v2(0x20, 0x11, [1, 2, 3, 4])) == .complete(length: 20, header: nil))
        #expect(parse(v2(0x21, 0x01, [])) == .complete(length: 16, header: nil))
        #expect(parse(v2(0x21, 0x12, [1, 2, 3, 4])) == .complete(length: 20, header: nil))
        #expect(parse(v2(0x31, 0x11, [])) == .broken(message: "unknown PROXY protocol version: 3"))
        #expect(parse(Self.signature + [0x21, 0x11, 0x10, 0x00]) == .broken(message: "header is too large"))
        if case .broken = parse(v2(0x21, 0x11, [1, 2, 3])) {} else { Issue.record("short addresses accepted") }
    }

    @Test func everySplitIsIncompleteUntilWhole() {
        let headers: [[UInt8]] = [
            Array("PROXY TCP4 192.0.2.1 192.0.2.2 123 5678\r\n".utf8), Array("PROXY UNKNOWN\r\n".utf8),
            v2(0x21, 0x11, [192, 0, 2, 1, 192, 0, 2, 2, 0, 123, 0x16, 0x2E]),
        ]
        for h in headers {
            for cut in 1..<h.count {
                #expect(parse(Array(h[0..<cut])) == .incomplete, "cut at \(cut)")
            }
            if case .complete(let n, _) = parse(h) { #expect(n == h.count) } else { Issue.record("whole not parsed") }
        }
    }

    @Test func randomInputNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        let seeds: [[UInt8]] = [
            Array("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n".utf8), Self.signature + [0x21, 0x11, 0, 12],
        ]
        for i in 0..<3000 {
            var b = seeds[i % 2]
            for _ in 0..<Int.random(in: 0...8, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                b[at] = UInt8.random(in: 0...255, using: &rng)
            }
            b += (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if case .complete(let n, _) = parse(b) { #expect(n <= b.count) }
        }
    }

    @Test func addressFormatting() {
        func format(_ raw: [UInt8]) -> String {
            var out: [UInt8] = []
            raw.withUnsafeBytes { ProxyProtocol.appendAddress($0, to: &out) }
            return text(out)
        }
        #expect(format([10, 0, 255, 1]) == "10.0.255.1")
        #expect(format([UInt8](repeating: 0, count: 15) + [1]) == "::1")
        #expect(format([UInt8](repeating: 0, count: 16)) == "::")
        #expect(format([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) == "2001:db8:0:1::1")
        #expect(format([0xfe, 0x80] + [UInt8](repeating: 0, count: 12) + [0xab, 0xcd]) == "fe80::abcd")
        #expect(format([0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0, 0, 4]) == "1:0:2::3:0:4")
    }
}
