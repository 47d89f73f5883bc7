// Host names to socket addresses with the system resolver (getaddrinfo, so
// /etc/hosts and resolv.conf apply). It blocks: call it only from a background
// thread (the OCSP stapler), never from a worker's event loop.

import CSwiftginxShims
import Glibc

extension SocketAddress {
    /// Every TCP address of `host` (a name or a numeric address, IPv6 with or without
    /// brackets) with `port`, in the resolver's order; the failure is nginx's resolver
    /// wording, e.g. `(3: Host not found)`.
    public static func resolve(host: String, port: Int) -> Result<[SocketAddress], ResolutionError> {
        var name = host
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if let numeric = SocketAddress(host: name, port: port) { return .success([numeric]) }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(name, nil, &hints, &list)
        guard rc == 0 else { return .failure(ResolutionError(code: rc)) }
        defer { freeaddrinfo(list) }
        var out: [SocketAddress] = []
        var entry = list
        while let e = entry {
            if let a = e.pointee.ai_addr, e.pointee.ai_family == AF_INET || e.pointee.ai_family == AF_INET6 {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: a, count: Int(e.pointee.ai_addrlen)))
                }
                var address = SocketAddress(storage: storage)
                address.setPort(port)
                out.append(address)
            }
            entry = e.pointee.ai_next
        }
        return out.isEmpty ? .failure(ResolutionError(code: EAI_NONAME)) : .success(out)
    }

    /// Replaces the port.
    public mutating func setPort(_ port: Int) {
        let p = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        let family = self.family
        withUnsafeMutableBytes(of: &storage) { raw in
            if family == AF_INET6 {
                raw.storeBytes(
                    of: p, toByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_port)!, as: in_port_t.self)
            } else {
                raw.storeBytes(
                    of: p, toByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_port)!, as: in_port_t.self)
            }
        }
    }
}

/// A getaddrinfo failure, described as nginx's resolver describes its own.
public struct ResolutionError: Error, Sendable, CustomStringConvertible {
    public let code: Int32

    public var description: String {
        switch code {
        case EAI_NONAME, -5 /* EAI_NODATA (a GNU extension) */: return "(3: Host not found)"
        case EAI_AGAIN: return "(110: Operation timed out)"
        default: return "(2: Server failure)"
        }
    }
}
