// The PROXY protocol variables' names: `$proxy_protocol_addr`, `_port`,
// `_server_addr`, `_server_port`, and `$proxy_protocol_tlv_<name>` where the name is
// a known TLV (`alpn`, `authority`, `unique_id`, `ssl`, `netns`), a type in hex
// (`0x05`, leading zeros allowed), or a field of the SSL TLV (`ssl_verify`,
// `ssl_version`, `ssl_cn`, `ssl_cipher`, `ssl_sig_alg`, `ssl_key_alg`, `ssl_0x21`).
// Resolved once when the configuration is compiled; as in nginx an unknown TLV name
// is not a configuration error: it has no value and is logged when read.

/// `$proxy_protocol_addr` and its siblings.
public enum ProxyProtocolField: Sendable, Hashable {
    case addr, port, serverAddr, serverPort
}

/// The TLV a `$proxy_protocol_tlv_<name>` reads.
public struct ProxyProtocolTLVKey: Sendable, Hashable {
    /// The name as written after `proxy_protocol_tlv_` (for the log).
    public let name: String
    /// A sub-field of the SSL TLV (0x20) rather than a top-level TLV.
    public let inSSL: Bool
    /// `ssl_verify`: the SSL TLV's verify word, in decimal.
    public let isVerify: Bool
    /// The TLV type; nil when the name is unknown or its hex is invalid.
    public let type: Int?

    static let named: [String: Int] = ["alpn": 0x01, "authority": 0x02, "unique_id": 0x05, "ssl": 0x20, "netns": 0x30]
    static let sslNamed: [String: Int] = [
        "version": 0x21, "cn": 0x22, "cipher": 0x23, "sig_alg": 0x24, "key_alg": 0x25,
    ]

    public init(name: String) {
        self.name = name
        var rest = Substring(name)
        inSSL = rest.hasPrefix("ssl_")
        if inSSL { rest = rest.dropFirst(4) }
        isVerify = inSSL && rest == "verify"
        if isVerify {
            type = nil
        } else if rest.hasPrefix("0x") {
            type = Self.hex(rest.dropFirst(2))
        } else {
            type = (inSSL ? Self.sslNamed : Self.named)[String(rest)]
        }
    }

    /// nginx's ngx_hextoi: hex digits only, at least one.
    private static func hex(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 8 else { return nil }
        var v = 0
        for c in s.utf8 {
            switch c {
            case 0x30...0x39: v = v * 16 + Int(c - 0x30)
            case 0x61...0x66: v = v * 16 + Int(c - 0x61 + 10)
            case 0x41...0x46: v = v * 16 + Int(c - 0x41 + 10)
            default: return nil
            }
        }
        return v
    }
}

extension Variable {
    /// The `$proxy_protocol_*` variable called `lower`, or nil.
    static func proxyProtocol(_ lower: String) -> Variable? {
        switch lower {
        case "proxy_protocol_addr": return .proxyProtocol(.addr)
        case "proxy_protocol_port": return .proxyProtocol(.port)
        case "proxy_protocol_server_addr": return .proxyProtocol(.serverAddr)
        case "proxy_protocol_server_port": return .proxyProtocol(.serverPort)
        default:
            guard lower.hasPrefix("proxy_protocol_tlv_"), lower.count > 19 else { return nil }
            return .proxyProtocolTLV(ProxyProtocolTLVKey(name: String(lower.dropFirst(19))))
        }
    }
}
