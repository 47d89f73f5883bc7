// Request header names looked up by the server, as lowercase bytes allocated once.

enum HeaderName {
    static let authorization: [UInt8] = Array("authorization".utf8)
    static let via: [UInt8] = Array("via".utf8)
    static let xForwardedFor: [UInt8] = Array("x-forwarded-for".utf8)
    static let xRealIP: [UInt8] = Array("x-real-ip".utf8)
    static let userAgent: [UInt8] = Array("user-agent".utf8)
    static let acceptEncoding: [UInt8] = Array("accept-encoding".utf8)
    static let contentType: [UInt8] = Array("content-type".utf8)
    static let cookie: [UInt8] = Array("cookie".utf8)
    static let ifMatch: [UInt8] = Array("if-match".utf8)
    static let ifModifiedSince: [UInt8] = Array("if-modified-since".utf8)
    static let ifNoneMatch: [UInt8] = Array("if-none-match".utf8)
    static let ifRange: [UInt8] = Array("if-range".utf8)
    static let ifUnmodifiedSince: [UInt8] = Array("if-unmodified-since".utf8)
    static let range: [UInt8] = Array("range".utf8)
}
