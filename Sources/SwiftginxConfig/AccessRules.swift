// nginx's access module rules (`allow` / `deny`): an address, a CIDR network (IPv4 or
// IPv6), `unix:` or `all`, parsed as nginx parses them — a network with host bits set
// is taken with those bits cleared and warned about ("low address bits of 10.0.0.1/8
// are meaningless"). Rules are checked in order until the first match; a level that
// has rules of its own replaces its parent's list (nginx's merge).

import Glibc

/// `real_ip_header`: where the realip module reads the client's address.
public enum RealIPHeader: Sendable {
    case xRealIP
    case xForwardedFor
    /// The address of a PROXY protocol header (`listen ... proxy_protocol`).
    case proxyProtocol
    /// Any other request header, by its lowercased name.
    case field([UInt8])
}

public struct AccessRule: Sendable {
    public enum Match: Sendable {
        case all
        case unix
        /// Address and mask in network byte order as integers.
        case v4(address: UInt32, mask: UInt32)
        case v6(address: (UInt64, UInt64), mask: (UInt64, UInt64))
    }

    public let allow: Bool
    public let match: Match

    public init(allow: Bool, match: Match) {
        self.allow = allow
        self.match = match
    }

    /// Whether the rule covers a client: `raw` is the address's 4 or 16 bytes (an
    /// IPv4-mapped IPv6 address is checked as IPv4, as nginx does); nil for unix sockets.
    public func covers(_ raw: UnsafeRawBufferPointer?) -> Bool {
        switch match {
        case .all:
            return true
        case .unix:
            return raw == nil
        case .v4(let address, let mask):
            guard let raw else { return false }
            if raw.count == 4 { return Self.v4(raw, from: 0) & mask == address }
            if raw.count == 16 && Self.isMappedV4(raw) { return Self.v4(raw, from: 12) & mask == address }
            return false
        case .v6(let address, let mask):
            guard let raw, raw.count == 16 else { return false }
            let (hi, lo) = Self.v6(raw)
            return hi & mask.0 == address.0 && lo & mask.1 == address.1
        }
    }

    static func v4(_ raw: UnsafeRawBufferPointer, from i: Int) -> UInt32 {
        UInt32(raw[i]) << 24 | UInt32(raw[i + 1]) << 16 | UInt32(raw[i + 2]) << 8 | UInt32(raw[i + 3])
    }

    static func v6(_ raw: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for i in 0..<8 { hi = hi << 8 | UInt64(raw[i]) }
        for i in 8..<16 { lo = lo << 8 | UInt64(raw[i]) }
        return (hi, lo)
    }

    static func isMappedV4(_ raw: UnsafeRawBufferPointer) -> Bool {
        for i in 0..<10 where raw[i] != 0 { return false }
        return raw[10] == 0xFF && raw[11] == 0xFF
    }

    /// Parses an `allow`/`deny` parameter; nil when it is not an address, network,
    /// `unix:` or `all`. `warning` is set when host bits were cleared.
    public static func parse(_ text: String, allow: Bool, warning: inout String?) -> AccessRule? {
        if text == "all" { return AccessRule(allow: allow, match: .all) }
        if text == "unix:" { return AccessRule(allow: allow, match: .unix) }
        var host = Substring(text)
        var bits: Int? = nil
        if let slash = text.firstIndex(of: "/") {
            host = text[..<slash]
            guard let n = Int(text[text.index(after: slash)...]), n >= 0 else { return nil }
            bits = n
        }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 {
            let n = bits ?? 32
            guard n <= 32 else { return nil }
            let address = UInt32(bigEndian: v4.s_addr)
            let mask: UInt32 = n == 0 ? 0 : ~UInt32(0) << (32 - n)
            if address & ~mask != 0 { warning = "low address bits of \(text) are meaningless" }
            return AccessRule(allow: allow, match: .v4(address: address & mask, mask: mask))
        }
        if inet_pton(AF_INET6, String(host), &v6) == 1 {
            let n = bits ?? 128
            guard n <= 128 else { return nil }
            let (hi, lo) = withUnsafeBytes(of: &v6) { Self.v6($0) }
            let maskHi: UInt64 = n >= 64 ? ~0 : (n == 0 ? 0 : ~UInt64(0) << (64 - n))
            let maskLo: UInt64 = n <= 64 ? 0 : (n == 128 ? ~0 : ~UInt64(0) << (128 - n))
            if hi & ~maskHi != 0 || lo & ~maskLo != 0 { warning = "low address bits of \(text) are meaningless" }
            return AccessRule(allow: allow, match: .v6(address: (hi & maskHi, lo & maskLo), mask: (maskHi, maskLo)))
        }
        return nil
    }
}
