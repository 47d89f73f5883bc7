// MD5 (RFC 1321) of a cache key, computed in place: the key's file name is its md5, as in
// nginx. OpenSSL's EVP_Digest looks the algorithm up and allocates a context on every
// call (about 5,000 instructions for a short key); this does the same work in a few
// hundred, with no allocation. Not a security use: md5 only names files.

enum MD5 {
    private static let s: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ]
    /// floor(abs(sin(i + 1)) * 2^32), the RFC's table.
    private static let table: [UInt32] = [
        0xd76a_a478, 0xe8c7_b756, 0x2420_70db, 0xc1bd_ceee, 0xf57c_0faf, 0x4787_c62a, 0xa830_4613, 0xfd46_9501,
        0x6980_98d8, 0x8b44_f7af, 0xffff_5bb1, 0x895c_d7be, 0x6b90_1122, 0xfd98_7193, 0xa679_438e, 0x49b4_0821,
        0xf61e_2562, 0xc040_b340, 0x265e_5a51, 0xe9b6_c7aa, 0xd62f_105d, 0x0244_1453, 0xd8a1_e681, 0xe7d3_fbc8,
        0x21e1_cde6, 0xc337_07d6, 0xf4d5_0d87, 0x455a_14ed, 0xa9e3_e905, 0xfcef_a3f8, 0x676f_02d9, 0x8d2a_4c8a,
        0xfffa_3942, 0x8771_f681, 0x6d9d_6122, 0xfde5_380c, 0xa4be_ea44, 0x4bde_cfa9, 0xf6bb_4b60, 0xbebf_bc70,
        0x289b_7ec6, 0xeaa1_27fa, 0xd4ef_3085, 0x0488_1d05, 0xd9d4_d039, 0xe6db_99e5, 0x1fa2_7cf8, 0xc4ac_5665,
        0xf429_2244, 0x432a_ff97, 0xab94_23a7, 0xfc93_a039, 0x655b_59c3, 0x8f0c_cc92, 0xffef_f47d, 0x8584_5dd1,
        0x6fa8_7e4f, 0xfe2c_e6e0, 0xa301_4314, 0x4e08_11a1, 0xf753_7e82, 0xbd3a_f235, 0x2ad7_d2bb, 0xeb86_d391,
    ]

    /// The digest of `bytes` as a cache key hash (the 16 bytes in order).
    static func hash(_ bytes: UnsafeRawBufferPointer) -> CacheKeyHash {
        var a0: UInt32 = 0x6745_2301
        var b0: UInt32 = 0xefcd_ab89
        var c0: UInt32 = 0x98ba_dcfe
        var d0: UInt32 = 0x1032_5476
        let count = bytes.count
        let whole = count / 64
        table.withUnsafeBufferPointer { t in
            s.withUnsafeBufferPointer { sh in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 16) { m in
                    func block(_ p: UnsafeRawPointer) {
                        for i in 0..<16 {
                            m[i] = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                        }
                        var a = a0
                        var b = b0
                        var c = c0
                        var d = d0
                        @inline(__always) func step(_ f: UInt32, _ i: Int, _ g: Int) {
                            let x = f &+ a &+ t[i] &+ m[g]
                            a = d
                            d = c
                            c = b
                            let r = sh[i]
                            b = b &+ (x << r | x >> (32 &- r))
                        }
                        for i in 0..<16 { step((b & c) | (~b & d), i, i) }
                        for i in 16..<32 { step((d & b) | (~d & c), i, (5 &* i &+ 1) & 15) }
                        for i in 32..<48 { step(b ^ c ^ d, i, (3 &* i &+ 5) & 15) }
                        for i in 48..<64 { step(c ^ (b | ~d), i, (7 &* i) & 15) }
                        a0 = a0 &+ a
                        b0 = b0 &+ b
                        c0 = c0 &+ c
                        d0 = d0 &+ d
                    }
                    if let base = bytes.baseAddress {
                        for n in 0..<whole { block(base + n * 64) }
                    }
                    // The tail: the rest, 0x80, zeros, the length in bits (little-endian).
                    withUnsafeTemporaryAllocation(byteCount: 128, alignment: 8) { tail in
                        let rest = count - whole * 64
                        let tailLength = rest < 56 ? 64 : 128
                        tail.initializeMemory(as: UInt8.self, repeating: 0)
                        if rest > 0, let base = bytes.baseAddress {
                            tail.baseAddress!.copyMemory(from: base + whole * 64, byteCount: rest)
                        }
                        tail[rest] = 0x80
                        tail.storeBytes(
                            of: (UInt64(count) &* 8).littleEndian, toByteOffset: tailLength - 8, as: UInt64.self)
                        block(UnsafeRawPointer(tail.baseAddress!))
                        if tailLength == 128 { block(UnsafeRawPointer(tail.baseAddress! + 64)) }
                    }
                }
            }
        }
        func be(_ x: UInt32) -> UInt64 { UInt64(x.byteSwapped) }
        return CacheKeyHash(high: be(a0) << 32 | be(b0), low: be(c0) << 32 | be(d0))
    }
}
