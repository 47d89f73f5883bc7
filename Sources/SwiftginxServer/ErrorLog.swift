// The error log: nginx's line format and levels, written with one write() per
// line so that lines from several workers never interleave.
// `2026/11/22 01:19:49 [error] 4242#4243: *7 open() "/srv/html/x" failed (2: No such file or directory), client: 127.0.0.1, server: localhost, request: "GET /x HTTP/1.1", host: "localhost"`

import Glibc
import SwiftginxConfig
import SwiftginxPosix
import Synchronization

public final class ErrorLog: Sendable {
    private let targets: Mutex<[(LogFile, LogLevel)]>
    private let syslogs: Mutex<[(SyslogSink, LogLevel)]>
    /// The most verbose level any target accepts, read without the lock.
    private let maxLevel: Atomic<Int>

    public init(targets: [(LogFile, LogLevel)]) {
        self.targets = Mutex(targets)
        syslogs = Mutex([])
        maxLevel = Atomic(targets.map { $0.1.rawValue }.max() ?? 0)
    }

    init(targets: [(LogFile, LogLevel)], syslogs: [(SyslogSink, LogLevel)]) {
        self.targets = Mutex(targets)
        self.syslogs = Mutex(syslogs)
        maxLevel = Atomic((targets.map { $0.1.rawValue } + syslogs.map { $0.1.rawValue }).max() ?? 0)
    }

    public func replaceTargets(_ t: [(LogFile, LogLevel)]) {
        replaceTargets(t, syslogs: [])
    }

    func replaceTargets(_ t: [(LogFile, LogLevel)], syslogs s: [(SyslogSink, LogLevel)]) {
        targets.withLock { $0 = t }
        syslogs.withLock { $0 = s }
        maxLevel.store((t.map { $0.1.rawValue } + s.map { $0.1.rawValue }).max() ?? 0, ordering: .relaxed)
    }

    @inline(__always) public func enabled(_ level: LogLevel) -> Bool {
        level.rawValue <= maxLevel.load(ordering: .relaxed)
    }

    /// Writes `message` at `level`; `connection` is the connection number (`*N`), if any.
    public func log(_ level: LogLevel, _ message: String, connection: Int? = nil) {
        guard enabled(level) else { return }
        var line = ErrorLog.line(level, message, connection: connection)
        let t = targets.withLock { $0 }
        line.withUTF8 { buf in
            for (file, lvl) in t where level.rawValue <= lvl.rawValue {
                file.write(UnsafeRawBufferPointer(buf))
            }
        }
        let s = syslogs.withLock { $0 }
        for (sink, lvl) in s where level.rawValue <= lvl.rawValue { sink.send(errorLine: line, level: level) }
    }

    /// One line in nginx's format, newline included.
    static func line(_ level: LogLevel, _ message: String, connection: Int?) -> String {
        var line = ErrorLog.timestamp()
        line += " [\(level.name)] \(ProcessControl.pid)#\(ProcessControl.threadID): "
        if let connection { line += "*\(connection) " }
        line += message
        line += "\n"
        return line
    }

    /// Writes to the `error_log` targets of an http, server or location level, each
    /// whose level takes the line (`files` holds the open files by path).
    static func log(
        _ level: LogLevel, _ message: String, connection: Int?, to targets: [ErrorLogTarget],
        files: [String: LogFile], syslog: (SyslogTarget) -> SyslogSink
    ) {
        var line = ErrorLog.line(level, message, connection: connection)
        for t in targets where level.rawValue <= t.level.rawValue {
            if let s = t.syslog { syslog(s).send(errorLine: line, level: level) }
        }
        line.withUTF8 { buf in
            for t in targets where level.rawValue <= t.level.rawValue && t.syslog == nil {
                if t.path == "stderr" {
                    FileSystem.writeAll(2, UnsafeRawBufferPointer(buf))
                } else if let f = files[t.path] {
                    f.write(UnsafeRawBufferPointer(buf))
                }
            }
        }
    }

    /// "2026/11/22 01:19:49" in local time, as nginx writes it.
    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(tmv.tm_year + 1900)/\(two(tmv.tm_mon + 1))/\(two(tmv.tm_mday)) "
            + "\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))"
    }
}
