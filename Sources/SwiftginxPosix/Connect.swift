// Outgoing connections for upstreams: a non-blocking connect to an IP address or a
// unix-domain socket (EINPROGRESS is the normal answer; the socket then reports
// writable and SO_ERROR tells the outcome), and the pending-error check itself.

import CSwiftginxShims
import Glibc

extension Socket {
    /// The result of starting a connect.
    public enum ConnectStart {
        case connected(Int32)
        /// Wait for the socket to become writable, then call `connectResult`.
        case inProgress(Int32)
    }

    /// Starts a non-blocking connect to `address` (TCP), from `local` when given
    /// (`proxy_bind`: port 0 leaves the port to connect, as IP_BIND_ADDRESS_NO_PORT asks;
    /// `transparent` binds a foreign address with IP_TRANSPARENT).
    public static func connect(to address: SocketAddress, from local: SocketAddress? = nil, transparent: Bool = false)
        throws(SystemError) -> ConnectStart
    {
        let type = Int32(SOCK_STREAM.rawValue) | swiftginx_sock_nonblock() | swiftginx_sock_cloexec()
        let fd = try syscall("socket", Glibc.socket(address.family, type, 0))
        if let local {
            var on: Int32 = 1
            let size = socklen_t(MemoryLayout<Int32>.size)
            if transparent {
                let level = local.family == AF_INET6 ? Int32(IPPROTO_IPV6) : Int32(IPPROTO_IP)
                // IP_TRANSPARENT (19) and IPV6_TRANSPARENT (75).
                let option: Int32 = local.family == AF_INET6 ? 75 : 19
                if setsockopt(fd, level, option, &on, size) < 0 {
                    let e = errno
                    Glibc.close(fd)
                    throw SystemError("setsockopt(IP_TRANSPARENT)", errno: e)
                }
            }
            if local.port == 0 {
                // IP_BIND_ADDRESS_NO_PORT (24): the port is chosen at connect.
                _ = setsockopt(fd, Int32(IPPROTO_IP), 24, &on, size)
            }
            if local.withSockaddr({ Glibc.bind(fd, $0, $1) }) < 0 {
                let e = errno
                Glibc.close(fd)
                throw SystemError("bind", errno: e)
            }
        }
        let r = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        return try finishStart(fd, r)
    }

    /// Starts a non-blocking connect to the unix-domain socket at `path`.
    public static func connect(unixPath path: String) throws(SystemError) -> ConnectStart {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard bytes.count < capacity else { throw SystemError("connect", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &a.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        let type = Int32(SOCK_STREAM.rawValue) | swiftginx_sock_nonblock() | swiftginx_sock_cloexec()
        let fd = try syscall("socket", Glibc.socket(AF_UNIX, type, 0))
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        let r = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        return try finishStart(fd, r)
    }

    private static func finishStart(_ fd: Int32, _ r: Int32) throws(SystemError) -> ConnectStart {
        if r == 0 { return .connected(fd) }
        let e = errno
        if e == EINPROGRESS || e == EINTR { return .inProgress(fd) }
        // A unix socket whose listen queue is full answers EAGAIN: nginx treats it as an error.
        Glibc.close(fd)
        throw SystemError("connect", errno: e)
    }

    /// True when `fd` is writable now (a connect in progress has finished, either way).
    public static func isWritable(_ fd: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        return poll(&p, 1, 0) > 0
    }

    /// The outcome of a connect that was in progress: nil when connected.
    public static func pendingError(_ fd: Int32) -> SystemError? {
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 { return SystemError("connect", errno: errno) }
        return err == 0 ? nil : SystemError("connect", errno: err)
    }
}

extension FileSystem {
    /// An anonymous temporary file in `directory` (O_TMPFILE: gone when closed), or in
    /// /tmp when that directory cannot hold one.
    public static func openTemporary(in directory: String) throws(SystemError) -> Int32 {
        let flags = O_RDWR | O_CLOEXEC | swiftginx_o_tmpfile()
        var fd = Glibc.open(directory, flags, 0o600)
        if fd < 0 { fd = Glibc.open("/tmp", flags, 0o600) }
        if fd < 0 { throw SystemError("open", errno: errno) }
        return fd
    }

    /// Writes all of `count` bytes at `offset`.
    public static func writeAll(_ fd: Int32, _ buf: UnsafeRawPointer, _ count: Int, at offset: Int64)
        throws(SystemError)
    {
        var done = 0
        while done < count {
            let n = pwrite(fd, buf + done, count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("pwrite", errno: errno)
            }
            done += n
        }
    }

    /// Empties a file (a temporary file whose content was all sent).
    public static func truncate(_ fd: Int32) { _ = ftruncate(fd, 0) }
}

extension Socket {
    /// Waits up to `timeout` ms for `fd` to become readable (or writable); false on timeout.
    public static func wait(_ fd: Int32, writable: Bool, timeout: Int) -> Bool {
        var p = pollfd(fd: fd, events: Int16(writable ? POLLOUT : POLLIN), revents: 0)
        while true {
            let r = poll(&p, 1, Int32(clamping: max(0, timeout)))
            if r < 0 && errno == EINTR { continue }
            return r > 0
        }
    }
}
