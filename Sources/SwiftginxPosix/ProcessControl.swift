// Process-level calls: ids, CPU count, daemonizing, signalling another process
// (for `-s`), threads, and the open-files limit.

import CSwiftginxShims
import Glibc

public enum ProcessControl {
    public static var pid: Int32 { getpid() }
    public static var threadID: Int32 { swiftginx_gettid() }

    public static var onlineCPUs: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// True when running as root (the effective user id is 0).
    public static var isSuperuser: Bool { geteuid() == 0 }

    /// Sends `signal` to `pid`.
    public static func kill(_ pid: Int32, _ signal: Int32) throws(SystemError) {
        if Glibc.kill(pid, signal) < 0 { throw SystemError("kill", errno: errno) }
    }

    /// Detaches from the terminal: fork (the parent exits), setsid, stdio to /dev/null.
    /// Must run before any thread is started.
    public static func daemonize() throws(SystemError) {
        let p = Glibc.fork()
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
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) < 0 {
            throw SystemError("setrlimit(RLIMIT_NOFILE)", errno: errno)
        }
    }

    /// Starts a detached-join pthread running `body`; returns its handle for `join`.
    public static func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box {
            let body: @Sendable () -> Void
            init(_ b: @escaping @Sendable () -> Void) { body = b }
        }
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

extension ProcessControl {
    /// Starts `path` with `arguments` (argv[0] included), stdin from /dev/null,
    /// stdout/stderr on the given descriptors (-1: /dev/null) and no other
    /// inherited descriptor, so a long-lived child holds nothing of ours.
    public static func spawn(_ path: String, _ arguments: [String], stdout: Int32, stderr: Int32) throws(SystemError)
        -> Int32
    {
        var cargs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        cargs.append(nil)
        defer { for p in cargs { free(p) } }
        let pid = swiftginx_spawn(path, cargs, stdout, stderr)
        if pid < 0 { throw SystemError("fork", errno: errno) }
        return pid
    }

    /// Waits up to `timeout` ms for `pid` to exit; returns its exit status (128+signal
    /// when killed), or nil while it still runs.
    public static func wait(_ pid: Int32, timeout: Int) -> Int32? {
        let deadline = Clock.monotonicMilliseconds() + Int64(timeout)
        while true {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                if status & 0x7f == 0 { return (status >> 8) & 0xff }
                return 128 + (status & 0x7f)
            }
            if r < 0 { return -1 }
            if Clock.monotonicMilliseconds() >= deadline { return nil }
            usleep(10_000)
        }
    }
}

extension ProcessControl {
    /// nginx's `env`: the environment becomes TZ (when set) plus the listed variables,
    /// `NAME` keeping its inherited value and `NAME=value` setting one.
    public static func restrictEnvironment(to lines: [String]) {
        var keep: [(String, String)] = []
        if let tz = getenv("TZ") { keep.append(("TZ", String(cString: tz))) }
        for line in lines {
            if let eq = line.firstIndex(of: "=") {
                keep.append((String(line[..<eq]), String(line[line.index(after: eq)...])))
            } else if let value = getenv(line) {
                keep.append((line, String(cString: value)))
            }
        }
        clearenv()
        for (name, value) in keep { setenv(name, value, 1) }
        tzset()
    }
}
