// Socket system calls: listening sockets with nginx's options, accept4, reads,
// writes, writev, sendfile and socket options. Every call goes through the
// SystemError wrapper; descriptors are plain Int32 owned by their callers.

import CSwiftginxShims
import Glibc

public enum Socket {
    /// Creates a bound, listening, non-blocking socket.
    public static func listen(
        address: SocketAddress, backlog: Int, reusePort: Bool, ipv6Only: Bool, deferAccept: Bool = false
    ) throws(SystemError) -> Int32 {
        let type = Int32(SOCK_STREAM.rawValue) | swiftginx_sock_nonblock() | swiftginx_sock_cloexec()
        let fd = try syscall("socket", Glibc.socket(address.family, type, 0))
        let unix = address.family == AF_UNIX
        do throws(SystemError) {
            if !unix { try setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1) }
            if reusePort && !unix { try setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            if address.family == AF_INET6 { try setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, ipv6Only ? 1 : 0) }
            let r = address.withSockaddr { Glibc.bind(fd, $0, $1) }
            if r < 0 { throw SystemError("bind", errno: errno) }
            // As nginx: a unix socket anyone on the machine may connect to (rw-rw-rw-).
            if unix, let path = address.unixPath { _ = chmod(path, 0o666) }
            if Glibc.listen(fd, Int32(backlog)) < 0 { throw SystemError("listen", errno: errno) }
            if deferAccept && !unix { try? setOption(fd, Int32(IPPROTO_TCP), TCP_DEFER_ACCEPT, 1) }
        } catch {
            Glibc.close(fd)
            throw error
        }
        return fd
    }

    /// Options of a `listen` that accepted sockets inherit: buffer sizes, TCP keep-alive
    /// probes, TCP Fast Open. Each one that fails is returned as nginx's alert text
    /// ("setsockopt(SO_RCVBUF, 1024) unix:/x failed (...)") and skipped, as nginx does.
    public struct ListenTuning: Sendable, Equatable {
        public var receiveBuffer: Int? = nil
        public var sendBuffer: Int? = nil
        /// SO_KEEPALIVE on (true) or off (false); nil leaves the system default.
        public var keepalive: Bool? = nil
        public var keepIdle: Int? = nil
        public var keepInterval: Int? = nil
        public var keepCount: Int? = nil
        public var fastOpen: Int? = nil
        public init() {}
    }

    public static func tune(_ fd: Int32, _ t: ListenTuning, address: String) -> [String] {
        var failures: [String] = []
        func set(_ level: Int32, _ name: Int32, _ label: String, _ value: Int?) {
            guard let value else { return }
            do { try setOption(fd, level, name, Int32(clamping: value)) } catch {
                failures.append(
                    "setsockopt(\(label), \(value)) \(address) failed (\(error.errno): \(SystemError.message(error.errno))), ignored"
                )
            }
        }
        set(SOL_SOCKET, SO_RCVBUF, "SO_RCVBUF", t.receiveBuffer)
        set(SOL_SOCKET, SO_SNDBUF, "SO_SNDBUF", t.sendBuffer)
        set(SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE", t.keepalive.map { $0 ? 1 : 0 })
        set(Int32(IPPROTO_TCP), TCP_KEEPIDLE, "TCP_KEEPIDLE", t.keepIdle)
        set(Int32(IPPROTO_TCP), TCP_KEEPINTVL, "TCP_KEEPINTVL", t.keepInterval)
        set(Int32(IPPROTO_TCP), TCP_KEEPCNT, "TCP_KEEPCNT", t.keepCount)
        set(Int32(IPPROTO_TCP), TCP_FASTOPEN, "TCP_FASTOPEN", t.fastOpen)
        return failures
    }

    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var v = value
        if setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) < 0 {
            throw SystemError("setsockopt", errno: errno)
        }
    }

    /// Accepts one connection (non-blocking, close-on-exec), returning its fd and peer.
    @inline(__always)
    public static func accept(_ fd: Int32, peer: inout sockaddr_storage) throws(SystemError) -> IOResult<Int32> {
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = try withUnsafeMutablePointer(to: &peer) { p throws(SystemError) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp throws(SystemError) in
                try syscallIO("accept4") {
                    swiftginx_accept4(fd, sp, &len, swiftginx_sock_nonblock() | swiftginx_sock_cloexec())
                }
            }
        }
        // An unnamed unix-socket client has no path: do not leave an earlier one there.
        if Int32(peer.ss_family) == AF_UNIX && len <= socklen_t(MemoryLayout<sa_family_t>.size) {
            withUnsafeMutableBytes(of: &peer) { $0[MemoryLayout<sa_family_t>.size] = 0 }
        }
        return r
    }

    /// The local address a socket is bound to.
    public static func localAddress(_ fd: Int32) -> SocketAddress? {
        var st = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &st) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return r == 0 ? SocketAddress(storage: st) : nil
    }

    @inline(__always)
    public static func read(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<
        Int
    > {
        try syscallIO("recv") { swiftginx_recv(fd, buf, count, 0) }
    }

    /// Looks at up to `count` waiting bytes without consuming them (MSG_PEEK): the
    /// first byte of a connection (TLS or not), or whether an idle upstream has closed.
    @inline(__always)
    public static func peek(_ fd: Int32, into buf: UnsafeMutableRawPointer, count: Int) throws(SystemError)
        -> IOResult<Int>
    {
        try syscallIO("recv") { swiftginx_recv(fd, buf, count, Int32(MSG_PEEK)) }
    }

    /// Sends with MSG_NOSIGNAL; `more` sets MSG_MORE so a following sendfile joins the packet.
    @inline(__always)
    public static func write(_ fd: Int32, _ buf: UnsafeRawPointer, _ count: Int, more: Bool = false) throws(SystemError)
        -> IOResult<Int>
    {
        let flags = Int32(MSG_NOSIGNAL) | (more ? Int32(MSG_MORE) : 0)
        return try syscallIO("send") { swiftginx_send(fd, buf, count, flags) }
    }

    @inline(__always)
    public static func sendfile(_ out: Int32, _ file: Int32, offset: inout Int64, count: Int) throws(SystemError)
        -> IOResult<Int>
    {
        var off = off_t(offset)
        let r = try syscallIO("sendfile") { swiftginx_sendfile(out, file, &off, count) }
        offset = Int64(off)
        return r
    }

    public static func shutdownWrite(_ fd: Int32) { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    public static func close(_ fd: Int32) { _ = swiftginx_close(fd) }
}
