// nginx's response rate limits, as configured: `limit_rate` (bytes per second sent to
// the client, 0: none) and `limit_rate_after` (bytes sent before the limit applies),
// both in http, server, location and `if` in location, and `proxy_limit_rate` /
// `uwsgi_limit_rate` / `fastcgi_limit_rate` / `scgi_limit_rate` (bytes per second read
// from the upstream). Each takes a size or, as since nginx 1.27, a
// value with variables evaluated when the response is sent (an empty or invalid value
// is 0, the invalid one logged). The limiting itself is in the server
// (Connection/SendRate.swift).

import SwiftginxRouting

/// The rate settings of a location; nil is nginx's 0 (no limit).
public struct SendRateSettings: Sendable {
    public var limitRate: ComplexValue? = nil
    public var limitRateAfter: ComplexValue? = nil
    public var proxyLimitRate: ComplexValue? = nil
    public var uwsgiLimitRate: ComplexValue? = nil
    public var fastcgiLimitRate: ComplexValue? = nil
    public var scgiLimitRate: ComplexValue? = nil

    public init() {}

    /// nginx's ngx_parse_size for a value computed per request ("12k", "1m", "100").
    public static func size(_ bytes: [UInt8]) -> Int? {
        ConfigValues.size(String(decoding: bytes, as: UTF8.self))
    }
}

extension ConfigCompiler {
    /// Handles the rate directives; false for any other.
    func sendRateDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        let kp: WritableKeyPath<SendRateSettings, ComplexValue?>
        switch d.name {
        case "limit_rate": kp = \.limitRate
        case "limit_rate_after": kp = \.limitRateAfter
        case "proxy_limit_rate": kp = \.proxyLimitRate
        case "uwsgi_limit_rate": kp = \.uwsgiLimitRate
        case "fastcgi_limit_rate": kp = \.fastcgiLimitRate
        case "scgi_limit_rate": kp = \.scgiLimitRate
        default: return false
        }
        let v = try value(d.args[0], d)
        if v.segments.allSatisfy({ if case .literal = $0 { true } else { false } }) {
            guard let n = ConfigValues.size(d.args[0]) else { throw d.directiveError("invalid value") }
            level.setters.append { $0.sendRate[keyPath: kp] = n == 0 ? nil : v }
        } else {
            level.setters.append { $0.sendRate[keyPath: kp] = v }
        }
        return true
    }
}
