// Access logs whose path holds variables: the file is opened for each line and closed
// after it, unless `open_log_file_cache` is set — then a worker keeps, per path, how
// often it was used and, once it has been used `min_uses` times, its descriptor. At
// `max` entries the least recently used one is dropped (its descriptor closed); entries
// unused for `inactive` go, and a kept descriptor older than `valid` is reopened. As in
// nginx, a file moved away keeps receiving lines while its descriptor is cached.

import SwiftginxConfig
import SwiftginxPosix

final class LogFileCache {
    private struct Entry {
        var fd: Int32 = -1
        var uses = 0
        var lastUse: Int64 = 0
        var opened: Int64 = 0
        /// Order of last use (times can be equal within a millisecond).
        var sequence = 0
    }
    private var sequence = 0
    private var entries: [[UInt8]: Entry] = [:]

    /// Appends `line` to the file at `path`; `report` gets an error line to log.
    func write(
        _ path: [UInt8], _ line: UnsafeRawBufferPointer, settings: OpenLogFileCacheSettings?, now: Int64,
        report: (String) -> Void
    ) {
        let name = String(decoding: path, as: UTF8.self)
        guard let settings else {
            guard let fd = openLog(name, report) else { return }
            FileSystem.writeAll(fd, line)
            FileSystem.close(fd)
            return
        }
        expire(now: now, inactive: Int64(settings.inactive))
        var e: Entry
        var fresh: Int32 = -1
        if let found = entries[path] {
            e = found
        } else {
            // A file that cannot be opened makes no entry (and evicts nothing), as nginx.
            guard let fd = openLog(name, report) else { return }
            fresh = fd
            if entries.count >= settings.max, let oldest = entries.min(by: { $0.value.sequence < $1.value.sequence }) {
                if oldest.value.fd >= 0 { FileSystem.close(oldest.value.fd) }
                entries[oldest.key] = nil
            }
            e = Entry()
        }
        e.uses += 1
        e.lastUse = now
        sequence += 1
        e.sequence = sequence
        if e.fd >= 0 && now - e.opened >= Int64(settings.valid) {
            FileSystem.close(e.fd)
            e.fd = -1
        }
        var fd = e.fd >= 0 ? e.fd : fresh
        if fd < 0 {
            guard let opened = openLog(name, report) else {
                entries[path] = e
                return
            }
            fd = opened
        }
        if e.fd < 0 && e.uses >= settings.minUses {
            e.fd = fd
            e.opened = now
        }
        FileSystem.writeAll(fd, line)
        if e.fd != fd { FileSystem.close(fd) }
        entries[path] = e
    }

    private func openLog(_ name: String, _ report: (String) -> Void) -> Int32? {
        do { return try FileSystem.openAppend(name) } catch {
            report("open() \"\(name)\" failed (\(error.errno): \(SystemError.message(error.errno)))")
            return nil
        }
    }

    private func expire(now: Int64, inactive: Int64) {
        for (k, e) in entries where now - e.lastUse >= inactive {
            if e.fd >= 0 { FileSystem.close(e.fd) }
            entries[k] = nil
        }
    }

    /// Closes every kept descriptor (the worker stops).
    func closeAll() {
        for e in entries.values where e.fd >= 0 { FileSystem.close(e.fd) }
        entries.removeAll()
    }
}
