// Request header names looked up by the server, in lowercase: static strings (no
// lazily initialised global to check on each use), and bytes where a list is compared.

enum HeaderName {
    static var authorization: StaticString { "authorization" }
    static var via: StaticString { "via" }
    static let xForwardedFor: [UInt8] = Array("x-forwarded-for".utf8)
    static var xRealIP: StaticString { "x-real-ip" }
    static var userAgent: StaticString { "user-agent" }
    static var acceptEncoding: StaticString { "accept-encoding" }
    static var contentType: StaticString { "content-type" }
    static var cookie: StaticString { "cookie" }
    static var ifMatch: StaticString { "if-match" }
    static var ifModifiedSince: StaticString { "if-modified-since" }
    static var ifNoneMatch: StaticString { "if-none-match" }
    static var ifRange: StaticString { "if-range" }
    static var ifUnmodifiedSince: StaticString { "if-unmodified-since" }
    static var range: StaticString { "range" }
}
