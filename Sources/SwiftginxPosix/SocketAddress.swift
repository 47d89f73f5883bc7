// IPv4, IPv6 and unix-domain socket addresses: parsing numeric hosts, formatting
// peers for `$remote_addr` and logs ("unix:" for a unix-socket client, as nginx
// prints it), and handing a sockaddr to bind/connect.

import Glibc

/// An IPv4 or IPv6 address with a port, or a unix-domain socket path.
public struct SocketAddress: Sendable, CustomStringConvertible {
    public var storage: sockaddr_storage

    public init(storage: sockaddr_storage) { self.storage = storage }

    /// Parses a numeric host ("127.0.0.1", "::1", "0.0.0.0", "::") and a port.
    public init?(host: String, port: Int) {
        var st = sockaddr_storage()
        if host.contains(":") {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            guard inet_pton(AF_INET6, host, &a.sin6_addr) == 1 else { return nil }
            withUnsafeMutableBytes(of: &st) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
            guard inet_pton(AF_INET, host, &a.sin_addr) == 1 else { return nil }
            withUnsafeMutableBytes(of: &st) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
        }
        self.storage = st
    }

    /// A unix-domain socket address; nil when the path does not fit in sockaddr_un.
    public init?(unixPath path: String) {
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: a.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &a.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        var st = sockaddr_storage()
        withUnsafeMutableBytes(of: &st) { dst in withUnsafeBytes(of: a) { dst.copyMemory(from: $0) } }
        self.storage = st
    }

    public var family: Int32 { Int32(storage.ss_family) }

    public var isUnix: Bool { family == AF_UNIX }

    public var length: socklen_t {
        switch family {
        case AF_INET6: socklen_t(MemoryLayout<sockaddr_in6>.size)
        case AF_UNIX: socklen_t(MemoryLayout<sockaddr_un>.size)
        default: socklen_t(MemoryLayout<sockaddr_in>.size)
        }
    }

    /// The port (0 for a unix-domain socket).
    public var port: Int {
        withUnsafeBytes(of: storage) { raw in
            switch family {
            case AF_INET6: Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            case AF_INET: Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
            default: 0
            }
        }
    }

    /// The path of a unix-domain socket address (empty for an unnamed client socket).
    public var unixPath: String? {
        guard family == AF_UNIX else { return nil }
        return withUnsafeBytes(of: storage) { raw in
            let start = MemoryLayout<sockaddr_un>.offset(of: \.sun_path)!
            var bytes: [UInt8] = []
            for i in start..<MemoryLayout<sockaddr_un>.size {
                if raw[i] == 0 { break }
                bytes.append(raw[i])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Appends the numeric host ("127.0.0.1", "::1") as bytes; "unix:" and the path
    /// (none for a client) for a unix-domain socket, as nginx prints it.
    public func appendHost(to out: inout [UInt8]) {
        if family == AF_UNIX {
            out += Array("unix:".utf8)
            out += Array((unixPath ?? "").utf8)
            return
        }
        // inet_ntop writes into a buffer on the stack (INET6_ADDRSTRLEN is 46): no heap
        // allocation, as `$remote_addr` is formatted for every logged request.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN) + 1) { buf in
            buf[0] = 0
            withUnsafeBytes(of: storage) { raw in
                if family == AF_INET6 {
                    var a = raw.load(as: sockaddr_in6.self).sin6_addr
                    _ = inet_ntop(AF_INET6, &a, buf.baseAddress, socklen_t(buf.count))
                } else {
                    var a = raw.load(as: sockaddr_in.self).sin_addr
                    _ = inet_ntop(AF_INET, &a, buf.baseAddress, socklen_t(buf.count))
                }
            }
            for c in buf {
                if c == 0 { break }
                out.append(UInt8(bitPattern: c))
            }
        }
    }

    /// The address's bytes in network order (4 for IPv4, 16 for IPv6; nil for other
    /// families, such as unix sockets), without copying them out.
    public func withAddressBytes<R>(_ body: (UnsafeRawBufferPointer?) -> R) -> R {
        withUnsafeBytes(of: storage) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET:
                body(
                    UnsafeRawBufferPointer(
                        rebasing: raw[MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!...].prefix(4)))
            case AF_INET6:
                body(
                    UnsafeRawBufferPointer(
                        rebasing: raw[MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!...].prefix(16)))
            default:
                body(nil)
            }
        }
    }

    /// The raw address bytes (4 or 16), for `$binary_remote_addr`; a unix-socket client
    /// gives its text ("unix:"), as in nginx.
    public var rawAddress: [UInt8] {
        if family == AF_UNIX {
            var b: [UInt8] = []
            appendHost(to: &b)
            return b
        }
        return withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return withUnsafeBytes(of: raw.load(as: sockaddr_in6.self).sin6_addr) { Array($0) }
            }
            return withUnsafeBytes(of: raw.load(as: sockaddr_in.self).sin_addr) { Array($0) }
        }
    }

    public var host: String {
        var b: [UInt8] = []
        appendHost(to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    public var description: String {
        switch family {
        case AF_INET6: "[\(host)]:\(port)"
        case AF_UNIX: host
        default: "\(host):\(port)"
        }
    }

    @inlinable
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
