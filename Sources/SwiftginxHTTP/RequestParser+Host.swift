// The Host rules of the request parser: nginx 1.31.5's `ngx_http_validate_host` for the
// Host header and the request line's authority (IP literals, IPvFuture, ports up to
// 65535, one trailing dot dropped), and the header fields nginx takes only once (a second
// line of Host, Authorization, If-Match, ... is a 400 naming both lines).

extension RequestParser {
    /// nginx's `ngx_http_validate_host` (1.31.5): a reg-name of letters, digits, `-`, `.`,
    /// unreserved and sub-delims characters and `%` (no empty label: `..` → nil), or an IP
    /// literal `[...]` of the same characters and `:` (closed, nothing but a port after it),
    /// then an optional `:` and a port of digits up to 65535. Returns the name without the
    /// port and without one trailing dot of a reg-name, or nil.
    @inlinable
    public static func validateHost(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> Range<Int>? {
        // 0 name start, 1 reg-name, 2 IP literal, 3 after "]", 4 port
        var state = 0
        var dotPos = -2
        var hostLen = r.count
        var port = 0
        var i = 0
        while i < r.count {
            let c = buf[r.lowerBound &+ i]
            if state == 0 {
                if c == 0x5B {
                    state = 2
                    i &+= 1
                    continue
                }
                state = 1
            }
            switch state {
            case 1, 2:
                if ASCII.isAlphanumeric(c) || c == 0x2D || c == 0x5F || c == 0x7E || isSubDelim(c) {
                    // a letter, digit, "-" or another allowed character
                } else if c == 0x2E {
                    if dotPos == i &- 1 { return nil }
                    dotPos = i
                } else if c == 0x3A {
                    if state == 1 {
                        hostLen = i
                        state = 4
                    }
                } else if c == 0x25, state == 1 {
                    // pct-encoded in a reg-name
                } else if c == 0x5D, state == 2 {
                    hostLen = i &+ 1
                    state = 3
                } else {
                    return nil
                }
            case 3:
                guard c == 0x3A else { return nil }
                state = 4
            default:
                guard ASCII.isDigit(c) else { return nil }
                port = port &* 10 &+ Int(c &- 0x30)
                if port > 65535 { return nil }
            }
            i &+= 1
        }
        if state == 2 { return nil }
        if dotPos == hostLen &- 1 { hostLen &-= 1 }
        if hostLen <= 0 { return nil }
        return r.lowerBound..<(r.lowerBound &+ hostLen)
    }

    /// RFC 3986's sub-delims: `!$&'()*+,;=`.
    @inlinable
    static func isSubDelim(_ c: UInt8) -> Bool {
        switch c {
        case 0x21, 0x24, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x3B, 0x3D: return true
        default: return false
        }
    }

    /// Headers nginx takes once (ngx_http_process_unique_header_line): a second line → 400.
    @usableFromInline
    enum UniqueHeader: UInt16 {
        case expect = 1, ifMatch = 2, ifRange = 4, authorization = 8, ifNoneMatch = 16, contentRange = 32
        case ifModifiedSince = 64, ifUnmodifiedSince = 128, proxyAuthorization = 256
    }

    /// Records a unique header; the duplicate error (naming the first line) when seen before.
    mutating func unique(
        _ kind: UniqueHeader, _ buf: UnsafeRawBufferPointer, _ field: HeaderField, _ head: inout RequestHead
    ) -> RequestParseError? {
        if uniqueSeen & kind.rawValue == 0 {
            uniqueSeen |= kind.rawValue
            return nil
        }
        for prev in head.headers where prev.name.count == field.name.count {
            var same = true
            for k in 0..<field.name.count
            where buf[prev.name.lowerBound &+ k] | 0x20 != buf[field.name.lowerBound &+ k] | 0x20 {
                same = false
                break
            }
            if same { return duplicate(buf, field, prev) }
        }
        return .badRequest("client sent duplicate header line")
    }
}
