// Encoder for the request packet of the uwsgi binary protocol: what nginx's `uwsgi_pass`
// sends to a uWSGI `--socket` before the request body. The packet is a 4-byte header
// (modifier1: u8, datasize: u16 little-endian, modifier2: u8) followed by `datasize` bytes
// of variables, each `key_size (u16 LE) key val_size (u16 LE) val`
// (https://uwsgi-docs.readthedocs.io/en/latest/Protocol.html). For a WSGI request
// modifier1 and modifier2 are 0 (nginx's `uwsgi_modifier1` / `uwsgi_modifier2`); the body
// follows the packet unframed, its length given by the CONTENT_LENGTH variable.

/// The uwsgi request packet (header + variables).
public struct UwsgiPacket {
    /// Largest key, value or variables block the 16-bit size fields can carry.
    public static let maxSize = 65535

    /// Bytes the variables block of `params` takes (without the 4-byte header).
    @inlinable
    public static func varsSize(_ params: [(key: [UInt8], value: [UInt8])]) -> Int {
        var n = 0
        for p in params { n &+= 4 &+ p.key.count &+ p.value.count }
        return n
    }

    /// Appends the packet for `params` (in order; repeated keys are sent repeated) to `out`.
    /// Returns false and leaves `out` unchanged when a key or value is longer than 65535
    /// bytes or the variables block is (nginx: "uwsgi request is too big", answered 500).
    @inlinable
    public static func append(
        params: [(key: [UInt8], value: [UInt8])], modifier1: UInt8, modifier2: UInt8, to out: inout [UInt8]
    ) -> Bool {
        var size = 0
        for p in params {
            if p.key.count > maxSize || p.value.count > maxSize { return false }
            size &+= 4 &+ p.key.count &+ p.value.count
            if size > maxSize { return false }
        }
        out.reserveCapacity(out.count &+ 4 &+ size)
        out.append(modifier1)
        appendUInt16LE(size, to: &out)
        out.append(modifier2)
        for p in params {
            appendUInt16LE(p.key.count, to: &out)
            out.append(contentsOf: p.key)
            appendUInt16LE(p.value.count, to: &out)
            out.append(contentsOf: p.value)
        }
        return true
    }

    @inlinable @inline(__always)
    static func appendUInt16LE(_ n: Int, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
    }
}
