// IPv4 and IPv6 socket addresses: parsing numeric hosts, formatting peers for
// `$remote_addr` and logs, and handing a sockaddr to bind/connect.

import Glibc

/// An IPv4 or IPv6 address with a port.
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

    public var family: Int32 { Int32(storage.ss_family) }

    public var length: socklen_t {
        family == AF_INET6 ? socklen_t(MemoryLayout<sockaddr_in6>.size) : socklen_t(MemoryLayout<sockaddr_in>.size)
    }

    public var port: Int {
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
            }
            return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
        }
    }

    /// Appends the numeric host ("127.0.0.1", "::1") as bytes.
    public func appendHost(to out: inout [UInt8]) {
        var buf = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        withUnsafeBytes(of: storage) { raw in
            if family == AF_INET6 {
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
            } else {
                var a = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
            }
        }
        for c in buf {
            if c == 0 { break }
            out.append(UInt8(bitPattern: c))
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

    /// The raw address bytes (4 or 16), for `$binary_remote_addr`.
    public var rawAddress: [UInt8] {
        withUnsafeBytes(of: storage) { raw in
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

    public var description: String { family == AF_INET6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    @inlinable
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: storage) { raw in
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length)
        }
    }
}
