// Datagram sockets for syslog: a non-blocking UDP or unix-domain datagram socket
// connected to one receiver, a send that never blocks nor raises SIGPIPE, and the host
// name syslog lines carry.

import CSwiftginxShims
import Glibc

extension Socket {
    /// A datagram socket connected to `address` (UDP).
    public static func connectDatagram(to address: SocketAddress) throws(SystemError) -> Int32 {
        let type = Int32(SOCK_DGRAM.rawValue) | swiftginx_sock_nonblock() | swiftginx_sock_cloexec()
        let fd = try syscall("socket", Glibc.socket(address.family, type, 0))
        let r = address.withSockaddr { Glibc.connect(fd, $0, $1) }
        if r != 0 {
            let e = errno
            Glibc.close(fd)
            throw SystemError("connect", errno: e)
        }
        return fd
    }

    /// A datagram socket connected to the unix-domain socket at `path` (/dev/log).
    public static func connectDatagram(unixPath path: String) throws(SystemError) -> Int32 {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else {
            throw SystemError("connect", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &a.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        let type = Int32(SOCK_DGRAM.rawValue) | swiftginx_sock_nonblock() | swiftginx_sock_cloexec()
        let fd = try syscall("socket", Glibc.socket(AF_UNIX, type, 0))
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
        let r = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if r != 0 {
            let e = errno
            Glibc.close(fd)
            throw SystemError("connect", errno: e)
        }
        return fd
    }

    /// Sends one datagram; false when it could not be sent now (no receiver, full
    /// buffer): syslog lines are then lost, as with nginx.
    @discardableResult
    public static func sendDatagram(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)) == bytes.count
    }

    /// This machine's host name (gethostname), "localhost" if it has none.
    public static func hostName() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}
