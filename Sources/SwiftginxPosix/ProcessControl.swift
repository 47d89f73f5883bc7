// Process-level calls: ids, CPU count, daemonizing, signalling another process
// (for `-s`), threads, and the open-files limit.

import CSwiftginxShims
import Glibc

public enum ProcessControl {
    public static var pid: Int32 { getpid() }
    public static var threadID: Int32 { swiftginx_gettid() }

    public static var onlineCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Sends `signal` to `pid`.
    public static func kill(_ pid: Int32, _ signal: Int32) throws(SystemError) {
        if Glibc.kill(pid, signal) < 0 { throw SystemError("kill", errno: errno) }
    }

    /// Detaches from the terminal: fork (the parent exits), setsid, stdio to /dev/null.
    /// Must run before any thread is started.
    public static func daemonize() throws(SystemError) {
        let p = fork()
        if p < 0 { throw SystemError("fork", errno: errno) }
        if p > 0 { _exit(0) }
        if setsid() < 0 { throw SystemError("setsid", errno: errno) }
        umask(0)
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 0)
            dup2(null, 1)
            if null > 2 { close(null) }
        }
    }

    /// Points stderr at /dev/null (after daemonizing, once the error log is open).
    public static func detachStderr() {
        let null = open("/dev/null", O_RDWR)
        if null >= 0 {
            dup2(null, 2)
            if null > 2 { close(null) }
        }
    }

    /// Raises RLIMIT_NOFILE (`worker_rlimit_nofile`).
    public static func setOpenFileLimit(_ n: Int) throws(SystemError) {
        var r = rlimit(rlim_cur: rlim_t(n), rlim_max: rlim_t(n))
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) < 0 { throw SystemError("setrlimit(RLIMIT_NOFILE)", errno: errno) }
    }

    /// Starts a detached-join pthread running `body`; returns its handle for `join`.
    public static func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        let ctx = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        pthread_create(
            &tid, nil,
            { raw in
                let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! Box
                box.body()
                return nil
            }, ctx)
        return tid
    }

    public static func join(_ t: pthread_t) { pthread_join(t, nil) }
}

extension ProcessControl {
    /// The machine's host name (`$hostname`).
    public static let hostname: String = {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}
