// Content codings this server can produce (RFC 9110 §8.4.1), with the compression-level
// ranges and defaults of the nginx directives that configure them: `gzip_comp_level` 1–9
// (default 1), ngx_brotli's `brotli_comp_level` 0–11 (default 6), and zstd 1–19 (default 3,
// the library's own default, as the nginx zstd modules use).

/// A content coding, named by its `Content-Encoding` token.
public enum ContentCoding: String, Sendable, CaseIterable {
    case gzip
    case br
    case zstd
    /// No coding: the representation is sent as it is.
    case identity

    /// The levels the coding accepts; an encoder clamps a level outside it.
    public var levelRange: ClosedRange<Int> {
        switch self {
        case .gzip: return 1...9
        case .br: return 0...11
        case .zstd: return 1...19
        case .identity: return 0...0
        }
    }

    /// The level used when the configuration gives none.
    public var defaultLevel: Int {
        switch self {
        case .gzip: return 1
        case .br: return 6
        case .zstd: return 3
        case .identity: return 0
        }
    }
}

/// A compression library reported a failure (out of memory, or a state it should never
/// reach). The response cannot be encoded; the server logs it and closes the connection.
public enum CompressionError: Error, Equatable, Sendable {
    /// The library could not allocate its state.
    case outOfMemory(ContentCoding)
    /// The library returned this error code (zlib's `Z_*`, zstd's error code, or 0 for brotli).
    case codec(ContentCoding, code: Int)
    /// `compress` or `flush` was called after `finish` without a `reset`.
    case finished
}
