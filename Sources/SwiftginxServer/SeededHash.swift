// A fast seeded hash of bytes for the server's own tables (limit zone keys, the open
// file cache's paths): 8 bytes at a time, each folded in by a full-width multiply, as
// wyhash does. Keys come from clients, so every table hashes with a random seed of its
// own and their collisions cannot be predicted. Swift's Hasher (SipHash-1-3) costs
// about three times as much for a short key.

enum SeededHash {
    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(key.count) &* 0x9E37_79B9_7F4A_7C15)
        var i = 0
        let n = key.count
        while i + 8 <= n {
            h = mix(h ^ key.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        if i < n {
            var w: UInt64 = 0
            var shift: UInt64 = 0
            if i + 4 <= n {
                w = UInt64(key.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                shift = 32
                i += 4
            }
            while i < n {
                w |= UInt64(key[i]) << shift
                shift += 8
                i += 1
            }
            h = mix(h ^ w)
        }
        return mix(h)
    }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        let m = x.multipliedFullWidth(by: 0xA076_1D64_78BD_642F)
        return m.high ^ m.low
    }
}
