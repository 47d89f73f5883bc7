// The parsed request head: every field is a range of offsets into the connection's read
// buffer, so parsing allocates nothing per header (the `headers` array keeps its capacity
// across `reset()`). `RequestParser` fills it; the server reads it together with the same
// buffer. Ranges stay valid only while the buffer is not compacted or reused.

/// One header line: name and value as offsets into the request buffer. The value has its
/// leading and trailing optional whitespace (SP / HTAB) removed.
public struct HeaderField: Sendable, Equatable {
    public var name: Range<Int>
    public var value: Range<Int>

    @inlinable
    public init(name: Range<Int>, value: Range<Int>) {
        self.name = name
        self.value = value
    }
}

/// A parsed request line and header section. All ranges index the buffer given to
/// `RequestParser.parse`.
public struct RequestHead: Sendable {
    public var method: HTTPMethod
    /// The method token as sent (`$request_method`).
    public var methodBytes: Range<Int>
    /// The raw request-target as sent (`$request_uri`).
    public var target: Range<Int>
    /// The path part of the target, before `?`. For absolute-form it is what follows
    /// `scheme://authority`; when the authority is followed by nothing or by `?` it is the
    /// second `/` of `://` (a one-byte "/", as nginx does). For `*` it is the `*`. For
    /// CONNECT's authority-form it is empty (at the end of the target).
    public var path: Range<Int>
    /// The query after `?`, without the `?`; nil when the target has no `?`.
    public var query: Range<Int>?
    public var version: HTTPVersion
    /// The request line without its CRLF (`$request`).
    public var requestLine: Range<Int>
    /// Header lines in order; headers with invalid names are left out when
    /// `ignoreInvalidHeaders` is on (as nginx does).
    public var headers: [HeaderField]
    /// The Host header value, or the authority of an absolute-form (or CONNECT) target,
    /// which wins over the header (RFC 9112 §3.2.2). Includes the port when one was sent.
    public var host: Range<Int>?
    /// `host` without the port and without one trailing dot (nginx's server name before
    /// lower-casing). Compare case-insensitively.
    public var hostName: Range<Int>?
    /// Content-Length, when sent (validated: digits only, no overflow, not duplicated).
    public var contentLength: Int64?
    /// True when the body is chunked (`Transfer-Encoding: chunked`, validated).
    public var isChunked: Bool
    /// Whether the connection may be kept open after this request (version + Connection).
    public var keepAlive: Bool
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    public var expectContinue: Bool
    /// The Upgrade header value, when Connection carries the `upgrade` token.
    public var upgrade: Range<Int>?
    /// Bytes from the start of the buffer through the terminating empty line (including
    /// any empty lines skipped before the request line). The body starts here.
    public var headLength: Int

    public init() {
        method = .other
        methodBytes = 0..<0
        target = 0..<0
        path = 0..<0
        query = nil
        version = .http11
        requestLine = 0..<0
        headers = []
        host = nil
        hostName = nil
        contentLength = nil
        isChunked = false
        keepAlive = false
        expectContinue = false
        upgrade = nil
        headLength = 0
    }

    /// Clears every field for the next request; `headers` keeps its capacity.
    public mutating func reset() {
        method = .other
        methodBytes = 0..<0
        target = 0..<0
        path = 0..<0
        query = nil
        version = .http11
        requestLine = 0..<0
        headers.removeAll(keepingCapacity: true)
        host = nil
        hostName = nil
        contentLength = nil
        isChunked = false
        keepAlive = false
        expectContinue = false
        upgrade = nil
        headLength = 0
    }

    /// True when the request has a body to read (chunked, or a non-zero Content-Length).
    @inlinable
    public var hasBody: Bool { isChunked || (contentLength ?? 0) > 0 }

    /// The port sent with the host (`$request_port`): the digits after the name's `:` in
    /// the authority or Host that named the server; nil when none was sent or it is 0.
    public func requestPort(in buf: UnsafeRawBufferPointer) -> Int? {
        guard let host, let name = hostName else { return nil }
        var i = name.upperBound
        while i < host.upperBound, buf[i] != UInt8(ascii: ":") { i += 1 }
        i += 1
        var port = 0
        while i < host.upperBound, ASCII.isDigit(buf[i]) {
            port = port * 10 + Int(buf[i] - 0x30)
            if port > 65535 { return nil }
            i += 1
        }
        return port > 0 ? port : nil
    }

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
