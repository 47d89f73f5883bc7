// The file of one cache entry, in swiftginx's own layout (nginx's binary header is not
// reproduced; what is stored and how it behaves is nginx's):
//
//     0   "SGXC" and the format version (4 + 4 bytes)
//     8   valid until (wall-clock seconds)        16  stored at (wall-clock ms)
//     24  body offset                             32  body length
//     40  head length                             44  key length
//     48  stale-while-revalidate seconds          56  stale-if-error seconds
//     64  the cache key, then the body, then the response head
//
// The head is the upstream's status line and fields as received, without its framing
// fields (Content-Length, Transfer-Encoding, Connection, Keep-Alive) and with the
// stored body's Content-Length, so a hit is answered like a fresh upstream response.
// It comes after the body because its length is known only at the end.
// `CacheWriter` writes an entry into a temporary file beside its final name and
// renames it into place when the body is complete: a crash, a `kill -9` or a failed
// upstream leave at most a temporary file (the loader removes those), never a part of
// an entry under its name.

import SwiftginxHTTP
import SwiftginxPosix
import Synchronization

/// The fixed header of an entry file.
struct CacheEntryHeader {
    static let size = 64
    static let magic: [UInt8] = Array("SGXC".utf8) + [1, 0, 0, 0]

    var validUntil: Int64 = 0
    var storedAt: Int64 = 0
    var bodyOffset: Int64 = 0
    var bodyLength: Int64 = 0
    var headLength: Int = 0
    var keyLength: Int = 0
    /// Cache-Control's stale-while-revalidate / stale-if-error windows (seconds).
    var updatingSeconds: Int64 = 0
    var errorSeconds: Int64 = 0

    var bytes: [UInt8] {
        var out = Self.magic
        func put64(_ v: Int64) {
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (8 * UInt64(i)))) }
        }
        func put32(_ v: Int) { for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * i))) } }
        put64(validUntil)
        put64(storedAt)
        put64(bodyOffset)
        put64(bodyLength)
        put32(headLength)
        put32(keyLength)
        put64(updatingSeconds)
        put64(errorSeconds)
        out += [UInt8](repeating: 0, count: Self.size - out.count)
        return out
    }

    init() {}

    init?(_ b: [UInt8]) {
        guard b.count >= Self.size, Array(b[0..<8]) == Self.magic else { return nil }
        func get64(_ at: Int) -> Int64 {
            var v: UInt64 = 0
            for i in (0..<8).reversed() { v = v << 8 | UInt64(b[at + i]) }
            return Int64(bitPattern: v)
        }
        func get32(_ at: Int) -> Int {
            var v = 0
            for i in (0..<4).reversed() { v = v << 8 | Int(b[at + i]) }
            return v
        }
        validUntil = get64(8)
        storedAt = get64(16)
        bodyOffset = get64(24)
        bodyLength = get64(32)
        headLength = get32(40)
        keyLength = get32(44)
        updatingSeconds = get64(48)
        errorSeconds = get64(56)
        // A damaged file's numbers never overflow the checks made on them.
        guard bodyOffset >= Int64(Self.size), bodyOffset < 1 << 40, bodyLength >= 0, bodyLength < 1 << 56,
            headLength > 0 && headLength < 1 << 20,
            keyLength < 1 << 16
        else { return nil }
    }
}

/// An opened entry: its descriptor, header, key and head (the body stays on disk).
struct CacheEntry {
    let fd: Int32
    let header: CacheEntryHeader
    let key: [UInt8]
    let head: [UInt8]
    let fileInfo: FileInfo

    /// Opens and checks the entry at `path`; nil when missing or damaged.
    static func load(_ path: String) -> CacheEntry? {
        guard let fd = FileSystem.openExisting(path) else { return nil }
        return load(fd: fd)
    }

    /// Opens the entry at a NUL-terminated path.
    static func load(pathBytes: [UInt8]) -> CacheEntry? {
        let fd: Int32? = pathBytes.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { try? FileSystem.openReadOnly($0.baseAddress!) }
        }
        guard let fd else { return nil }
        return load(fd: fd)
    }

    private static func load(fd: Int32) -> CacheEntry? {
        guard let info = try? FileSystem.info(fd), info.isRegular else {
            FileSystem.close(fd)
            return nil
        }
        var raw = [UInt8](repeating: 0, count: CacheEntryHeader.size)
        guard
            raw.withUnsafeMutableBytes({ FileSystem.readFully(fd, into: $0.baseAddress!, count: $0.count, offset: 0) }),
            let h = CacheEntryHeader(raw), h.bodyOffset + h.bodyLength + Int64(h.headLength) == info.size
        else {
            FileSystem.close(fd)
            return nil
        }
        var key = [UInt8](repeating: 0, count: h.keyLength)
        var head = [UInt8](repeating: 0, count: h.headLength)
        let ok =
            key.withUnsafeMutableBytes {
                $0.isEmpty
                    || FileSystem.readFully(
                        fd, into: $0.baseAddress!, count: $0.count, offset: Int64(CacheEntryHeader.size))
            }
            && head.withUnsafeMutableBytes {
                FileSystem.readFully(fd, into: $0.baseAddress!, count: $0.count, offset: h.bodyOffset + h.bodyLength)
            }
        guard ok else {
            FileSystem.close(fd)
            return nil
        }
        return CacheEntry(fd: fd, header: h, key: key, head: head, fileInfo: info)
    }

    /// Rewrites the header's validity in place (a revalidated entry).
    static func setValidity(_ path: String, validUntil: Int64, storedAt: Int64) {
        guard let e = load(path) else { return }
        defer { FileSystem.close(e.fd) }
        var h = e.header
        h.validUntil = validUntil
        h.storedAt = storedAt
        guard let fd = try? FileSystem.createOrOpenForWriting(path) else { return }
        defer { FileSystem.close(fd) }
        let b = h.bytes
        b.withUnsafeBytes { try? FileSystem.writeAll(fd, $0.baseAddress!, $0.count, at: 0) }
    }
}

/// An entry being written: a temporary file beside the final name, renamed into place
/// by `commit`. Dropped without a commit, the temporary file is removed.
final class CacheWriter {
    let zone: CacheZone
    let hash: CacheKeyHash
    let finalPath: String
    let tempPath: String
    private var fd: Int32
    private(set) var bodyLength: Int64 = 0
    let bodyOffset: Int64
    var failed = false
    /// Wall-clock seconds until which the entry will be fresh.
    var validUntil: Int64 = 0
    /// The upstream's head as received (the client may get a ranged one).
    var headRaw: [UInt8] = []
    /// The answer's Vary names (it is stored as a variant of the key), or nil.
    var varyNames: [UInt8]? = nil
    /// stale-while-revalidate / stale-if-error of the answer (seconds).
    var windows: (updating: Int64, error: Int64) = (0, 0)
    var head = ResponseHead()
    private var committed = false
    private static let counter = Mutex(0)

    init?(zone: CacheZone, hash: CacheKeyHash, key: [UInt8]) {
        self.zone = zone
        self.hash = hash
        finalPath = zone.path(hash)
        let n = Self.counter.withLock {
            $0 += 1
            return $0
        }
        tempPath = finalPath + "." + String(ProcessControl.pid) + "." + String(n)
        var dirs: [String] = []
        var d = zone.config.path
        var end = 32
        let hex = hash.hex
        for n in zone.config.levels {
            d += "/" + String(decoding: hex[(end - n)..<end], as: UTF8.self)
            end -= n
            dirs.append(d)
        }
        FileSystem.makeDirectory(zone.config.path)
        guard let f = try? FileSystem.createNew(tempPath, directories: dirs) else { return nil }
        fd = f
        bodyOffset = Int64(CacheEntryHeader.size + key.count)
        let placeholder = [UInt8](repeating: 0, count: CacheEntryHeader.size) + key
        do {
            try placeholder.withUnsafeBytes { try FileSystem.writeAll(fd, $0.baseAddress!, $0.count, at: 0) }
        } catch {
            FileSystem.close(fd)
            FileSystem.unlink(tempPath)
            return nil
        }
    }

    /// Appends body bytes (a write error marks the entry failed; it is then not stored).
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard !failed, let base = bytes.baseAddress, bytes.count > 0 else { return }
        do {
            try FileSystem.writeAll(fd, base, bytes.count, at: bodyOffset + bodyLength)
            bodyLength += Int64(bytes.count)
        } catch {
            failed = true
        }
    }

    /// Writes the head and the header and renames the file into place; the zone's index
    /// learns of it (and what the manager removes is unlinked). False when not stored.
    func commit(head: [UInt8], validUntil: Int64, now: Int64, keyLength: Int) -> Bool {
        guard !failed, !committed else { return false }
        var h = CacheEntryHeader()
        h.validUntil = validUntil
        h.storedAt = Clock.wallMilliseconds()
        h.bodyOffset = bodyOffset
        h.bodyLength = bodyLength
        h.headLength = head.count
        h.keyLength = keyLength
        h.updatingSeconds = windows.updating
        h.errorSeconds = windows.error
        do {
            try head.withUnsafeBytes {
                try FileSystem.writeAll(fd, $0.baseAddress!, $0.count, at: bodyOffset + bodyLength)
            }
            try h.bytes.withUnsafeBytes { try FileSystem.writeAll(fd, $0.baseAddress!, $0.count, at: 0) }
        } catch {
            return false
        }
        FileSystem.close(fd)
        fd = -1
        guard FileSystem.rename(tempPath, to: finalPath) else {
            FileSystem.unlink(tempPath)
            return false
        }
        committed = true
        let size = bodyOffset + bodyLength + Int64(head.count)
        zone.unlinkAll(zone.commit(hash, validUntil: validUntil, size: size, now: now, windows: windows))
        return true
    }

    deinit {
        if fd >= 0 { FileSystem.close(fd) }
        if !committed { FileSystem.unlink(tempPath) }
    }
}
