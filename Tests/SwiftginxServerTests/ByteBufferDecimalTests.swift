// ByteBuffer.append(decimal:) against Swift's own formatting: the edges of every digit
// count, negatives, Int64's extremes, and random values; the buffer grows as needed.

import Testing

@testable import SwiftginxServer

@Suite struct ByteBufferDecimalTests {
    func formatted(_ v: Int64, capacity: Int = 64) -> String {
        let b = ByteBuffer(capacity: capacity)
        b.append(decimal: v)
        return String(decoding: b.readable, as: UTF8.self)
    }

    @Test func everyDigitCountAndSign() {
        var values: [Int64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, Int64.max, Int64.min, Int64.min + 1]
        var p: Int64 = 10
        for _ in 1...17 {
            values += [p - 1, p, p + 1, -(p - 1), -p]  // 9…9, 10…0, 10…1 up to 10^18
            p *= 10
        }
        for v in values { #expect(formatted(v) == String(v), "\(v)") }
    }

    @Test func randomValuesAndGrowth() {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let v = Int64.random(in: Int64.min...Int64.max, using: &g) >> Int64.random(in: 0...62, using: &g)
            #expect(formatted(v, capacity: 1) == String(v), "\(v)")
        }
        let b = ByteBuffer(capacity: 4)
        b.append(UInt8(ascii: "x"))
        b.append(decimal: 1_234_567_890)
        b.append(decimal: 7)
        #expect(String(decoding: b.readable, as: UTF8.self) == "x12345678907")
    }
}
