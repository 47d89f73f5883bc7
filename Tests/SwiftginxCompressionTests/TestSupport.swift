// Real decoders (zlib inflate, libbrotlidec, libzstd) and deterministic test data.

import CBrotliDecoder
import CZlib
import CZstd
import SwiftginxCompression

/// SplitMix64: reproducible bytes for the tests.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum TestData {
    static func random(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        var rng = SplitMix64(state: seed)
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            withUnsafeBytes(of: rng.next()) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
    }

    /// Text-like bytes: words drawn from a small vocabulary, with punctuation and lines.
    static func text(_ count: Int, seed: UInt64 = 2) -> [UInt8] {
        let words = [
            "the", "server", "request", "response", "header", "location", "proxy", "upstream", "configuration",
            "static", "file", "client", "connection", "keep-alive", "worker", "buffer", "compression", "gzip",
            "brotli", "zstd", "content", "encoding", "accept", "nginx", "of", "and", "to", "a", "in", "is", "for",
            "with", "<div class=\"main\">", "</div>", "<p>", "</p>", "function", "return", "var", "{", "}",
        ].map { Array($0.utf8) }
        var rng = SplitMix64(state: seed)
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 64)
        var column = 0
        while bytes.count < count {
            let word = words[Int(rng.next() % UInt64(words.count))]
            bytes.append(contentsOf: word)
            column += word.count + 1
            if column > 72 {
                bytes.append(UInt8(ascii: "\n"))
                column = 0
            } else {
                bytes.append(rng.next() % 11 == 0 ? UInt8(ascii: ",") : UInt8(ascii: " "))
            }
        }
        return Array(bytes.prefix(count))
    }
}

/// Decoders. With `complete: true` the data must be one whole stream and nothing more;
/// with `complete: false` they return what a prefix (ending at a flush) decodes to.
enum Decoder {
    static func decode(_ coding: ContentCoding, _ data: [UInt8], complete: Bool = true) -> [UInt8]? {
        switch coding {
        case .gzip: return gunzip(data, complete: complete)
        case .br: return unbrotli(data, complete: complete)
        case .zstd: return unzstd(data, complete: complete)
        case .identity: return data
        }
    }

    static func gunzip(_ data: [UInt8], complete: Bool) -> [UInt8]? {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        defer {
            inflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }
        guard swiftginx_inflateInit2(stream, 15 + 32) == Z_OK else { return nil }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var ended = false
        var input = data
        input.withUnsafeMutableBufferPointer { inBuf in
            stream.pointee.next_in = inBuf.baseAddress
            stream.pointee.avail_in = UInt32(inBuf.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { outBuf -> (Int32, Int) in
                    stream.pointee.next_out = outBuf.baseAddress
                    stream.pointee.avail_out = UInt32(outBuf.count)
                    let rc = inflate(stream, Z_SYNC_FLUSH)
                    return (rc, outBuf.count - Int(stream.pointee.avail_out))
                }
                result.append(contentsOf: chunk[0..<produced])
                if rc == Z_STREAM_END {
                    ended = stream.pointee.avail_in == 0
                    return
                }
                guard rc == Z_OK, stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0 else { return }
            }
        }
        if complete && !ended { return nil }
        if !complete && stream.pointee.avail_in != 0 { return nil }
        return result
    }

    static func unbrotli(_ data: [UInt8], complete: Bool) -> [UInt8]? {
        guard let state = BrotliDecoderCreateInstance(nil, nil, nil) else { return nil }
        defer { BrotliDecoderDestroyInstance(state) }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var status = BROTLI_DECODER_RESULT_ERROR
        var availableIn = data.count
        data.withUnsafeBufferPointer { inBuf in
            var nextIn = inBuf.baseAddress
            while true {
                let produced = chunk.withUnsafeMutableBufferPointer { outBuf -> Int in
                    var availableOut = outBuf.count
                    var nextOut = outBuf.baseAddress
                    status = BrotliDecoderDecompressStream(
                        state, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                    return outBuf.count - availableOut
                }
                result.append(contentsOf: chunk[0..<produced])
                // With the output full and the input used up, the decoder can answer
                // NEEDS_MORE_INPUT while it still holds output: ask it.
                if status != BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT && BrotliDecoderHasMoreOutput(state) == 0 {
                    return
                }
            }
        }
        switch status {
        case BROTLI_DECODER_RESULT_SUCCESS: return availableIn == 0 ? result : nil
        case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT: return complete ? nil : result
        default: return nil
        }
    }

    static func unzstd(_ data: [UInt8], complete: Bool) -> [UInt8]? {
        guard let dctx = ZSTD_createDCtx() else { return nil }
        defer { ZSTD_freeDCtx(dctx) }
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        var failed = false
        var frameDone = false
        data.withUnsafeBytes { inBuf in
            var input = ZSTD_inBuffer(src: inBuf.baseAddress, size: inBuf.count, pos: 0)
            while true {
                var full = false
                let produced = chunk.withUnsafeMutableBytes { outBuf -> Int in
                    var output = ZSTD_outBuffer(dst: outBuf.baseAddress, size: outBuf.count, pos: 0)
                    let rc = ZSTD_decompressStream(dctx, &output, &input)
                    if ZSTD_isError(rc) != 0 { failed = true }
                    if rc == 0 { frameDone = true }
                    full = output.pos == output.size
                    return output.pos
                }
                result.append(contentsOf: chunk[0..<produced])
                if failed { return }
                if input.pos == input.size && !full { return }
            }
        }
        if failed || (complete && !frameDone) { return nil }
        return result
    }
}

/// One encoding of `input`, fed in one call, then finished.
func encodeWhole(_ coding: ContentCoding, level: Int? = nil, _ input: [UInt8]) throws -> [UInt8] {
    let encoder = try StreamingEncoder(coding: coding, level: level)
    var out = [UInt8]()
    try input.withUnsafeBytes { try encoder.compress($0, into: &out) }
    try encoder.finish(into: &out)
    return out
}

/// Whether `encoded` decodes to `expected` (a Bool, so a failure does not print megabytes).
func decodes(_ coding: ContentCoding, _ encoded: [UInt8], to expected: [UInt8], complete: Bool = true) -> Bool {
    Decoder.decode(coding, encoded, complete: complete) == expected
}
