// Per-worker access logging, as nginx's log module writes: a line is formatted from its
// `log_format` when the request ends and, for a plain `access_log`, written at once
// (one write() per line and file, so another process reading the log sees it as soon
// as the response is done). `buffer=size` collects lines per file until the buffer
// would overflow, `flush=time` has passed, once a second, or the worker stops; with
// `gzip` each flushed buffer is written as one gzip member. `if=` skips a line whose
// condition is empty or "0". A path with variables is evaluated per line (nothing is
// written while the request's root directory is missing, as nginx) and opened for it — through a per-worker `open_log_file_cache` when one is set (descriptors kept
// after `min_uses` uses, the least recently used closed when `max` is reached, unused
// ones after `inactive`). Never a lock: the buffers and the cache belong to the worker.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxRouting

final class AccessLogWriter {
    private final class Pending {
        let file: LogFile
        let buffer: ByteBuffer
        var size: Int
        var gzipLevel: Int
        var flushInterval: Int?
        var deadline: Int64 = 0
        init(file: LogFile, size: Int, gzipLevel: Int, flushInterval: Int?) {
            self.file = file
            self.size = size
            self.gzipLevel = gzipLevel
            self.flushInterval = flushInterval
            buffer = ByteBuffer(capacity: min(size, 64 * 1024) + 4096)
        }
    }
    private var pending: [ObjectIdentifier: Pending] = [:]
    /// The line being formatted.
    let line = ByteBuffer(capacity: 1024)
    /// The earliest `flush=` deadline of a non-empty buffer (0: none).
    private(set) var nextFlush: Int64 = 0
    let cache = LogFileCache()

    /// Queues or writes the formatted `line` for `file`.
    func emit(_ file: LogFile, _ t: AccessLogTarget, now: Int64) {
        if t.bufferSize == 0 {
            file.write(line.readable)
            return
        }
        let key = ObjectIdentifier(file)
        let p: Pending
        if let existing = pending[key] {
            p = existing
        } else {
            p = Pending(file: file, size: t.bufferSize, gzipLevel: t.gzipLevel, flushInterval: t.flushInterval)
            pending[key] = p
        }
        if p.buffer.readableCount > 0 && p.buffer.readableCount + line.readableCount > p.size { write(p) }
        if line.readableCount > p.size {
            // Longer than the buffer: written by itself, as nginx does.
            file.write(line.readable)
            return
        }
        if p.buffer.readableCount == 0, let interval = p.flushInterval {
            p.deadline = now + Int64(interval)
            if nextFlush == 0 || p.deadline < nextFlush { nextFlush = p.deadline }
        }
        p.buffer.append(line.readable)
    }

    /// Writes the buffers whose `flush=` time has come.
    func flushDue(now: Int64) {
        guard nextFlush != 0 && now >= nextFlush else { return }
        nextFlush = 0
        for p in pending.values where p.buffer.readableCount > 0 {
            if p.deadline != 0 && p.deadline <= now {
                write(p)
            } else if p.deadline != 0 && (nextFlush == 0 || p.deadline < nextFlush) {
                nextFlush = p.deadline
            }
        }
    }

    /// How long the worker may wait for events before a `flush=` deadline.
    func maxWait(now: Int64, limit: Int32) -> Int32 {
        if nextFlush == 0 { return limit }
        return Int32(clamping: max(0, min(Int64(limit), nextFlush - now)))
    }

    func flushAll() {
        for p in pending.values where p.buffer.readableCount > 0 { write(p) }
        nextFlush = 0
    }

    private func write(_ p: Pending) {
        p.deadline = 0
        if p.gzipLevel > 0, let encoder = try? StreamingEncoder(coding: .gzip, level: p.gzipLevel) {
            var out: [UInt8] = []
            do {
                try encoder.compress(p.buffer.readable, into: &out)
                try encoder.finish(into: &out)
                out.withUnsafeBytes { p.file.write($0) }
            } catch {
                p.file.write(p.buffer.readable)
            }
        } else {
            p.file.write(p.buffer.readable)
        }
        p.buffer.clear()
    }
}

extension Worker {
    /// Writes the access log lines of the request that just ended on `c`.
    func writeAccessLog(_ c: Request, timedOutHead: Bool = false) {
        // Only the list is taken (the settings are read in place, not copied whole).
        let targets: [AccessLogTarget]
        if let location = c.location {
            targets = location.settings.accessLogs
        } else if let server = c.server {
            targets = server.defaultSettings.accessLogs
        } else {
            return
        }
        if targets.isEmpty { return }
        for t in targets {
            if let condition = t.condition {
                let v = Variables.evaluate(c, condition)
                if v.isEmpty || v == [UInt8(ascii: "0")] { continue }
            }
            let out = accessLog.line
            out.clear()
            for seg in t.format.value.segments {
                switch seg {
                case .literal(let b): out.append(b)
                case .variable(let v):
                    let before = out.writerIndex
                    Variables.append(c, v, to: out)
                    if out.writerIndex == before {
                        // nginx writes "-" for a value it has not found (escape=default), and
                        // nothing for one found empty.
                        if t.format.escape == .default && !Self.foundEmpty(c, v) && !Variables.foundWhenEmpty(c, v) {
                            out.append(UInt8(ascii: "-"))
                        }
                    } else {
                        escape(out, from: before, t.format.escape)
                    }
                }
            }
            if let syslog = t.syslog {
                state.logFiles.syslog(syslog).send(out.readable, severity: syslog.severity)
                continue
            }
            out.append(UInt8(ascii: "\n"))
            if let pathValue = t.pathValue {
                // As nginx: no line (and no file) while the request's root directory is missing.
                if let l = c.location, let missing = Self.missingRoot(c, l) {
                    c.logError(missing)
                    continue
                }
                let path = Variables.evaluate(c, pathValue)
                let cache =
                    c.location.map { $0.settings.logs.openLogFileCache }
                    ?? c.server.map { $0.defaultSettings.logs.openLogFileCache } ?? nil
                accessLog.cache.write(path, accessLog.line.readable, settings: cache, now: now) {
                    c.logError($0, level: .crit)
                }
                continue
            }
            guard let file = generation.accessLogFiles[t.path] else { continue }
            accessLog.emit(file, t, now: now)
        }
    }

    /// Variables nginx has found even when their value is empty (`$is_args` without
    /// arguments, `$https` over plain HTTP, `$arg_a` of `?a=`, ...): logged as nothing.
    private static func foundEmpty(_ c: Request, _ v: Variable) -> Bool {
        switch v {
        // (An empty `$args` is "-", for "/x?" too: checked against nginx.)
        case .isArgs, .requestCompletion, .serverName, .https: return true
        case .arg(let name):
            let key = Array(name.utf8) + [UInt8(ascii: "=")]
            for item in c.args.split(separator: UInt8(ascii: "&")) {
                let trimmed = item.drop { $0 == 32 }
                if trimmed.count >= key.count && trimmed.prefix(key.count).elementsEqual(key) { return true }
            }
            return false
        default: return false
        }
    }

    /// The error line when the request's root is not a directory, else nil.
    private static func missingRoot(_ c: Request, _ l: Location) -> String? {
        let root = String(decoding: Variables.evaluate(c, l.settings.alias ?? l.settings.root), as: UTF8.self)
        if root.isEmpty { return nil }
        let result: Result<FileInfo, SystemError> = root.withCString { p in
            do throws(SystemError) { return .success(try FileSystem.info(path: p)) } catch { return .failure(error) }
        }
        switch result {
        case .success(let info):
            return info.isDirectory ? nil : "testing \"\(root)\" existence failed (20: Not a directory)"
        case .failure(let error):
            return "testing \"\(root)\" existence failed (\(error.errno): \(SystemError.message(error.errno)))"
        }
    }

    /// nginx's escaping of variable values in access logs.
    private func escape(_ out: ByteBuffer, from start: Int, _ mode: LogEscape) {
        if mode == .none { return }
        var needs = false
        for i in start..<out.writerIndex {
            let c = out.base.load(fromByteOffset: i, as: UInt8.self)
            if c < 0x20 || c >= 0x7F || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                needs = true
                break
            }
        }
        if !needs { return }
        let raw = Array(UnsafeRawBufferPointer(start: out.base + start, count: out.writerIndex - start))
        out.writerIndex = start
        let hex = Array("0123456789ABCDEF".utf8)
        for c in raw {
            if c < 0x20 || c >= 0x7F || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") {
                if mode == .json {
                    switch c {
                    case UInt8(ascii: "\""): out.append("\\\"")
                    case UInt8(ascii: "\\"): out.append("\\\\")
                    case 10: out.append("\\n")
                    case 13: out.append("\\r")
                    case 9: out.append("\\t")
                    default:
                        if c >= 0x80 {
                            out.append(c)
                        } else {
                            out.append("\\u00")
                            out.append(hex[Int(c >> 4)])
                            out.append(hex[Int(c & 15)])
                        }
                    }
                } else {
                    out.append("\\x")
                    out.append(hex[Int(c >> 4)])
                    out.append(hex[Int(c & 15)])
                }
            } else {
                out.append(c)
            }
        }
    }
}
