// Percent-escaping as nginx does it (ngx_escape_uri): one 256-bit table per use, the
// same tables as nginx's, so that a redirect's Location, a rewritten argument or an
// autoindex link is escaped byte for byte as nginx escapes it.

/// nginx's escape tables (`NGX_ESCAPE_URI`, `NGX_ESCAPE_ARGS`, ...).
public enum URIEscape: Int, Sendable {
    /// A path: " ", "#", "%", "?", control and non-ASCII bytes, and the characters RFC
    /// 3986 does not allow (`"`, `<`, `>`, `\`, `^`, `` ` ``, `{`, `|`, `}`).
    case uri
    /// An argument: the same, and "&", "+", ";".
    case args
    /// A URI component: all but ALPHA, DIGIT, "-", ".", "_", "~".
    case uriComponent
    /// An href in an HTML page (autoindex): " ", "#", `"`, "%", "'", and the bytes RFC
    /// 3986 does not allow.
    case html

    private static let tables: [[UInt32]] = [
        [0xffff_ffff, 0xd000_002d, 0x5000_0000, 0xb800_0001, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
        [0xffff_ffff, 0xd800_086d, 0x5000_0000, 0xb800_0001, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
        [0xffff_ffff, 0xfc00_9fff, 0x7800_0001, 0xb800_0001, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
        [0xffff_ffff, 0x5000_00ad, 0x5000_0000, 0xb800_0001, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff],
    ]

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Whether `byte` is escaped by this table.
    @inline(__always) public func escapes(_ byte: UInt8) -> Bool {
        Self.tables[rawValue][Int(byte >> 5)] & (1 << UInt32(byte & 0x1f)) != 0
    }

    /// How many bytes of `bytes` this table escapes (0: the bytes can be used as they are).
    public func count<C: Collection>(in bytes: C) -> Int where C.Element == UInt8 {
        var n = 0
        for b in bytes where escapes(b) { n += 1 }
        return n
    }

    /// Appends `bytes` to `out`, escaped.
    public func append<C: Collection>(_ bytes: C, to out: inout [UInt8]) where C.Element == UInt8 {
        for b in bytes {
            if escapes(b) {
                out.append(UInt8(ascii: "%"))
                out.append(Self.hex[Int(b >> 4)])
                out.append(Self.hex[Int(b & 0xf)])
            } else {
                out.append(b)
            }
        }
    }

    /// `bytes` escaped.
    public func escaped<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 2 * count(in: bytes))
        append(bytes, to: &out)
        return out
    }
}

extension URIEscape {
    /// nginx's unescaping of a redirect's Location (ngx_unescape_uri with
    /// NGX_UNESCAPE_REDIRECT): "%XX" becomes the byte when it is a printable character
    /// after '%' and is kept escaped otherwise (so "%0D%0A" never splits the header);
    /// unescaping stops at the first '?' (literal or "%3F"), the rest is kept as it is.
    /// A malformed escape is dropped as nginx drops it.
    public static func unescapeRedirect(_ src: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(src.count)
        var state = 0
        var decoded: UInt8 = 0
        var i = 0
        while i < src.count {
            let ch = src[i]
            i += 1
            switch state {
            case 0:
                if ch == UInt8(ascii: "?") {
                    out.append(ch)
                    out += src[i...]
                    return out
                }
                if ch == UInt8(ascii: "%") { state = 1 } else { out.append(ch) }
            case 1:
                if let v = hexValue(ch) {
                    decoded = v
                    state = 2
                } else {
                    state = 0
                    out.append(ch)
                }
            default:
                state = 0
                guard let v = hexValue(ch) else { break }
                let c = decoded << 4 + v
                if c == UInt8(ascii: "?") && ch > UInt8(ascii: "9") {
                    out.append(c)
                    out += src[i...]
                    return out
                }
                if c > UInt8(ascii: "%") && c < 0x7f {
                    out.append(c)
                } else {
                    out += [UInt8(ascii: "%"), src[i - 2], src[i - 1]]
                }
            }
        }
        return out
    }

    @inline(__always) private static func hexValue(_ c: UInt8) -> UInt8? {
        if c >= 48 && c <= 57 { return c - 48 }
        let l = c | 0x20
        if l >= 97 && l <= 102 { return l - 87 }
        return nil
    }
}
