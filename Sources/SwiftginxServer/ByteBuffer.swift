// A growable byte buffer with separate read and write indexes, owned by one
// connection and reused across its requests (no per-request allocation).

public final class ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    /// First unread byte.
    public var readerIndex = 0
    /// One past the last written byte.
    public var writerIndex = 0

    public init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    @inline(__always) public var readableCount: Int { writerIndex - readerIndex }
    @inline(__always) public var writableCount: Int { capacity - writerIndex }
    @inline(__always) public var isEmpty: Bool { readerIndex == writerIndex }

    /// The unread bytes; offsets in parser results are relative to `readerIndex`.
    @inline(__always) public var readable: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + readerIndex, count: writerIndex - readerIndex)
    }

    @inline(__always) public var writable: UnsafeMutableRawPointer { base + writerIndex }

    public func clear() {
        readerIndex = 0
        writerIndex = 0
    }

    /// Moves unread bytes to the front.
    public func compact() {
        if readerIndex == 0 { return }
        let n = readableCount
        if n > 0 { base.copyMemory(from: base + readerIndex, byteCount: n) }
        readerIndex = 0
        writerIndex = n
    }

    /// Makes room for at least `count` more bytes by growing. It never moves the
    /// bytes, so indexes into the buffer stay valid; `compact()` is explicit.
    @inline(__always) public func reserve(_ count: Int) {
        if writableCount < count { grow(count) }
    }

    @inline(never) private func grow(_ count: Int) {
        var newCap = max(capacity * 2, 64)
        while newCap - writerIndex < count { newCap *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: newCap, alignment: 16)
        nb.copyMemory(from: base, byteCount: writerIndex)
        base.deallocate()
        base = nb
        capacity = newCap
    }

    /// Shrinks back to `capacity` when idle, so idle keep-alive connections stay small.
    public func shrink(to small: Int) {
        guard capacity > small, readableCount == 0 else { return }
        base.deallocate()
        capacity = small
        base = .allocate(byteCount: small, alignment: 16)
        clear()
    }

    @inline(__always) public func append(_ byte: UInt8) {
        if writerIndex == capacity { reserve(1) }
        base.storeBytes(of: byte, toByteOffset: writerIndex, as: UInt8.self)
        writerIndex += 1
    }

    @inline(__always) public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + writerIndex).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        writerIndex += bytes.count
    }

    @inline(__always) public func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    @inline(__always) public func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public func append(string s: String) {
        // A native string's bytes are read in place; only a bridged or small one is copied.
        if s.utf8.withContiguousStorageIfAvailable({ append(UnsafeRawBufferPointer($0)) }) != nil { return }
        var s = s
        s.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Appends a decimal number ("-" first when negative; Int64.min too).
    public func append(decimal value: Int64) {
        var v = value.magnitude
        if value < 0 { append(UInt8(ascii: "-")) }
        reserve(20)
        // The digits counted first (by comparison up to five, the usual lengths), then
        // written from the last one straight into place.
        var digits: Int
        if v < 100_000 {
            digits = v < 10 ? 1 : v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : 5
        } else {
            digits = 6
            var rest = v / 1_000_000
            while rest > 0 {
                rest /= 10
                digits &+= 1
            }
        }
        var p = base + writerIndex + digits
        repeat {
            p -= 1
            let (q, r) = v.quotientAndRemainder(dividingBy: 10)
            p.storeBytes(of: UInt8(truncatingIfNeeded: r) &+ 48, as: UInt8.self)
            v = q
        } while v > 0
        writerIndex += digits
    }

    /// Appends milliseconds as seconds with three decimals ("12.345"), as `$msec` and
    /// `$request_time` are written.
    public func append(seconds milliseconds: Int64) {
        append(decimal: milliseconds / 1000)
        append(UInt8(ascii: "."))
        let frac = milliseconds % 1000
        if frac < 100 { append(UInt8(ascii: "0")) }
        if frac < 10 { append(UInt8(ascii: "0")) }
        append(decimal: frac)
    }
}
