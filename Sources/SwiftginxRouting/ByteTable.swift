// A small immutable hash table from byte strings to integers, built at configuration
// time and probed per request without allocating: the lookup key is a slice of the
// request's own buffer. Used by the server-name and location indexes.

/// Byte-string → Int map with open addressing (FNV-1a, linear probing).
/// Optionally ASCII case-insensitive (keys are stored lowercased).
@usableFromInline struct ByteTable: Sendable {
    @usableFromInline let keys: [UInt8]
    /// Per slot: key offset, key length, value; length -1 marks an empty slot.
    @usableFromInline let slots: [(offset: Int, length: Int, value: Int)]
    @usableFromInline let mask: Int
    @usableFromInline let caseInsensitive: Bool
    @usableFromInline let count: Int
    /// With one key (a server with `location /` alone, say): its value, compared without
    /// hashing; -1 otherwise.
    @usableFromInline let onlyValue: Int

    /// Builds the table; when a key repeats, the first value wins.
    init(_ entries: [([UInt8], Int)], caseInsensitive: Bool = false) {
        var capacity = 8
        while capacity < entries.count * 2 { capacity <<= 1 }
        var keys: [UInt8] = []
        var slots = [(offset: Int, length: Int, value: Int)](repeating: (0, -1, 0), count: capacity)
        var count = 0
        for (rawKey, value) in entries {
            let key = caseInsensitive ? rawKey.map(ByteTable.lower) : rawKey
            var slot = key.withUnsafeBytes { ByteTable.hash($0, caseInsensitive: false) } & (capacity - 1)
            var duplicate = false
            while slots[slot].length >= 0 {
                let s = slots[slot]
                if s.length == key.count && keys[s.offset..<s.offset + s.length].elementsEqual(key) {
                    duplicate = true
                    break
                }
                slot = (slot + 1) & (capacity - 1)
            }
            if duplicate { continue }
            slots[slot] = (keys.count, key.count, value)
            keys += key
            count += 1
        }
        self.keys = keys
        self.slots = slots
        self.mask = capacity - 1
        self.caseInsensitive = caseInsensitive
        self.count = count
        self.onlyValue = count == 1 ? slots.first(where: { $0.length >= 0 })!.value : -1
    }

    @inlinable static func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }

    @inlinable static func hash(_ bytes: UnsafeRawBufferPointer, caseInsensitive: Bool) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(caseInsensitive ? lower(b) : b)
            h &*= 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    /// The value stored for `key`, or nil.
    @inlinable func lookup(_ key: UnsafeRawBufferPointer) -> Int? {
        if count == 0 { return nil }
        if onlyValue >= 0 {
            // The one key is all of `keys`.
            if key.count != keys.count { return nil }
            var i = 0
            while i < key.count {
                let b = caseInsensitive ? ByteTable.lower(key[i]) : key[i]
                if keys[i] != b { return nil }
                i &+= 1
            }
            return onlyValue
        }
        var slot = ByteTable.hash(key, caseInsensitive: caseInsensitive) & mask
        // Subscripts, not withUnsafeBufferPointer: its closure made a copy of `keys`.
        while true {
            let s = slots[slot]
            if s.length < 0 { return nil }
            if s.length == key.count {
                var equal = true
                var i = 0
                while i < s.length {
                    let b = caseInsensitive ? ByteTable.lower(key[i]) : key[i]
                    if keys[s.offset &+ i] != b {
                        equal = false
                        break
                    }
                    i &+= 1
                }
                if equal { return s.value }
            }
            slot = (slot + 1) & mask
        }
    }
}
