// Process signals delivered through a signalfd: the master blocks TERM, INT,
// QUIT, HUP, USR1 (and friends) in every thread and reads them as events.

import CSwiftginxShims
import Glibc

public final class SignalReceiver {
    public let fd: Int32

    /// Blocks `signals` for the calling thread (and threads it starts later) and
    /// opens a non-blocking signalfd for them.
    public init(_ signals: [Int32]) throws(SystemError) {
        var mask = sigset_t()
        sigemptyset(&mask)
        for s in signals { sigaddset(&mask, s) }
        pthread_sigmask(SIG_BLOCK, &mask, nil)
        fd = try syscall(
            "signalfd", swiftginx_signalfd(-1, &mask, Int32(SFD_NONBLOCK) | Int32(SFD_CLOEXEC)))
    }

    deinit { Glibc.close(fd) }

    /// Waits up to `timeout` ms for a signal to arrive; false on timeout.
    public func wait(timeout: Int) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, Int32(clamping: max(0, timeout))) > 0
    }

    /// The next pending signal number, or nil.
    public func next() -> Int32? {
        let s = swiftginx_signalfd_read(fd)
        return s > 0 ? s : nil
    }

    /// Ignores SIGPIPE for the process (writes use MSG_NOSIGNAL, but sendfile does not).
    public static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }
}

/// Maps nginx's `-s` names to signals.
public enum SignalName {
    public static func number(_ name: String) -> Int32? {
        switch name {
        case "stop": SIGTERM
        case "quit": SIGQUIT
        case "reload": SIGHUP
        case "reopen": SIGUSR1
        default: nil
        }
    }
}
