// nginx's realip module: when the connection comes from a trusted address
// (`set_real_ip_from`), the client's address is taken from `real_ip_header` —
// X-Real-IP (the default) or any other header holding one address, or X-Forwarded-For,
// read from its right end: the last address, or with `real_ip_recursive on` the last one
// that is not trusted itself (all trusted: the first). It runs at post-read with the
// server's settings, so server-level rewrites, `if` and everything after see the real
// address; a location's own settings get their turn in the preaccess phase when the
// server's did not apply. `$remote_addr`, `$remote_port`, `$binary_remote_addr`, access
// rules, ip_hash and log lines then use the new address; `$realip_remote_addr` and
// `$realip_remote_port` keep the connection's. A value that is not an address changes
// nothing, as in nginx. `real_ip_header proxy_protocol` takes the client address and
// port of the connection's PROXY protocol header (nothing when it had none).

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

enum RealIPHandler {
    static func run(_ r: Request, _ s: LocationSettings) -> Request.StepResult {
        guard r.realAddress == nil, !s.realIPFrom.isEmpty else { return .next }
        let connectionPeer = r.connection.peer
        let trusted = connectionPeer.withAddressBytes { raw in s.realIPFrom.contains { $0.covers(raw) } }
        guard trusted else { return .next }
        let buf = r.headBytes
        var found: SocketAddress? = nil
        switch s.realIPHeader {
        case .proxyProtocol:
            guard let pp = r.connection.proxyProtocol else { return .next }
            found = SocketAddress(host: String(decoding: pp.sourceAddress, as: UTF8.self), port: pp.sourcePort)
        case .xRealIP:
            if let v = r.head.header(HeaderName.xRealIP, in: buf) {
                found = parse(UnsafeRawBufferPointer(rebasing: buf[v]))
            }
        case .field(let name):
            for h in r.head.headers where asciiCaseEqual(buf[h.name], name) {
                found = parse(UnsafeRawBufferPointer(rebasing: buf[h.value]))
                break
            }
        case .xForwardedFor:
            found = forwardedAddress(r, buf, trusted: s.realIPFrom, recursive: s.realIPRecursive)
        }
        guard let found else { return .next }
        r.realAddress = found
        var text: [UInt8] = []
        found.appendHost(to: &text)
        r.realAddressText = text
        r.trace?.note("realip: the client is \(found.host) (from the connection's \(connectionPeer.host))")
        return .next
    }

    /// X-Forwarded-For (every such header, in order) read from its right end.
    private static func forwardedAddress(
        _ r: Request, _ buf: UnsafeRawBufferPointer, trusted: [AccessRule], recursive: Bool
    ) -> SocketAddress? {
        var items: [SocketAddress?] = []
        for h in r.head.headers where asciiCaseEqual(buf[h.name], HeaderName.xForwardedFor) {
            for part in buf[h.value].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                items.append(parse(UnsafeRawBufferPointer(rebasing: part)))
            }
        }
        var chosen: SocketAddress? = nil
        for item in items.reversed() {
            guard let address = item else { return chosen }
            chosen = address
            if !recursive { return chosen }
            let isTrusted = address.withAddressBytes { raw in trusted.contains { $0.covers(raw) } }
            if !isTrusted { return chosen }
        }
        return chosen
    }

    /// One address (spaces around it allowed; "a.b.c.d:port" and "[v6]:port" carry a port).
    static func parse(_ value: UnsafeRawBufferPointer) -> SocketAddress? {
        var text = String(decoding: value, as: UTF8.self)
        text = String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        if let a = SocketAddress(host: text, port: 0) { return a }
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            let port = rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? 0 : 0
            return SocketAddress(host: host, port: port)
        }
        if let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            port > 0 && port < 65536
        {
            return SocketAddress(host: String(text[..<colon]), port: port)
        }
        return nil
    }
}
