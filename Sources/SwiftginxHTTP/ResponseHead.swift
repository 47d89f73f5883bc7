// The parsed head of an upstream's HTTP/1.x response (what gunicorn, uWSGI's http socket,
// Daphne, Apache or `runserver` answer to a proxied request). Like `RequestHead`, every
// byte field is a range of offsets into the proxy's upstream read buffer, so parsing
// allocates nothing per header (`headers` keeps its capacity across `reset()`).
// `ResponseParser` fills it; the proxy reads it together with the same buffer, decides the
// body framing from `contentLength` / `isChunked`, and pools the upstream connection
// only when `keepAlive` says it may.

/// A parsed status line and header section. All ranges index the buffer given to
/// `ResponseParser.parse`.
public struct ResponseHead: Sendable {
    /// The protocol version of the status line (`HTTP/1.0`, `HTTP/1.1`; `HTTP/1.2`… count as 1.1).
    public var version: HTTPVersion
    /// The three-digit status code, 100...999.
    public var status: Int
    /// The reason phrase after the status code (without the separating SP); may be empty.
    public var reason: Range<Int>
    /// Header lines in order, repeated names (Set-Cookie) kept as separate entries. Values
    /// have their leading and trailing SP / HTAB removed.
    public var headers: [HeaderField]
    /// Content-Length, when sent (validated: digits only, no overflow, not duplicated).
    public var contentLength: Int64?
    /// True when `Transfer-Encoding` is `chunked` (the only coding accepted, as nginx).
    public var isChunked: Bool
    /// Whether the upstream connection may be reused after this response's body: HTTP/1.1
    /// unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive` (and never
    /// for an HTTP/1.0 response carrying Transfer-Encoding, RFC 9112 §6.1).
    public var keepAlive: Bool
    /// The Connection header (any of them) carries the token `upgrade`.
    public var connectionUpgrade: Bool
    /// Some field name is 15 to 18 bytes long and starts with "x": perhaps one of the
    /// X-Accel-* fields nginx's proxy acts on (false: certainly none of them).
    public var mayHaveXAccelField: Bool
    /// Bytes from the start of the buffer through the terminating empty line: where the
    /// body (or, after a 1xx head, the next head) starts.
    public var headLength: Int

    public init() {
        version = .http11
        status = 0
        reason = 0..<0
        headers = []
        contentLength = nil
        isChunked = false
        keepAlive = false
        connectionUpgrade = false
        mayHaveXAccelField = false
        headLength = 0
    }

    /// Clears every field for the next response; `headers` keeps its capacity.
    public mutating func reset() {
        version = .http11
        status = 0
        reason = 0..<0
        // Skipped when already empty (it is reset twice per response): the call costs ~80.
        if !headers.isEmpty { headers.removeAll(keepingCapacity: true) }
        contentLength = nil
        isChunked = false
        keepAlive = false
        connectionUpgrade = false
        mayHaveXAccelField = false
        headLength = 0
    }

    /// True for an interim response (100 Continue, 101 Switching Protocols, 103 Early Hints…).
    @inlinable
    public var isInformational: Bool { status < 200 }

    /// Value of the first header named `lowercasedName` (compared case-insensitively).
    @inlinable
    public func header(_ lowercasedName: StaticString, in buf: UnsafeRawBufferPointer) -> Range<Int>? {
        for h in headers where ASCII.equalsLowercased(buf.slice(h.name), lowercasedName) {
            return h.value
        }
        return nil
    }

    /// Value of the first header named `lowercasedName` (lower-case bytes; compared
    /// case-insensitively).
    @inlinable
    public func header(_ lowercasedName: [UInt8], in buf: UnsafeRawBufferPointer) -> Range<Int>? {
        for h in headers where ASCII.equalsLowercased(buf.slice(h.name), lowercasedName) {
            return h.value
        }
        return nil
    }
}
