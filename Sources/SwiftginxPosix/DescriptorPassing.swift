// A SOCK_SEQPACKET socket pair between the privileged supervisor and the serving
// process: one message per datagram, with open descriptors attached (SCM_RIGHTS), so the
// supervisor can hand over listening sockets and log files it opened as root.

import CSwiftginxShims
import Glibc

public enum DescriptorChannel {
    /// The largest message either side sends: requests name a path or an address, and
    /// files travel as open descriptors, never as contents.
    public static let maxMessage = 65536

    /// A connected pair of close-on-exec SOCK_SEQPACKET sockets.
    public static func pair() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        let type = Int32(SOCK_SEQPACKET.rawValue) | swiftginx_sock_cloexec()
        if socketpair(AF_UNIX, type, 0, &fds) < 0 { throw SystemError("socketpair", errno: errno) }
        return (fds[0], fds[1])
    }

    /// Sends one message with `fds` attached (they stay open here).
    public static func send(_ sock: Int32, _ bytes: [UInt8], fds: [Int32] = []) throws(SystemError) {
        let n = bytes.withUnsafeBytes { b in
            fds.withUnsafeBufferPointer { f in
                swiftginx_send_fds(sock, b.baseAddress, b.count, f.baseAddress, Int32(f.count))
            }
        }
        if n < 0 { throw SystemError("sendmsg", errno: errno) }
    }

    /// Receives one message (blocking); an empty message with no descriptors means the
    /// other side has closed.
    public static func receive(_ sock: Int32) throws(SystemError) -> (bytes: [UInt8], fds: [Int32]) {
        var buf = [UInt8](repeating: 0, count: maxMessage)
        var fds = [Int32](repeating: -1, count: 64)
        var count: Int32 = 0
        let n = buf.withUnsafeMutableBytes { b in
            fds.withUnsafeMutableBufferPointer { f in
                swiftginx_recv_fds(sock, b.baseAddress, b.count, f.baseAddress, Int32(f.count), &count)
            }
        }
        if n < 0 { throw SystemError("recvmsg", errno: errno) }
        return (Array(buf[0..<n]), Array(fds[0..<Int(count)]))
    }
}

extension Socket {
    /// Waits up to `timeout` ms until some of `fds` are readable (or hung up); returns them.
    public static func readable(_ fds: [Int32], timeout: Int) -> [Int32] {
        var polls = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let r = poll(&polls, nfds_t(polls.count), Int32(clamping: max(0, timeout)))
        if r <= 0 { return [] }
        return polls.filter { $0.revents != 0 }.map(\.fd)
    }
}
