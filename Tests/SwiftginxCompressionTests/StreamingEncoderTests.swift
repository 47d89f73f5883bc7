// StreamingEncoder: round trips through the real decoders, streaming with flushes, reuse.

import Testing

@testable import SwiftginxCompression

struct CodingLevel: Sendable, CustomStringConvertible {
    let coding: ContentCoding
    let level: Int
    var description: String { "\(coding.rawValue)-\(level)" }
}

let everyCodingAndLevel: [CodingLevel] = [
    CodingLevel(coding: .gzip, level: 1), CodingLevel(coding: .gzip, level: 6), CodingLevel(coding: .gzip, level: 9),
    CodingLevel(coding: .br, level: 0), CodingLevel(coding: .br, level: 6), CodingLevel(coding: .br, level: 11),
    CodingLevel(coding: .zstd, level: 1), CodingLevel(coding: .zstd, level: 3), CodingLevel(coding: .zstd, level: 19),
    CodingLevel(coding: .identity, level: 0),
]

let compressingCodings: [ContentCoding] = [.gzip, .br, .zstd]

@Suite struct StreamingEncoderTests {
    static let oneMiB = 1 << 20
    static let randomMiB = TestData.random(oneMiB)
    static let textMiB = TestData.text(oneMiB)

    @Test(arguments: everyCodingAndLevel)
    func emptyInput(_ c: CodingLevel) throws {
        let encoded = try encodeWhole(c.coding, level: c.level, [])
        if c.coding != .identity { #expect(!encoded.isEmpty) }  // a header and trailer
        #expect(decodes(c.coding, encoded, to: []))
    }

    @Test(arguments: everyCodingAndLevel)
    func oneByte(_ c: CodingLevel) throws {
        let encoded = try encodeWhole(c.coding, level: c.level, [0x41])
        #expect(decodes(c.coding, encoded, to: [0x41]))
    }

    @Test(arguments: everyCodingAndLevel)
    func randomMebibyte(_ c: CodingLevel) throws {
        let encoded = try encodeWhole(c.coding, level: c.level, Self.randomMiB)
        #expect(decodes(c.coding, encoded, to: Self.randomMiB))
        // Incompressible input grows only by the coding's framing.
        #expect(encoded.count < Self.oneMiB + Self.oneMiB / 100 + 1024)
    }

    @Test(arguments: everyCodingAndLevel)
    func textMebibyte(_ c: CodingLevel) throws {
        let encoded = try encodeWhole(c.coding, level: c.level, Self.textMiB)
        #expect(decodes(c.coding, encoded, to: Self.textMiB))
        if c.coding != .identity { #expect(encoded.count < Self.oneMiB / 2) }
    }

    /// Small chunks, a flush every few: after each flush the output so far decodes to
    /// exactly the input so far.
    @Test(arguments: compressingCodings)
    func flushMakesOutputDecodable(_ coding: ContentCoding) throws {
        let input = TestData.text(200_000, seed: 7)
        let encoder = try StreamingEncoder(coding: coding)
        var out = [UInt8]()
        var offset = 0
        var chunkSize = 1
        var chunks = 0
        var flushes = 0
        while offset < input.count {
            let end = min(offset + chunkSize, input.count)
            try input[offset..<end].withUnsafeBytes { try encoder.compress($0, into: &out) }
            offset = end
            chunkSize = chunkSize * 7 % 4093 + 1
            chunks += 1
            if chunks % 5 == 0 {
                try encoder.flush(into: &out)
                flushes += 1
                #expect(decodes(coding, out, to: Array(input[0..<offset]), complete: false))
            }
        }
        try encoder.finish(into: &out)
        #expect(flushes > 10)
        #expect(decodes(coding, out, to: input))
        #expect(encoder.bytesIn == input.count)
        #expect(encoder.bytesOut == out.count)
    }

    /// A flush before any input, and flushes with nothing new in between, are harmless.
    @Test(arguments: compressingCodings)
    func repeatedAndEmptyFlushes(_ coding: ContentCoding) throws {
        let encoder = try StreamingEncoder(coding: coding)
        var out = [UInt8]()
        try encoder.flush(into: &out)
        try encoder.flush(into: &out)
        #expect(decodes(coding, out, to: [], complete: false))
        let hello = Array("hello, world".utf8)
        try hello.withUnsafeBytes { try encoder.compress($0, into: &out) }
        try encoder.flush(into: &out)
        let afterFlush = out.count
        try encoder.flush(into: &out)
        if coding != .gzip { #expect(out.count == afterFlush) }  // zlib writes an empty block
        #expect(decodes(coding, out, to: hello, complete: false))
        try encoder.finish(into: &out)
        #expect(decodes(coding, out, to: hello))
    }

    /// Output is appended after what the caller already holds, never over it.
    @Test(arguments: compressingCodings)
    func appendsAfterExistingBytes(_ coding: ContentCoding) throws {
        let encoder = try StreamingEncoder(coding: coding)
        let head = Array("HTTP/1.1 200 OK\r\n\r\n".utf8)
        var out = head
        try Self.textMiB.withUnsafeBytes { try encoder.compress($0, into: &out) }
        try encoder.finish(into: &out)
        #expect(Array(out[0..<head.count]) == head)
        #expect(decodes(coding, Array(out[head.count...]), to: Self.textMiB))
    }

    /// A pooled encoder serves response after response, including after one abandoned
    /// half-way; a drained output array keeps its capacity, so equal responses reallocate
    /// nothing.
    @Test(arguments: everyCodingAndLevel.filter { $0.level == $0.coding.defaultLevel })
    func resetAndReuse(_ c: CodingLevel) throws {
        let encoder = try StreamingEncoder(coding: c.coding)
        let first = TestData.text(100_000, seed: 3)
        let second = TestData.random(50_000, seed: 4)
        var out = [UInt8]()
        for body in [first, second, first] {
            try body.withUnsafeBytes { try encoder.compress($0, into: &out) }
            try encoder.finish(into: &out)
            #expect(encoder.isFinished)
            #expect(decodes(c.coding, out, to: body))
            try encoder.reset()
            #expect(encoder.bytesIn == 0 && encoder.bytesOut == 0 && !encoder.isFinished)
            out.removeAll(keepingCapacity: true)
        }
        // Abandoned half-way (client went away), then reused.
        try first.withUnsafeBytes { try encoder.compress($0, into: &out) }
        try encoder.reset()
        out.removeAll(keepingCapacity: true)
        let capacity = out.capacity
        try first.withUnsafeBytes { try encoder.compress($0, into: &out) }
        try encoder.finish(into: &out)
        #expect(decodes(c.coding, out, to: first))
        #expect(out.capacity == capacity)
    }

    @Test(arguments: compressingCodings)
    func finishedEncoderRefusesInput(_ coding: ContentCoding) throws {
        let encoder = try StreamingEncoder(coding: coding)
        var out = [UInt8]()
        try encoder.finish(into: &out)
        let count = out.count
        try encoder.finish(into: &out)  // a second finish does nothing
        #expect(out.count == count)
        #expect(throws: CompressionError.finished) {
            try [1, 2, 3].withUnsafeBytes { try encoder.compress($0, into: &out) }
        }
        #expect(throws: CompressionError.finished) { try encoder.flush(into: &out) }
        #expect(decodes(coding, out, to: []))
    }

    @Test func levelsDefaultAndClamp() throws {
        #expect(try StreamingEncoder(coding: .gzip).level == 1)
        #expect(try StreamingEncoder(coding: .br).level == 6)
        #expect(try StreamingEncoder(coding: .zstd).level == 3)
        #expect(try StreamingEncoder(coding: .gzip, level: 42).level == 9)
        #expect(try StreamingEncoder(coding: .gzip, level: 0).level == 1)
        #expect(try StreamingEncoder(coding: .br, level: -1).level == 0)
        #expect(try StreamingEncoder(coding: .zstd, level: 22).level == 19)
    }

    /// Higher levels compress text better (the level reaches the library).
    @Test(arguments: compressingCodings)
    func levelReachesLibrary(_ coding: ContentCoding) throws {
        let low = try encodeWhole(coding, level: coding.levelRange.lowerBound, Self.textMiB)
        let high = try encodeWhole(coding, level: coding.levelRange.upperBound, Self.textMiB)
        #expect(high.count < low.count)
    }

    @Test func gzipHeaderAndIdentityPassThrough() throws {
        let gz = try encodeWhole(.gzip, [1, 2, 3])
        #expect(Array(gz.prefix(3)) == [0x1F, 0x8B, 8])  // gzip magic, deflate
        let zst = try encodeWhole(.zstd, [1, 2, 3])
        #expect(Array(zst.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])  // zstd frame magic
        #expect(try encodeWhole(.identity, [1, 2, 3]) == [1, 2, 3])
    }

    /// The decoders the tests rely on notice a truncated or corrupted stream.
    @Test(arguments: compressingCodings)
    func decodersNoticeDamage(_ coding: ContentCoding) throws {
        let input = TestData.text(10_000)
        let encoded = try encodeWhole(coding, input)
        #expect(decodes(coding, encoded, to: input))
        #expect(!decodes(coding, Array(encoded.dropLast()), to: input))
        var corrupted = encoded
        corrupted[corrupted.count / 2] ^= 0x55
        #expect(!decodes(coding, corrupted, to: input))
        #expect(!decodes(coding, encoded + [0], to: input))  // trailing garbage
    }
}
