// Name resolution for upstream addresses while a configuration is compiled (nginx
// resolves `server` and `proxy_pass` hostnames at startup and on reload, never per
// request). Numeric addresses skip the resolver; a name yields every address it has.
// This is the one libc lookup the configuration module makes: it runs at load time only.

#if canImport(Glibc)
    import Glibc
#endif

enum Resolver {
    /// The addresses of `host` (numeric or a name), or nil when it does not resolve.
    static func resolve(_ host: String, port: Int) -> [PeerAddress]? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(list) }
        var out: [PeerAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            var buf = [CChar](repeating: 0, count: 64)
            if let sa = n.pointee.ai_addr {
                if n.pointee.ai_family == AF_INET {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                        var a = $0.pointee.sin_addr
                        _ = inet_ntop(AF_INET, &a, &buf, 64)
                    }
                } else if n.pointee.ai_family == AF_INET6 {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                        var a = $0.pointee.sin6_addr
                        _ = inet_ntop(AF_INET6, &a, &buf, 64)
                    }
                }
            }
            let text = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let p = PeerAddress.inet(host: text, port: port)
            if !text.isEmpty && !out.contains(p) { out.append(p) }
            node = n.pointee.ai_next
        }
        return out
    }
}
