// Per-worker cache of open files, keyed by path. Without `open_file_cache` a cached
// descriptor is used only while (device, inode, size, mtime, ctime) are unchanged, as
// one stat() shows them, so a rewritten, replaced, removed or chmod-ed file is seen
// by the next turn of the worker's loop, as nginx's open-per-request behaviour shows
// it — at one syscall instead of three (open, fstat, close). That stat() is made once
// per file and loop turn: the requests one epoll_wait() delivered were all under way
// at once, and they share it (as h2o's per-turn file cache does); under load it was
// the most expensive system call of a static request. Files up to `smallFileLimit`
// keep their bytes in memory and are answered with a single send. With
// `open_file_cache max=N valid=T`, entries are trusted for T without a stat, as nginx
// does.

import Glibc
import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

final class OpenFileCache {
    final class Entry {
        let fd: Int32
        let info: FileInfo
        /// The whole file, for small files.
        let contents: [UInt8]?
        /// Monotonic ms of the last stat() that confirmed this entry.
        var validatedAt: Int64
        /// The loop turn of that stat() (see `turn`).
        var validatedTurn: UInt64 = 0
        var lastUsed: Int64
        /// `open_file_cache inactive=` of the location that last used it (60 s by default).
        var inactiveMs: Int64 = 60_000
        /// Lookups since it was opened (open_file_cache_min_uses).
        var uses = 0
        /// Responses currently sending from `fd` (never closed while > 0).
        var users = 0
        var retired = false
        /// Header values derived from `info`, built on first use.
        lazy var lastModified: [UInt8] = HTTPDate.format(info.mtime)
        /// nginx's ETag: "<mtime hex>-<size hex>".
        lazy var etag: [UInt8] = Array("\"\(String(info.mtime, radix: 16))-\(String(info.size, radix: 16))\"".utf8)
        /// The Content-Type last computed for this file, with the type table it came from.
        var contentType: (types: ObjectIdentifier, defaultType: String, value: String)? = nil
        /// Compressed copies (on-the-fly compression), by coding, with the level used.
        var compressed: [ContentCoding: (level: Int, bytes: [UInt8])] = [:]

        init(fd: Int32, info: FileInfo, contents: [UInt8]?, now: Int64) {
            self.fd = fd
            self.info = info
            self.contents = contents
            validatedAt = now
            lastUsed = now
        }
    }

    static let smallFileLimit: Int64 = 32 * 1024
    /// The worker's loop turn (advanced after each epoll_wait; never 0 after the first):
    /// an entry confirmed in this turn is not looked at again until the next. Code that
    /// writes files a location serves (none yet: no DAV, no proxy_store) must advance it.
    var turn: UInt64 = 0
    static let defaultCapacity = 1024
    private var entries: [ByteKey: Entry] = [:]

    /// What a lookup found.
    enum Lookup {
        case file(Entry)
        case directory(FileInfo)
        case notRegular
        case failure(SystemError, call: String)
    }

    /// How a location wants the cache used (from `open_file_cache*`).
    struct Policy {
        /// > 0: trust an entry this young without a stat (open_file_cache_valid).
        var validMs = 0
        var capacity = OpenFileCache.defaultCapacity
        var inactiveMs: Int64 = 60_000
        /// Uses within `inactive` before an entry is trusted without a stat.
        var minUses = 1
        /// Remember failed opens for `validMs` (open_file_cache_errors).
        var cacheErrors = false

        init(_ s: OpenFileCacheSettings) {
            guard s.max > 0 else { return }
            validMs = s.valid * 1000
            capacity = s.max
            inactiveMs = Int64(s.inactive) * 1000
            minUses = max(1, s.minUses)
            cacheErrors = s.errors
        }
    }

    /// Failed opens remembered under open_file_cache_errors: the error and when.
    private var failures: [ByteKey: (error: SystemError, at: Int64)] = [:]

    /// Looks `path` up: `path` ends with a NUL and `cpath` points at the same bytes.
    func lookup(path: [UInt8], cpath: UnsafePointer<CChar>, now: Int64, policy: Policy) -> Lookup {
        if policy.cacheErrors, let f = failures[ByteKey(path)] {
            if now - f.at < Int64(policy.validMs) { return .failure(f.error, call: "open") }
            failures[ByteKey(path)] = nil
        }
        let result = find(path: path, cpath: cpath, now: now, policy: policy)
        switch result {
        case .file(let e):
            e.inactiveMs = policy.inactiveMs
            e.uses += 1
        case .failure(let error, let call) where call == "open" && policy.cacheErrors && policy.validMs > 0:
            if failures.count >= policy.capacity { failures.removeAll() }
            failures[ByteKey(path)] = (error, now)
        default:
            break
        }
        return result
    }

    private func find(path: [UInt8], cpath: UnsafePointer<CChar>, now: Int64, policy: Policy) -> Lookup {
        if let e = entries[ByteKey(path)] {
            if policy.validMs > 0 && e.uses >= policy.minUses && now - e.validatedAt < Int64(policy.validMs) {
                e.lastUsed = now
                return .file(e)
            }
            if e.validatedTurn == turn {
                e.lastUsed = now
                return .file(e)
            }
            guard let info = try? FileSystem.info(path: cpath) else {
                remove(ByteKey(path), e)
                return lookupUncached(path: path, cpath: cpath, now: now, capacity: policy.capacity)
            }
            if info.sameVersion(as: e.info) {
                e.validatedAt = now
                e.validatedTurn = turn
                e.lastUsed = now
                return .file(e)
            }
            remove(ByteKey(path), e)
        }
        return lookupUncached(path: path, cpath: cpath, now: now, capacity: policy.capacity)
    }

    private func lookupUncached(path: [UInt8], cpath: UnsafePointer<CChar>, now: Int64, capacity: Int) -> Lookup {
        let fd: Int32
        do { fd = try FileSystem.openReadOnly(cpath) } catch { return .failure(error, call: "open") }
        let info: FileInfo
        do { info = try FileSystem.info(fd) } catch {
            FileSystem.close(fd)
            return .failure(error, call: "fstat")
        }
        if info.isDirectory {
            FileSystem.close(fd)
            return .directory(info)
        }
        if !info.isRegular {
            FileSystem.close(fd)
            return .notRegular
        }
        var contents: [UInt8]? = nil
        if info.size <= OpenFileCache.smallFileLimit {
            let n = Int(info.size)
            var bytes = [UInt8](repeating: 0, count: n)
            let ok =
                n == 0
                || bytes.withUnsafeMutableBytes { FileSystem.readFully(fd, into: $0.baseAddress!, count: n, offset: 0) }
            if ok { contents = bytes }
        }
        let e = Entry(fd: fd, info: info, contents: contents, now: now)
        e.validatedTurn = turn
        if entries.count >= capacity { evict(now: now, capacity: capacity) }
        if entries.count < capacity {
            entries[ByteKey(path)] = e
        } else {
            e.retired = true  // not cached: closed when its response ends
        }
        return .file(e)
    }

    /// Marks a response as sending from `e`.
    func retain(_ e: Entry) { e.users += 1 }

    /// A response from `e` ended; closes the descriptor of a retired, unused entry.
    func release(_ e: Entry) {
        e.users -= 1
        if e.users == 0 && e.retired { FileSystem.close(e.fd) }
    }

    private func remove(_ key: ByteKey, _ e: Entry) {
        entries[key] = nil
        e.retired = true
        if e.users == 0 { FileSystem.close(e.fd) }
    }

    /// Drops the least recently used quarter of the entries.
    private func evict(now: Int64, capacity: Int) {
        let victims = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(max(1, capacity / 4))
        for (k, e) in victims { remove(k, e) }
    }

    /// Closes entries unused for their `inactive` time (called about once a second).
    func expire(now: Int64) {
        for (k, e) in entries where now - e.lastUsed > e.inactiveMs { remove(k, e) }
    }
}
