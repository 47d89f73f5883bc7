// The one error type for failed system calls, and the wrapper every call goes
// through: EINTR is retried, EAGAIN comes back as `.wouldBlock`, anything else
// throws `SystemError(call, errno)`, printed the way nginx prints it:
// `connect() failed (111: Connection refused)`.

import Glibc

/// A failed system call: its name and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public let call: String
    public let errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// "open() "/x" failed (2: No such file or directory)" style, without the subject.
    public var description: String { "\(call)() failed (\(errno): \(SystemError.message(errno)))" }

    public static func message(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "Unknown error" }
        return String(cString: s)
    }
}

/// The outcome of a non-blocking operation.
public enum IOResult<T> {
    case processed(T)
    case wouldBlock
}

/// Runs a syscall returning a count, retrying EINTR; EAGAIN → `.wouldBlock`.
@inline(__always)
public func syscallIO<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError)
    -> IOResult<T>
{
    while true {
        let r = body()
        if r >= 0 { return .processed(r) }
        let e = Glibc.errno
        if e == EINTR { continue }
        if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
        throw SystemError(name, errno: e)
    }
}

/// Runs a syscall that must not block, retrying EINTR.
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ name: String, _ body: @autoclosure () -> T) throws(SystemError) -> T {
    while true {
        let r = body()
        if r >= 0 { return r }
        let e = Glibc.errno
        if e == EINTR { continue }
        throw SystemError(name, errno: e)
    }
}
