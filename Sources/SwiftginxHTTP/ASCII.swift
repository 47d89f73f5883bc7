// Byte-level helpers shared by the parsers: character classes from RFC 9110 (tchar,
// field-vchar, hex digits) and case-insensitive comparison of ASCII bytes. They are
// `@inlinable` because other modules (routing, server) call them in per-byte loops and a
// non-inlined call across a module boundary costs 2x (FACTS.md, "Module boundaries").

/// ASCII byte classification and comparison on raw bytes (no `String`, no allocation).
public enum ASCII {
    public static let cr: UInt8 = 0x0D
    public static let lf: UInt8 = 0x0A
    public static let sp: UInt8 = 0x20
    public static let htab: UInt8 = 0x09

    /// `tchar` of RFC 9110 §5.6.2: the bytes a token (method, field name, coding) may use.
    @inlinable @inline(__always)
    public static func isTchar(_ c: UInt8) -> Bool {
        switch c {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: return true
        default: return false
        }
    }

    /// A byte allowed inside a field value: HTAB, SP, VCHAR or obs-text (0x80–0xFF).
    @inlinable @inline(__always)
    public static func isFieldValueByte(_ c: UInt8) -> Bool {
        c == 0x09 || (c >= 0x20 && c != 0x7F)
    }

    /// Optional whitespace (SP / HTAB).
    @inlinable @inline(__always)
    public static func isOWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    @inlinable @inline(__always)
    public static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// A letter (either case) or a digit.
    @inlinable @inline(__always)
    public static func isAlphanumeric(_ c: UInt8) -> Bool { (c | 0x20) &- 0x61 < 26 || c &- 0x30 < 10 }

    /// Value of a hexadecimal digit, or nil.
    @inlinable @inline(__always)
    public static func hexValue(_ c: UInt8) -> UInt8? {
        if c &- 0x30 < 10 { return c &- 0x30 }
        let l = c | 0x20
        if l &- 0x61 < 6 { return l &- 0x61 &+ 10 }
        return nil
    }

    /// ASCII lower-casing of one byte.
    @inlinable @inline(__always)
    public static func lower(_ c: UInt8) -> UInt8 { c &- 0x41 < 26 ? c | 0x20 : c }

    /// Case-insensitive comparison of `bytes` with an ASCII literal whose letters are lower case.
    @inlinable
    public static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
        let n = lowercased.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let s = lowercased.utf8Start
        for i in 0..<n where lower(bytes[i]) != s[i] { return false }
        return true
    }

    /// Case-insensitive comparison of `bytes` with lower-cased bytes.
    @inlinable
    public static func equalsLowercased(_ bytes: UnsafeRawBufferPointer, _ lowercased: [UInt8]) -> Bool {
        guard bytes.count == lowercased.count else { return false }
        for i in 0..<bytes.count where lower(bytes[i]) != lowercased[i] { return false }
        return true
    }

    /// Exact (case-sensitive) comparison with an ASCII literal.
    @inlinable
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard bytes.count == n else { return false }
        let s = literal.utf8Start
        for i in 0..<n where bytes[i] != s[i] { return false }
        return true
    }

    /// Range of `r` without leading and trailing SP / HTAB.
    @inlinable @inline(__always)
    public static func trimOWS(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound
        var hi = r.upperBound
        while lo < hi, isOWS(buf[lo]) { lo += 1 }
        while hi > lo, isOWS(buf[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    /// Calls `body` for each non-empty, OWS-trimmed element of a comma-separated list.
    /// Stops early and returns false when `body` returns false.
    @inlinable
    @discardableResult
    public static func forEachListElement(
        _ buf: UnsafeRawBufferPointer, _ r: Range<Int>, _ body: (Range<Int>) -> Bool
    ) -> Bool {
        var start = r.lowerBound
        var i = r.lowerBound
        while i <= r.upperBound {
            if i == r.upperBound || buf[i] == 0x2C {
                let e = trimOWS(buf, start..<i)
                if !e.isEmpty, !body(e) { return false }
                start = i + 1
            }
            i += 1
        }
        return true
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes of `r` as a sub-buffer (no copy).
    @inlinable @inline(__always)
    func slice(_ r: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[r])
    }
}

/// Builds a `String` from bytes for log messages only (never on the success path).
@usableFromInline
func logString(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> String {
    String(decoding: buf[r], as: UTF8.self)
}
