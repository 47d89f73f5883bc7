// The http_v2 module's settings of a server: whether HTTP/2 is spoken on its
// connections (`http2 on`, nginx 1.25.1+, or the older `listen ... http2`) and the
// limits of one HTTP/2 connection. They are read from the server that owns the
// connection: the default server of the address for prior-knowledge h2c, the server
// TLS chose by SNI for ALPN, as nginx does.

/// `http2`, `http2_max_concurrent_streams`, `http2_recv_buffer_size`,
/// `http2_body_preread_size` (`http2_chunk_size` is a location's: LocationSettings).
public struct HTTP2Settings: Sendable {
    /// `http2 on|off` (off by default).
    public var enabled = false
    /// `http2_max_concurrent_streams` (128).
    public var maxConcurrentStreams = 128
    /// `http2_recv_buffer_size` (256k): how much is read from the socket at once.
    public var recvBufferSize = 256 * 1024
    /// `http2_body_preread_size` (64k): the initial window a stream may send its body in.
    public var bodyPrereadSize = 64 * 1024
    public init() {}
}
