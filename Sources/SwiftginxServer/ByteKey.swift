// Bytes as a dictionary key (file paths in the open file cache, zone keys). The
// dictionary's per-table seed goes to SeededHash, one pass over the bytes: Swift's
// Hasher over them (SipHash, then finalization) cost about 600 instructions a lookup
// of a short path, an array of bytes hashed element by element ten times that. Keys
// are compared with memcmp (an array's == compares element by element).

import Glibc

struct ByteKey: Hashable {
    let bytes: [UInt8]
    @inline(__always) init(_ bytes: [UInt8]) { self.bytes = bytes }
    @inline(__always) func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    @inline(__always) static func == (a: ByteKey, b: ByteKey) -> Bool {
        a.bytes.count == b.bytes.count
            && a.bytes.withUnsafeBytes { x in
                b.bytes.withUnsafeBytes { y in x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0 }
            }
    }
    @inline(__always) func _rawHashValue(seed: Int) -> Int {
        bytes.withUnsafeBytes {
            Int(truncatingIfNeeded: SeededHash.hash($0, seed: UInt64(truncatingIfNeeded: seed) ^ 0x2D35_8DCC_AA6C_78A5))
        }
    }
}
