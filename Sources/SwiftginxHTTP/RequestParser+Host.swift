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
        let e = r.upperBound
        var i = r.lowerBound
        var dotPos = i &- 2
        var hostEnd = e
        if i < e && buf[i] == 0x5B {
            // An IP literal: name bytes, `.` and `:` up to `]`, then nothing or a port.
            i &+= 1
            while true {
                guard i < e else { return nil }
                let c = buf[i]
                if ByteScan.inSet(c, ByteScan.hostLo, ByteScan.hostHi) || c == 0x3A {
                    // allowed
                } else if c == 0x2E {
                    if dotPos == i &- 1 { return nil }
                    dotPos = i
                } else if c == 0x5D {
                    hostEnd = i &+ 1
                    i &+= 1
                    break
                } else {
                    return nil
                }
                i &+= 1
            }
            if i < e {
                guard buf[i] == 0x3A else { return nil }
                i &+= 1
            }
        } else {
            // A reg-name: name bytes, `%` and `.` (no empty label), up to `:` or the end.
            while i < e {
                let c = buf[i]
                if ByteScan.inSet(c, ByteScan.hostLo, ByteScan.hostHi) || c == 0x25 {
                    // allowed
                } else if c == 0x2E {
                    if dotPos == i &- 1 { return nil }
                    dotPos = i
                } else if c == 0x3A {
                    hostEnd = i
                    i &+= 1
                    break
                } else {
                    return nil
                }
                i &+= 1
            }
        }
        var port = 0
        while i < e {
            let d = buf[i] &- 0x30
            guard d < 10 else { return nil }
            port = port &* 10 &+ Int(d)
            if port > 65535 { return nil }
            i &+= 1
        }
        if dotPos == hostEnd &- 1 { hostEnd &-= 1 }
        if hostEnd <= r.lowerBound { return nil }
        return r.lowerBound..<hostEnd
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
