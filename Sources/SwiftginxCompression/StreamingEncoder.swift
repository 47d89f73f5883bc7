// Streaming response compression: one encoder per response, pooled per worker.
//
// Output buffering. Every call appends what the codec emits to a caller-owned `[UInt8]`
// (`into out: inout [UInt8]`). The encoder grows `out` by an estimate (the input size plus
// a little, at least 4 KiB), lets the library write straight into that tail, and trims what
// it did not use; if the library has more, it grows again. So:
//   - nothing is copied through an intermediate buffer, and the encoder allocates nothing
//     per call: a connection that keeps one output array and empties it with
//     `removeAll(keepingCapacity: true)` after each write reaches a steady state with no heap
//     allocation (the array only reallocates while it grows to its high-water mark);
//   - the body is never buffered whole: `out` holds only what the codec has emitted since
//     the caller last drained it, and the codec's own window is bounded (zlib 32 KiB
//     window + its pending buffer, brotli lgwin 19 = 512 KiB as ngx_brotli's default
//     `brotli_window`, zstd's window for the level: 2 MiB at level 3);
//   - the cost of growing is one zero-fill of the tail (Swift arrays expose no uninitialised
//     tail): a memset of about the input size per call, small next to compressing it
//     (memset runs at over 10 GB/s, the fastest codec here at 250–600 MB/s).
// Measured with an LD_PRELOAD malloc counter (scripts/support/malloc-count.c): after the
// first response, 0 allocations per 1 MiB response fed in 16 KiB chunks, for every
// coding, with `reset` between responses and the output array drained after each call.
// A closure-per-chunk API was the alternative; it forces the caller to copy each chunk into
// its own buffer anyway and makes the codec loop re-entrant through caller code.
//
// Reuse. `reset()` readies the encoder for the next response: zlib's `deflateReset` and
// zstd's `ZSTD_CCtx_reset(session_only)` keep their allocations; brotli has no reset, so
// its state is destroyed and created again, allocating through a per-encoder block cache
// (CBrotli/shim.h) that hands the new state the old state's freed buffers.

import CBrotli
import CZlib
import CZstd

/// Compresses one response body as it streams: `compress` for each chunk, `flush` to push
/// out everything given so far (each flush ends on a boundary a decoder can decode up to),
/// `finish` at the end of the body. Not thread-safe: owned by one worker.
public final class StreamingEncoder {
    /// The coding produced (`Content-Encoding`).
    public let coding: ContentCoding
    /// The level in use, clamped to `coding.levelRange`.
    public let level: Int
    /// Bytes given to `compress` since `init` or `reset`.
    public private(set) var bytesIn: Int = 0
    /// Bytes appended to the output since `init` or `reset` (for `$gzip_ratio`).
    public private(set) var bytesOut: Int = 0
    /// `finish` has run; `reset` clears it.
    public private(set) var isFinished = false

    private enum Backend {
        case gzip(UnsafeMutablePointer<z_stream>)
        /// The state and the block cache its allocator keeps between responses.
        case br(OpaquePointer, UnsafeMutablePointer<swiftginx_brotli_cache>)
        case zstd(OpaquePointer)
        case identity
    }

    private enum Mode {
        case process
        case flush
        case finish
    }

    private var backend: Backend

    /// Brotli's window: 2^19 = 512 KiB, ngx_brotli's default `brotli_window`.
    static let brotliWindowBits: UInt32 = 19
    /// The smallest tail the encoder adds to `out` before calling the library.
    static let minimumGrowth = 4096
    /// The most input handed to a library in one call (zlib counts in 32 bits).
    static let maximumSlice = 1 << 30

    /// Creates the codec's state. `level` nil means `coding.defaultLevel`; a level outside
    /// `coding.levelRange` is clamped (configuration checks reject those earlier).
    public init(coding: ContentCoding, level: Int? = nil) throws(CompressionError) {
        let range = coding.levelRange
        let level = min(max(level ?? coding.defaultLevel, range.lowerBound), range.upperBound)
        self.coding = coding
        self.level = level
        self.backend = try Self.makeBackend(coding, level)
    }

    deinit {
        Self.destroy(backend)
    }

    /// Compresses `input`, appending whatever the codec emits now (often nothing: codecs
    /// hold data until their block fills, a `flush` or `finish`).
    public func compress(_ input: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(CompressionError) {
        guard !isFinished else { throw .finished }
        guard !input.isEmpty else { return }
        bytesIn += input.count
        var rest = input
        while !rest.isEmpty {
            let slice = UnsafeRawBufferPointer(rebasing: rest.prefix(Self.maximumSlice))
            try run(slice, .process, into: &out)
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(slice.count))
        }
    }

    /// Appends everything given so far in a form the client can decode up to this point
    /// (zlib `Z_SYNC_FLUSH`, `BROTLI_OPERATION_FLUSH`, `ZSTD_e_flush`). Costs a few bytes
    /// per call; use it when a streamed response has nothing more to send for now.
    public func flush(into out: inout [UInt8]) throws(CompressionError) {
        guard !isFinished else { throw .finished }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), .flush, into: &out)
    }

    /// Ends the stream: appends the rest and the coding's trailer. A second call does nothing.
    public func finish(into out: inout [UInt8]) throws(CompressionError) {
        guard !isFinished else { return }
        try run(UnsafeRawBufferPointer(start: nil, count: 0), .finish, into: &out)
        isFinished = true
    }

    /// Readies the encoder for the next response with the same coding and level. If it
    /// throws (out of memory), the encoder refuses input until a later `reset` succeeds.
    public func reset() throws(CompressionError) {
        bytesIn = 0
        bytesOut = 0
        isFinished = true  // unusable until the reset succeeds
        switch backend {
        case .gzip(let stream):
            let rc = deflateReset(stream)
            guard rc == Z_OK else { throw .codec(.gzip, code: Int(rc)) }
        case .br(let state, let cache):
            // No reset in brotli: a new state, whose allocations come from the old one's
            // freed blocks (see CBrotli/shim.h).
            BrotliEncoderDestroyInstance(state)
            guard let fresh = Self.makeBrotliState(cache, level) else {
                backend = .identity
                swiftginx_brotli_cache_release(cache)
                cache.deallocate()
                throw .outOfMemory(.br)
            }
            backend = .br(fresh, cache)
        case .zstd(let cctx):
            let rc = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only)
            guard ZSTD_isError(rc) == 0 else { throw .codec(.zstd, code: Int(ZSTD_getErrorCode(rc).rawValue)) }
        case .identity:
            // A brotli state lost to a failed reset is created anew here.
            if coding != .identity { backend = try Self.makeBackend(coding, level) }
        }
        isFinished = false
    }

    // MARK: - Codec state

    private static func makeBackend(_ coding: ContentCoding, _ level: Int) throws(CompressionError) -> Backend {
        switch coding {
        case .gzip:
            let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            stream.initialize(to: z_stream())
            // windowBits 15 + 16: a gzip header and trailer around raw deflate; memLevel 8
            // is zlib's and nginx's default.
            let rc = swiftginx_deflateInit2(stream, Int32(level), 15 + 16, 8)
            guard rc == Z_OK else {
                stream.deinitialize(count: 1)
                stream.deallocate()
                throw rc == Z_MEM_ERROR ? .outOfMemory(.gzip) : .codec(.gzip, code: Int(rc))
            }
            return .gzip(stream)
        case .br:
            let cache = UnsafeMutablePointer<swiftginx_brotli_cache>.allocate(capacity: 1)
            cache.initialize(to: swiftginx_brotli_cache())
            guard let state = makeBrotliState(cache, level) else {
                cache.deallocate()
                throw .outOfMemory(.br)
            }
            return .br(state, cache)
        case .zstd:
            guard let cctx = ZSTD_createCCtx() else { throw .outOfMemory(.zstd) }
            let rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level))
            guard ZSTD_isError(rc) == 0 else {
                ZSTD_freeCCtx(cctx)
                throw .codec(.zstd, code: Int(ZSTD_getErrorCode(rc).rawValue))
            }
            return .zstd(cctx)
        case .identity:
            return .identity
        }
    }

    /// A brotli state at `level` with ngx_brotli's default window, allocating through `cache`.
    private static func makeBrotliState(
        _ cache: UnsafeMutablePointer<swiftginx_brotli_cache>, _ level: Int
    ) -> OpaquePointer? {
        guard let state = swiftginx_brotli_create(cache) else { return nil }
        // Setting a valid parameter before the first input cannot fail.
        BrotliEncoderSetParameter(state, BROTLI_PARAM_QUALITY, UInt32(level))
        BrotliEncoderSetParameter(state, BROTLI_PARAM_LGWIN, brotliWindowBits)
        return state
    }

    private static func destroy(_ backend: Backend) {
        switch backend {
        case .gzip(let stream):
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        case .br(let state, let cache):
            BrotliEncoderDestroyInstance(state)
            swiftginx_brotli_cache_release(cache)
            cache.deallocate()
        case .zstd(let cctx):
            ZSTD_freeCCtx(cctx)
        case .identity:
            break
        }
    }

    // MARK: - Codec loops

    private func run(_ input: UnsafeRawBufferPointer, _ mode: Mode, into out: inout [UInt8]) throws(CompressionError) {
        let before = out.count
        defer { bytesOut += out.count - before }
        switch backend {
        case .gzip(let stream):
            try Self.deflateLoop(stream, input, mode, into: &out)
        case .br(let state, _):
            try Self.brotliLoop(state, input, mode, into: &out)
        case .zstd(let cctx):
            try Self.zstdLoop(cctx, input, mode, into: &out)
        case .identity:
            out.append(contentsOf: input)
        }
    }

    /// Grows `out` by `count` bytes, lets `body` write into the new tail, and trims what it
    /// did not use. `body` returns how many bytes it wrote.
    @inline(__always)
    private static func appendTail<E: Error>(
        _ out: inout [UInt8], count: Int,
        _ body: (UnsafeMutablePointer<UInt8>, Int) throws(E) -> Int
    ) throws(E) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count))
        let written: Int
        do {
            written = try out.withUnsafeMutableBufferPointer { (buffer) throws(E) -> Int in
                try body(buffer.baseAddress! + start, count)
            }
        } catch {
            out.removeLast(count)
            throw error
        }
        out.removeLast(count - written)
    }

    private static func growth(for input: UnsafeRawBufferPointer) -> Int {
        max(input.count + input.count >> 4 + 64, minimumGrowth)
    }

    private static func deflateLoop(
        _ stream: UnsafeMutablePointer<z_stream>, _ input: UnsafeRawBufferPointer, _ mode: Mode,
        into out: inout [UInt8]
    ) throws(CompressionError) {
        let flush: Int32
        switch mode {
        case .process: flush = Z_NO_FLUSH
        case .flush: flush = Z_SYNC_FLUSH
        case .finish: flush = Z_FINISH
        }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        var size = growth(for: input)
        while true {
            var rc: Int32 = Z_OK
            var outputFull = false
            try appendTail(&out, count: size) { (tail, count) throws(CompressionError) -> Int in
                stream.pointee.next_out = tail
                stream.pointee.avail_out = UInt32(count)
                rc = deflate(stream, flush)
                // Z_BUF_ERROR: no progress was possible (nothing to flush); not an error.
                guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                    throw .codec(.gzip, code: Int(rc))
                }
                outputFull = stream.pointee.avail_out == 0
                return count - Int(stream.pointee.avail_out)
            }
            // deflate is done with this call once it leaves output space unused (all input
            // taken, the flush marker written) or, for Z_FINISH, once the stream has ended.
            if mode == .finish ? rc == Z_STREAM_END : !outputFull { return }
            size = max(size, 16384)
        }
    }

    private static func brotliLoop(
        _ state: OpaquePointer, _ input: UnsafeRawBufferPointer, _ mode: Mode, into out: inout [UInt8]
    ) throws(CompressionError) {
        let operation: BrotliEncoderOperation
        switch mode {
        case .process: operation = BROTLI_OPERATION_PROCESS
        case .flush: operation = BROTLI_OPERATION_FLUSH
        case .finish: operation = BROTLI_OPERATION_FINISH
        }
        var availableIn = input.count
        var nextIn: UnsafePointer<UInt8>? = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var size = growth(for: input)
        while true {
            try appendTail(&out, count: size) { (tail, count) throws(CompressionError) -> Int in
                var availableOut = count
                var nextOut: UnsafeMutablePointer<UInt8>? = tail
                guard
                    BrotliEncoderCompressStream(state, operation, &availableIn, &nextIn, &availableOut, &nextOut, nil)
                        != 0
                else { throw .codec(.br, code: 0) }
                return count - availableOut
            }
            let done: Bool
            switch mode {
            case .process, .flush:
                done = availableIn == 0 && BrotliEncoderHasMoreOutput(state) == 0
            case .finish:
                done = BrotliEncoderIsFinished(state) != 0
            }
            if done { return }
            size = max(size, 16384)
        }
    }

    private static func zstdLoop(
        _ cctx: OpaquePointer, _ input: UnsafeRawBufferPointer, _ mode: Mode, into out: inout [UInt8]
    ) throws(CompressionError) {
        let directive: ZSTD_EndDirective
        switch mode {
        case .process: directive = ZSTD_e_continue
        case .flush: directive = ZSTD_e_flush
        case .finish: directive = ZSTD_e_end
        }
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var size = growth(for: input)
        while true {
            var remaining = 0
            try appendTail(&out, count: size) { (tail, count) throws(CompressionError) -> Int in
                var outBuffer = ZSTD_outBuffer(dst: UnsafeMutableRawPointer(tail), size: count, pos: 0)
                let rc = ZSTD_compressStream2(cctx, &outBuffer, &inBuffer, directive)
                guard ZSTD_isError(rc) == 0 else {
                    throw .codec(.zstd, code: Int(ZSTD_getErrorCode(rc).rawValue))
                }
                remaining = rc
                return outBuffer.pos
            }
            // e_continue is done when all input is taken; flush and end when the return
            // value (bytes still to write) is zero.
            let done = mode == .process ? inBuffer.pos == inBuffer.size : remaining == 0
            if done { return }
            size = max(size, 16384)
        }
    }
}
