// A listening TCP socket on 127.0.0.1 with a port the kernel picks, for the small
// in-test upstreams that answer with scripted bytes (SSI and SSIConcurrent tests).

import Glibc

/// Binds and listens on 127.0.0.1:0; returns the descriptor and the port it got.
func listenOnLoopback(backlog: Int32 = 8) throws -> (fd: Int32, port: Int) {
    let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var one: Int32 = 1
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, 16) }
    }
    guard bound == 0, listen(sock, backlog) == 0 else {
        close(sock)
        throw TestFailure("upstream bind failed: errno \(errno)")
    }
    var len = socklen_t(16)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &len) }
    }
    return (sock, Int(UInt16(bigEndian: addr.sin_port)))
}
