// Unit tests of UwsgiPacket: exact bytes of the header and variables, and the 16-bit limits.

import Testing

@testable import SwiftginxHTTP

@Suite struct UwsgiPacketTests {
    func param(_ k: String, _ v: String) -> (key: [UInt8], value: [UInt8]) {
        (Array(k.utf8), Array(v.utf8))
    }

    @Test func exactBytes() {
        var out: [UInt8] = []
        let ok = UwsgiPacket.append(
            params: [param("REQUEST_METHOD", "GET"), param("PATH_INFO", "/")], modifier1: 0, modifier2: 0, to: &out)
        #expect(ok)
        // datasize = (2 + 14 + 2 + 3) + (2 + 9 + 2 + 1) = 35
        let expected: [UInt8] =
            [0x00, 0x23, 0x00, 0x00]
            + [0x0E, 0x00] + Array("REQUEST_METHOD".utf8) + [0x03, 0x00] + Array("GET".utf8)
            + [0x09, 0x00] + Array("PATH_INFO".utf8) + [0x01, 0x00] + Array("/".utf8)
        #expect(out == expected)
        #expect(UwsgiPacket.varsSize([param("REQUEST_METHOD", "GET"), param("PATH_INFO", "/")]) == 35)
    }

    @Test func modifiersSizesAndAppending() {
        var out: [UInt8] = [0xAA]
        let value = [UInt8](repeating: 0x76, count: 300)
        #expect(UwsgiPacket.append(params: [(Array("Q".utf8), value)], modifier1: 5, modifier2: 9, to: &out))
        // 2 + 1 + 2 + 300 = 305 = 0x0131, little-endian
        #expect(Array(out[0..<8]) == [0xAA, 0x05, 0x31, 0x01, 0x09, 0x01, 0x00, 0x51])
        #expect(Array(out[8..<10]) == [0x2C, 0x01])
        #expect(out.count == 1 + 4 + 305)
        // empty keys and values, repeated keys in order, no params at all
        var empty: [UInt8] = []
        #expect(UwsgiPacket.append(params: [], modifier1: 0, modifier2: 0, to: &empty))
        #expect(empty == [0, 0, 0, 0])
        var rep: [UInt8] = []
        #expect(
            UwsgiPacket.append(
                params: [param("HTTP_X", "1"), param("HTTP_X", "2"), param("", "")], modifier1: 0, modifier2: 0,
                to: &rep))
        #expect(
            rep == [0, 26, 0, 0] + [6, 0] + Array("HTTP_X".utf8) + [1, 0, 0x31] + [6, 0] + Array("HTTP_X".utf8)
                + [1, 0, 0x32] + [0, 0, 0, 0])
    }

    @Test func limits() {
        let k: [UInt8] = [0x4B]
        // 2 + 1 + 2 + 65530 = 65535: the largest block that fits
        var out: [UInt8] = []
        #expect(
            UwsgiPacket.append(params: [(k, [UInt8](repeating: 0, count: 65530))], modifier1: 0, modifier2: 0, to: &out)
        )
        #expect(Array(out[0..<4]) == [0x00, 0xFF, 0xFF, 0x00] && out.count == 4 + 65535)
        // one byte more, a value over 65535, a key over 65535, many small vars: refused, `out` untouched
        var refused: [UInt8] = [1, 2, 3]
        #expect(
            !UwsgiPacket.append(
                params: [(k, [UInt8](repeating: 0, count: 65531))], modifier1: 0, modifier2: 0, to: &refused))
        #expect(
            !UwsgiPacket.append(
                params: [(k, [UInt8](repeating: 0, count: 65536))], modifier1: 0, modifier2: 0, to: &refused))
        #expect(
            !UwsgiPacket.append(
                params: [([UInt8](repeating: 0x41, count: 65536), [])], modifier1: 0, modifier2: 0, to: &refused))
        let many = [(key: [UInt8], value: [UInt8])](
            repeating: (Array("HTTP_COOKIE".utf8), [UInt8](repeating: 0x63, count: 1000)), count: 70)
        #expect(!UwsgiPacket.append(params: many, modifier1: 0, modifier2: 0, to: &refused))
        #expect(refused == [1, 2, 3])
        #expect(UwsgiPacket.maxSize == 65535)
    }
}
