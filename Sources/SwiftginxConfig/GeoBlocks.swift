// The `geo` block as compiled (nginx's ngx_http_geo_module): a variable whose value
// depends on an address — the client's, or any other value's (`geo $arg_ip $var`). The
// block's networks (CIDR, IPv4 and IPv6, the longest prefix wins) or `ranges` are
// flattened at configuration time into sorted, disjoint intervals, so a lookup is one
// binary search and allocates nothing. `proxy` networks make the address come from
// X-Forwarded-For, read from its right end as nginx's ngx_http_get_forwarded_addr does.
// GeoBuilder.swift builds the intervals; the server evaluates the variable in
// Request/Variables+Geo.swift.

import Glibc
import SwiftginxRouting

/// An address as the geo module sees it: IPv4 (IPv4-mapped IPv6 addresses included, as
/// nginx converts them), IPv6, or none (a unix-socket client or a value that is not an
/// address, looked up as 255.255.255.255 as nginx does).
public enum GeoAddress: Sendable, Equatable {
    case v4(UInt32)
    case v6(UInt64, UInt64)
    case none

    /// From a socket address's 4 or 16 bytes; nil bytes (a unix socket) give `.none`.
    public init(raw: UnsafeRawBufferPointer?) {
        guard let raw else {
            self = .none
            return
        }
        if raw.count == 4 {
            self = .v4(AccessRule.v4(raw, from: 0))
        } else if raw.count == 16 {
            self =
                AccessRule.isMappedV4(raw)
                ? .v4(AccessRule.v4(raw, from: 12)) : .v6(AccessRule.v6(raw).0, AccessRule.v6(raw).1)
        } else {
            self = .none
        }
    }

    /// nginx's ngx_parse_addr: an IPv4 dotted quad or an IPv6 address, nothing else.
    public static func parse(_ text: UnsafeRawBufferPointer) -> GeoAddress? {
        if let v4 = parseV4(text) { return .v4(v4) }
        guard text.contains(UInt8(ascii: ":")), text.count < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { cString -> GeoAddress? in
            for i in 0..<text.count { cString[i] = CChar(bitPattern: text[i]) }
            cString[text.count] = 0
            var a = in6_addr()
            guard inet_pton(AF_INET6, cString.baseAddress, &a) == 1 else { return nil }
            return withUnsafeBytes(of: &a) { GeoAddress(raw: $0) }
        }
    }

    /// nginx's ngx_parse_addr_port: an address, or "a.b.c.d:port" / "[v6]:port" /
    /// "[v6]" (the port is checked and dropped).
    public static func parseWithPort(_ text: UnsafeRawBufferPointer) -> GeoAddress? {
        if let a = parse(text) { return a }
        var body = text
        let colon: Int
        if text.first == UInt8(ascii: "[") {
            guard let close = text.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            if close == text.count - 1 { return parse(UnsafeRawBufferPointer(rebasing: text[1..<close])) }
            guard text[close + 1] == UInt8(ascii: ":") else { return nil }
            colon = close + 1
            body = UnsafeRawBufferPointer(rebasing: text[1..<close])
        } else {
            guard let c = text.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            colon = c
            body = UnsafeRawBufferPointer(rebasing: text[0..<c])
        }
        var port = 0
        for b in text[(colon + 1)...] {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9"), port < 100_000 else { return nil }
            port = port * 10 + Int(b - UInt8(ascii: "0"))
        }
        guard colon + 1 < text.count, port >= 1, port <= 65535 else { return nil }
        return parse(body)
    }

    /// A strict dotted quad (nginx's ngx_inet_addr): four decimal octets up to 255.
    public static func parseV4(_ text: UnsafeRawBufferPointer) -> UInt32? {
        var address: UInt32 = 0
        var octet: UInt32 = 0
        var dots = 0
        var digits = 0
        for b in text {
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                octet = octet * 10 + UInt32(b - UInt8(ascii: "0"))
                digits += 1
                if octet > 255 || digits > 3 { return nil }
            } else if b == UInt8(ascii: "."), digits > 0, dots < 3 {
                address = address << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            } else {
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        return address << 8 | octet
    }
}

/// A `geo` block: the variable's value for an address.
public final class GeoBlock: Sendable {
    /// The address's source (`geo $arg_ip $var`); nil for the client's address.
    public let source: ComplexValue?
    /// `proxy` networks: a client among them is replaced by the X-Forwarded-For address.
    public let proxies: [AccessRule]
    public let proxyRecursive: Bool
    /// `volatile`: the value is not cached for the rest of the request.
    public let volatile: Bool
    /// `ranges`: IPv4 ranges only (an IPv6 address is looked up as 255.255.255.255).
    public let ranges: Bool
    /// The distinct values; the intervals below hold indexes into it.
    public let values: [[UInt8]]
    /// Sorted interval starts covering the whole IPv4 space (the first is 0), each with
    /// its value's index.
    let v4Starts: [UInt32]
    let v4Values: [Int32]
    /// The same for IPv6 (empty with `ranges`), as high and low 64-bit halves.
    let v6Starts: [(UInt64, UInt64)]
    let v6Values: [Int32]

    init(
        source: ComplexValue?, proxies: [AccessRule], proxyRecursive: Bool, volatile: Bool, ranges: Bool,
        values: [[UInt8]], v4: [(UInt32, Int32)], v6: [(UInt64, UInt64, Int32)]
    ) {
        self.source = source
        self.proxies = proxies
        self.proxyRecursive = proxyRecursive
        self.volatile = volatile
        self.ranges = ranges
        self.values = values
        v4Starts = v4.map(\.0)
        v4Values = v4.map(\.1)
        v6Starts = v6.map { ($0.0, $0.1) }
        v6Values = v6.map(\.2)
    }

    /// The value for an address (nil: the source was not an address).
    public func lookup(_ address: GeoAddress?) -> [UInt8] {
        switch address ?? .none {
        case .v4(let a): return values[Int(v4Values[Self.lastStart(v4Starts, notAfter: a)])]
        case .none: return values[Int(v4Values[Self.lastStart(v4Starts, notAfter: 0xFFFF_FFFF)])]
        case .v6(let hi, let lo):
            if ranges || v6Starts.isEmpty {
                return values[Int(v4Values[Self.lastStart(v4Starts, notAfter: 0xFFFF_FFFF)])]
            }
            var low = 0
            var high = v6Starts.count - 1
            while low < high {
                let mid = (low + high + 1) / 2
                let s = v6Starts[mid]
                if s.0 < hi || (s.0 == hi && s.1 <= lo) { low = mid } else { high = mid - 1 }
            }
            return values[Int(v6Values[low])]
        }
    }

    static func lastStart(_ starts: [UInt32], notAfter key: UInt32) -> Int {
        var low = 0
        var high = starts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if starts[mid] <= key { low = mid } else { high = mid - 1 }
        }
        return low
    }

    /// Whether an address is among the `proxy` networks (nginx's ngx_cidr_match).
    public func isProxy(_ address: GeoAddress?) -> Bool {
        switch address ?? .none {
        case .none: return false
        case .v4(let a):
            return proxies.contains { if case .v4(let n, let m) = $0.match { a & m == n } else { false } }
        case .v6(let hi, let lo):
            return proxies.contains {
                if case .v6(let n, let m) = $0.match { hi & m.0 == n.0 && lo & m.1 == n.1 } else { false }
            }
        }
    }

    /// What reading one X-Forwarded-For value did (nginx's NGX_OK / NGX_DONE / NGX_DECLINED).
    public enum Forwarded: Equatable { case ok, done, declined }

    /// One X-Forwarded-For value read from its right end while the address is a proxy:
    /// the last address, or with `proxy_recursive` the first that is not a proxy.
    public func forwarded(_ address: inout GeoAddress?, value: UnsafeRawBufferPointer) -> Forwarded {
        var found = false
        var length = value.count
        var p = 0
        repeat {
            guard isProxy(address), length > 0 else { return found ? .done : .declined }
            p = length - 1
            while p > 0 && (value[p] == UInt8(ascii: " ") || value[p] == UInt8(ascii: ",")) {
                p -= 1
                length -= 1
            }
            while p > 0 {
                if value[p] == UInt8(ascii: " ") || value[p] == UInt8(ascii: ",") {
                    p += 1
                    break
                }
                p -= 1
            }
            guard p < length, let next = GeoAddress.parseWithPort(UnsafeRawBufferPointer(rebasing: value[p..<length]))
            else { return found ? .done : .declined }
            address = next
            found = true
            length = p - 1
        } while proxyRecursive && p > 0
        return .ok
    }

    /// Every X-Forwarded-For header, the last first (`header(i)` gives the i-th from the
    /// end, nil past the first), as nginx walks them.
    public func forwarded(_ address: inout GeoAddress?, header: (Int) -> UnsafeRawBufferPointer?) {
        var i = 0
        while let value = header(i) {
            if forwarded(&address, value: value) != .ok || !proxyRecursive { break }
            i += 1
        }
    }
}
