// Byte-array operations on the per-request paths that cost less than the general ones:
// replacing an array's contents in one `replaceSubrange` (about half the instructions of
// `removeAll(keepingCapacity:)` and then `append(contentsOf:)`, capacity kept).

extension Array where Element == UInt8 {
    /// The array holds `bytes` and nothing else; its capacity is kept.
    @inlinable
    public mutating func replaceAll(with bytes: UnsafeRawBufferPointer) {
        replaceSubrange(0..<count, with: bytes)
    }

    /// The array holds `bytes` and nothing else; its capacity is kept.
    @inlinable
    public mutating func replaceAll(with bytes: [UInt8]) {
        replaceSubrange(0..<count, with: bytes)
    }
}
