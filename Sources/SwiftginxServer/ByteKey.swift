// Bytes as a dictionary key (file paths in the open file cache, limit_req zone keys),
// hashed in one pass over the bytes: an array of bytes hashes element by element,
// about ten times the cost for a path of forty bytes.

struct ByteKey: Hashable {
    let bytes: [UInt8]
    @inline(__always) init(_ bytes: [UInt8]) { self.bytes = bytes }
    @inline(__always) func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}
