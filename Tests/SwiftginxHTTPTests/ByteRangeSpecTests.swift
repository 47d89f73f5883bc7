// Unit tests of ByteRangeSpec against nginx's range filter behaviour.

import Testing

@testable import SwiftginxHTTP

@Suite struct ByteRangeSpecTests {
    func eval(_ s: String, _ size: Int64 = 1000, max: Int? = nil) -> ByteRangeSpec.Result {
        Array(s.utf8).withUnsafeBytes { ByteRangeSpec.evaluate($0, size: size, maxRanges: max) }
    }

    @Test func single() {
        #expect(eval("bytes=0-99") == .single(0...99))
        #expect(eval("BYTES=0-99") == .single(0...99))
        #expect(eval("bytes= 10 - 20 ") == .single(10...20))
        #expect(eval("bytes=900-") == .single(900...999))
        #expect(eval("bytes=900-5000") == .single(900...999))
        #expect(eval("bytes=-100") == .single(900...999))
        #expect(eval("bytes=-5000") == .single(0...999))
    }

    @Test func multiple() {
        #expect(eval("bytes=0-0,-1") == .multiple([0...0, 999...999]))
        #expect(eval("bytes=0-1, 5-6") == .multiple([0...1, 5...6]))
        #expect(eval("bytes=0-1,2000-3000,5-6") == .multiple([0...1, 5...6]))
        #expect(eval("bytes=0-1,5-6", max: 1) == .ignore)
        #expect(eval("bytes=0-1,5-6", max: 2) == .multiple([0...1, 5...6]))
        #expect(eval("bytes=0-1", max: 0) == .ignore)
        #expect(eval("bytes=0-999,0-999") == .ignore)  // total larger than the file
    }

    @Test func unsatisfiableAndIgnored() {
        #expect(eval("bytes=1000-") == .unsatisfiable)
        #expect(eval("bytes=5000-6000") == .unsatisfiable)
        #expect(eval("bytes=x") == .unsatisfiable)
        #expect(eval("bytes=5-x") == .unsatisfiable)
        #expect(eval("bytes=5-4") == .unsatisfiable)
        #expect(eval("bytes=--5") == .unsatisfiable)
        #expect(eval("bytes=99999999999999999999-") == .unsatisfiable)
        #expect(eval("bytes=-0") == .unsatisfiable)
        #expect(eval("bytes=0-", 0) == .ignore)  // empty file: nginx serves it whole
        #expect(eval("items=0-5") == .ignore)
        #expect(eval("bytes=") == .ignore)
        #expect(eval("bytes 0-5") == .ignore)
    }
}
