// The two small value types every request carries: the method (an enum over the methods
// nginx knows by name, `.other` for any other valid token) and the protocol version.
// Both are parsed once by `RequestParser`; the raw method bytes stay available in
// `RequestHead.methodBytes` for `$request_method` and for re-serialising to an upstream.

/// The request method. `.other` is any syntactically valid method nginx does not name
/// (for example `PROPFIND` or `M-SEARCH`); its bytes are in `RequestHead.methodBytes`.
public enum HTTPMethod: UInt8, Sendable {
    case get, head, post, put, delete, options, patch, trace, connect, other

    /// Classifies method bytes (already validated as upper-case letters, `_` or `-`).
    @inlinable
    public static func classify(_ p: UnsafeRawBufferPointer) -> HTTPMethod {
        switch p.count {
        case 3:
            if p[0] == 0x47, p[1] == 0x45, p[2] == 0x54 { return .get }  // GET
            if p[0] == 0x50, p[1] == 0x55, p[2] == 0x54 { return .put }  // PUT
        case 4:
            if p[0] == 0x50, p[1] == 0x4F, p[2] == 0x53, p[3] == 0x54 { return .post }  // POST
            if p[0] == 0x48, p[1] == 0x45, p[2] == 0x41, p[3] == 0x44 { return .head }  // HEAD
        case 5:
            if ASCII.equals(p, "PATCH") { return .patch }
            if ASCII.equals(p, "TRACE") { return .trace }
        case 6:
            if ASCII.equals(p, "DELETE") { return .delete }
        case 7:
            if ASCII.equals(p, "OPTIONS") { return .options }
            if ASCII.equals(p, "CONNECT") { return .connect }
        default:
            break
        }
        return .other
    }
}

/// An HTTP protocol version as sent in the request line (`HTTP/1.1` → major 1, minor 1).
public struct HTTPVersion: Sendable, Equatable, Hashable {
    public var major: Int
    public var minor: Int

    @inlinable
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public static let http11 = HTTPVersion(major: 1, minor: 1)

    /// True for HTTP/1.1 and any later 1.x (nginx treats `HTTP/1.2` … as 1.1).
    @inlinable
    public var isAtLeast11: Bool { major > 1 || (major == 1 && minor >= 1) }
}
