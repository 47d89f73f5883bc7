// Log files opened for appending and shared by every worker. Reopening (USR1)
// opens the path anew and dup2()s the new descriptor over the old number, so
// writers never see a closed descriptor and need no lock.

import SwiftginxConfig
import SwiftginxPosix
import Synchronization

/// One open log file; `fd` keeps its number for the life of the server.
public final class LogFile: Sendable {
    public let path: String
    public let fd: Int32

    init(path: String, access: any PrivilegedAccess = DirectAccess()) throws(SystemError) {
        self.path = path
        if path == "stderr" {
            fd = 2
        } else {
            fd = try access.openForAppending(path)
        }
    }

    /// Points `fd` at a freshly opened file at `path` (after log rotation).
    func reopen(_ access: any PrivilegedAccess) throws(SystemError) {
        if path == "stderr" { return }
        let fresh = try access.openForAppending(path)
        defer { FileSystem.close(fresh) }
        try FileSystem.replace(fd, with: fresh)
    }

    @inline(__always) func write(_ bytes: UnsafeRawBufferPointer) {
        FileSystem.writeAll(fd, bytes)
    }
}

/// Every log file the server has open, by path, so a reload reuses descriptors.
public final class LogFiles: Sendable {
    private let files = Mutex<[String: LogFile]>([:])
    /// Who opens the files: this process, or the privileged supervisor.
    let access: any PrivilegedAccess
    private let syslogs = Mutex<[SyslogTarget: SyslogSink]>([:])

    public init(access: any PrivilegedAccess = DirectAccess()) {
        self.access = access
    }

    /// The open file for `path`, opening it on first use.
    public func file(_ path: String) throws(SystemError) -> LogFile {
        let existing = files.withLock { $0[path] }
        if let existing { return existing }
        let f = try LogFile(path: path, access: access)
        return files.withLock { d in
            if let e = d[path] { return e }
            d[path] = f
            return f
        }
    }

    /// The descriptors of every open file.
    var descriptors: [Int32] { files.withLock { $0.values.map(\.fd) } }

    /// The datagram sender for a `syslog:` target (one per distinct target).
    func syslog(_ target: SyslogTarget) -> SyslogSink {
        syslogs.withLock { d in
            if let s = d[target] { return s }
            let s = SyslogSink(target)
            d[target] = s
            return s
        }
    }

    /// Reopens all files; returns the errors to log.
    public func reopenAll() -> [String] {
        let all = files.withLock { Array($0.values) }
        var errors: [String] = []
        for f in all {
            do { try f.reopen(access) } catch {
                errors.append("open() \"\(f.path)\" failed (\(error.errno): \(SystemError.message(error.errno)))")
            }
        }
        return errors
    }
}
