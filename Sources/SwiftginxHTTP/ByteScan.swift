// Word-at-a-time scans for the head parsers: eight bytes are tested together with the
// has-zero-byte trick (x - 0x01…01) & ~x & 0x80…80, which flags every byte that matches
// and may flag bytes above a real match, never below one, so the lowest flagged byte of
// a word is exact. Byte classes are 128-bit sets held in two words (no table in memory,
// no lazily initialised global to check on each use).

@usableFromInline
enum ByteScan {
    @usableFromInline static let ones: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let high: UInt64 = 0x8080_8080_8080_8080

    /// The first CR or LF in `buf[from..<end]`, or `end`.
    @inlinable @inline(__always)
    static func lineEnd(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        var i = from
        while i &+ 8 <= end {
            let w = buf.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let lf = w ^ 0x0A0A_0A0A_0A0A_0A0A
            let cr = w ^ 0x0D0D_0D0D_0D0D_0D0D
            let m = ((lf &- ones) & ~lf | (cr &- ones) & ~cr) & high
            if m != 0 { return i &+ m.trailingZeroBitCount >> 3 }
            i &+= 8
        }
        while i < end {
            let c = buf[i]
            if c == 0x0D || c == 0x0A { return i }
            i &+= 1
        }
        return end
    }

    /// The first control byte (below 0x20, HTAB, CR and LF among them) or DEL in
    /// `buf[from..<end]`, or `end`.
    @inlinable @inline(__always)
    static func firstControl(_ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        firstBelow(0x20, buf, from: from, to: end)
    }

    /// The first byte below `limit` (at most 0x80) or DEL in `buf[from..<end]`, or `end`.
    @inlinable @inline(__always)
    static func firstBelow(_ limit: UInt8, _ buf: UnsafeRawBufferPointer, from: Int, to end: Int) -> Int {
        var i = from
        while i &+ 8 <= end {
            let w = buf.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let below = (w &- UInt64(limit) &* ones) & ~w & high
            let x = w ^ (0x7F &* ones)
            let m = below | ((x &- ones) & ~x & high)
            if m != 0 { return i &+ m.trailingZeroBitCount >> 3 }
            i &+= 8
        }
        while i < end {
            let c = buf[i]
            if c < limit || c == 0x7F { return i }
            i &+= 1
        }
        return end
    }

    /// Whether `c` is in the 128-bit set `lo` (bytes 0–63) and `hi` (64–127).
    @inlinable @inline(__always)
    static func inSet(_ c: UInt8, _ lo: UInt64, _ hi: UInt64) -> Bool {
        let word = c < 64 ? lo : hi
        return c < 128 && (word >> UInt64(c & 63)) & 1 != 0
    }

    /// Letters, digits and `-`: the header-name bytes nginx calls valid without options.
    @usableFromInline static let nameLo: UInt64 = 0x03FF_2000_0000_0000
    @usableFromInline static let nameHi: UInt64 = 0x07FF_FFFE_07FF_FFFE
    /// A host's name bytes besides `.`, `:`, `%`, `[` and `]`: letters, digits, `-`, `_`,
    /// `~` and RFC 3986's sub-delims `!$&'()*+,;=`.
    @usableFromInline static let hostLo: UInt64 = 0x2BFF_3FD2_0000_0000
    @usableFromInline static let hostHi: UInt64 = 0x47FF_FFFE_87FF_FFFE
}
