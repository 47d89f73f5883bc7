// nginx's `resolver address ... [valid=time] [ipv4=on|off] [ipv6=on|off]
// [status_zone=name]` and `resolver_timeout time` (http, server, location; inherited):
// the DNS servers asked for names that are only known per request (a `proxy_pass`
// with variables naming a host that is no `upstream`). A server given by name is
// resolved here, once, as nginx does; the port is 53 unless written. The queries
// themselves run on the worker threads' event loops (SwiftginxPosix/DNSChannel.swift,
// SwiftginxServer/Proxy/WorkerResolver.swift).

/// One `resolver` directive.
public struct ResolverConfig: Sendable, Equatable {
    /// The servers as c-ares takes them: "127.0.0.1:53,[::1]:5353".
    public let servers: String
    /// `valid=`: seconds an answer is used, instead of its records' TTL.
    public let valid: Int?
    public let ipv4: Bool
    public let ipv6: Bool

    public init(servers: String, valid: Int? = nil, ipv4: Bool = true, ipv6: Bool = true) {
        self.servers = servers
        self.valid = valid
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }
}

extension ConfigCompiler {
    /// Handles `resolver` and `resolver_timeout`; false for any other directive.
    func resolverDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "resolver": break
        case "resolver_timeout":
            let ms = try ConfigValues.msec(d)
            level.setters.append { $0.resolverTimeout = ms }
            if level.kind == .http { httpResolverTimeout = ms }
            return true
        default: return false
        }
        let config = try resolverConfig(d)
        level.setters.append { $0.resolver = config }
        if level.kind == .http { httpResolver = config }
        return true
    }

    /// The servers and parameters of a `resolver` directive.
    func resolverConfig(_ d: ConfigDirective) throws(ConfigError) -> ResolverConfig {
        var servers: [String] = []
        var valid: Int? = nil
        var ipv4 = true
        var ipv6 = true
        for arg in d.args {
            if arg.hasPrefix("valid=") {
                guard let s = ConfigValues.time(String(arg.dropFirst(6)), isSeconds: true) else {
                    throw d.error("invalid parameter: \(arg)")
                }
                valid = s
            } else if arg.hasPrefix("ipv4=") {
                ipv4 = try onOff(arg, d)
            } else if arg.hasPrefix("ipv6=") {
                ipv6 = try onOff(arg, d)
            } else if arg.hasPrefix("status_zone=") {
                // NGINX Plus's per-resolver statistics zone: accepted, not counted.
                continue
            } else {
                servers += try resolverServers(arg, d)
            }
        }
        if !ipv4 && !ipv6 { throw d.error("\"ipv4\" and \"ipv6\" cannot both be \"off\"") }
        if servers.isEmpty { throw d.directiveError("invalid number of arguments") }
        return ResolverConfig(servers: servers.joined(separator: ","), valid: valid, ipv4: ipv4, ipv6: ipv6)
    }

    private func onOff(_ arg: String, _ d: ConfigDirective) throws(ConfigError) -> Bool {
        switch arg.split(separator: "=", maxSplits: 1).last ?? "" {
        case "on": return true
        case "off": return false
        default: throw d.error("invalid parameter: \(arg)")
        }
    }

    /// "addr[:port]" or "[v6][:port]" or "name[:port]" as c-ares server entries.
    private func resolverServers(_ arg: String, _ d: ConfigDirective) throws(ConfigError) -> [String] {
        var host = Substring(arg)
        var port = 53
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw d.error("invalid address \"\(arg)\"") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), p > 0 && p < 65536 else {
                    throw d.error("invalid port in resolver \"\(arg)\"")
                }
                port = p
            } else if !after.isEmpty {
                throw d.error("invalid address \"\(arg)\"")
            }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon {
            guard let p = Int(host[host.index(after: colon)...]), p > 0 && p < 65536 else {
                throw d.error("invalid port in resolver \"\(arg)\"")
            }
            port = p
            host = host[..<colon]
        }
        guard let texts = environment.resolve(String(host)), !texts.isEmpty else {
            throw d.error("host not found in resolver \"\(arg)\"")
        }
        return texts.map { $0.contains(":") ? "[\($0)]:\(port)" : "\($0):\(port)" }
    }
}
