// Per-worker access logging: each line is formatted from its `log_format` into a
// buffer per log file and written when the buffer fills, once a second, and when
// the worker stops — one write() per flush, never a lock.

import SwiftginxConfig
import SwiftginxRouting

final class AccessLogWriter {
    private struct Pending {
        let file: LogFile
        let buffer: ByteBuffer
    }
    private var pending: [ObjectIdentifier: Pending] = [:]
    static let flushThreshold = 32 * 1024

    func buffer(for file: LogFile) -> ByteBuffer {
        let key = ObjectIdentifier(file)
        if let p = pending[key] { return p.buffer }
        let b = ByteBuffer(capacity: Self.flushThreshold + 4096)
        pending[key] = Pending(file: file, buffer: b)
        return b
    }

    func lineWritten(_ file: LogFile) {
        if let p = pending[ObjectIdentifier(file)], p.buffer.readableCount >= Self.flushThreshold {
            file.write(p.buffer.readable)
            p.buffer.clear()
        }
    }

    func flushAll() {
        for p in pending.values where p.buffer.readableCount > 0 {
            p.file.write(p.buffer.readable)
            p.buffer.clear()
        }
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
            guard let file = generation.accessLogFiles[t.path] else { continue }
            let out = accessLog.buffer(for: file)
            for seg in t.format.value.segments {
                switch seg {
                case .literal(let b): out.append(b)
                case .variable(let v):
                    let before = out.writerIndex
                    Variables.append(c, v, to: out)
                    if out.writerIndex == before && !Variables.foundWhenEmpty(c, v) {
                        out.append(UInt8(ascii: "-"))
                    } else {
                        escape(out, from: before, t.format.escape)
                    }
                }
            }
            out.append(UInt8(ascii: "\n"))
            accessLog.lineWritten(file)
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
