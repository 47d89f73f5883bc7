// Connection-lifetime directives that need more than a generic slot:
// `keepalive_disable` (nginx's bitmask of browsers denied keep-alive). The keep-alive
// numbers themselves (`keepalive_timeout`, `keepalive_requests`, `keepalive_time`)
// are slots or parsed with the other http directives.

/// `keepalive_disable none | msie6 | safari ...`.
public struct KeepAliveDisable: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Old MSIE (4, 5, 6 without SV1) after a POST.
    public static let msie6 = KeepAliveDisable(rawValue: 1)
    /// Safari on Mac OS X, whatever the method.
    public static let safari = KeepAliveDisable(rawValue: 2)
}

extension ConfigCompiler {
    /// Handles `d` if it is one of these directives; false otherwise.
    func connectionDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "keepalive_disable":
            var set: KeepAliveDisable = []
            for a in d.args {
                switch a {
                case "none": break
                case "msie6": set.insert(.msie6)
                case "safari": set.insert(.safari)
                default: throw d.error("invalid value \"\(a)\"")
                }
            }
            level.setters.append { $0.keepaliveDisable = set }
        default:
            return false
        }
        return true
    }
}
