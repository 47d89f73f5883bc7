// `ssl_certificate_cache` / `proxy_ssl_certificate_cache`: the files of certificates
// named by variables, kept between handshakes with nginx's rules. At most `max`
// files (a certificate and its key count as two; the least recently used goes first);
// a file not used for `inactive` seconds is dropped; after `valid` seconds a file is
// checked again (its inode and mtime) and read anew when it changed or is gone. An
// encrypted key is never kept. Shared by the worker threads (a lock per lookup: one
// per handshake that names a certificate by variables).

import Glibc
import Synchronization

public final class TLSCertificateCache: TLSFileSource {
    private struct Entry {
        var bytes: [UInt8]
        var identity: [Int]?
        /// Milliseconds (monotonic) of the last read or check, and of the last use.
        var created: Int
        var accessed: Int
        /// Order of use, for evicting the least recently used.
        var used: Int
    }

    private struct Table {
        var entries: [String: Entry] = [:]
        var uses = 0
    }

    private let max: Int
    private let inactive: Int
    private let valid: Int
    private let identity: @Sendable (String) -> [Int]?
    private let table = Mutex(Table())

    /// Times in milliseconds; `identity` names a file's version (nil when it is gone).
    public init(max: Int, inactive: Int, valid: Int, identity: @escaping @Sendable (String) -> [Int]?) {
        self.max = Swift.max(1, max)
        self.inactive = inactive
        self.valid = valid
        self.identity = identity
    }

    public func bytes(_ path: String, what: String) throws(TLSError) -> [UInt8] {
        try fetch(path, what: what, keep: { _ in true })
    }

    public func keyBytes(_ path: String) throws(TLSError) -> [UInt8] {
        // A key that needs a password is read (and decrypted) for each handshake.
        try fetch(path, what: "certificate key", keep: { !Self.isEncrypted($0) })
    }

    public func invalidate(_ path: String) {
        table.withLock { $0.entries[path] = nil }
    }

    private func fetch(_ path: String, what: String, keep: ([UInt8]) -> Bool) throws(TLSError) -> [UInt8] {
        let now = Self.milliseconds()
        let cached: [UInt8]? = table.withLock { t in
            // Drop what was not used for `inactive`.
            for (key, entry) in t.entries where now - entry.accessed >= inactive { t.entries[key] = nil }
            guard var entry = t.entries[path] else { return nil }
            if now - entry.created >= valid {
                let current = identity(path)
                guard current != nil, current == entry.identity else {
                    t.entries[path] = nil
                    return nil
                }
                entry.created = now
            }
            t.uses += 1
            entry.accessed = now
            entry.used = t.uses
            t.entries[path] = entry
            return entry.bytes
        }
        if let cached { return cached }
        let id = identity(path)
        let read = try readFile(path, what: what)
        guard keep(read) else { return read }
        table.withLock { t in
            while t.entries.count >= max, let oldest = t.entries.min(by: { $0.value.used < $1.value.used }) {
                t.entries[oldest.key] = nil
            }
            t.uses += 1
            t.entries[path] = Entry(bytes: read, identity: id, created: now, accessed: now, used: t.uses)
        }
        return read
    }

    private static func milliseconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    /// PEM private keys under a password say so in their header.
    static func isEncrypted(_ pem: [UInt8]) -> Bool {
        let marker = Array("ENCRYPTED".utf8)
        guard pem.count >= marker.count else { return false }
        for i in 0...(pem.count - marker.count) where pem[i] == marker[0] {
            if pem[i..<(i + marker.count)].elementsEqual(marker) { return true }
        }
        return false
    }
}
