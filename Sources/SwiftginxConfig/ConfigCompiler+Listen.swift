// The `listen` directive: its address forms — `port`, `addr`, `addr:port`, `*:port`,
// `[v6]`, `[v6]:port`, `localhost:port`, a port range `addr:8000-8003` (one address
// per port, as nginx expands it) and `unix:/path` — and its parameters (`ssl`,
// `http2`, `proxy_protocol`, `default_server`, and the socket options that make an
// address bind on its own). The per-address registry and its duplicate checks are in
// ConfigCompiler+Servers.swift.

import SwiftginxRouting

extension ConfigCompiler {
    func listen(_ d: ConfigDirective, server: ServerBuilder) throws(ConfigError) {
        let addresses = try listenAddresses(d.args[0], d)
        var options = ListenOptions()
        var optionsSet = false
        var isDefault = false
        for p in d.args.dropFirst() {
            switch p {
            case "default_server", "default": isDefault = true
            case "ssl": options.ssl = true
            case "http2":
                options.http2 = true
                warnings.append(
                    ConfigError(
                        "the \"listen ... http2\" directive is deprecated, use the \"http2\" directive instead",
                        file: d.file, line: d.line
                    ).description)
            case "proxy_protocol": options.proxyProtocol = true
            case "reuseport":
                options.reuseport = true
                optionsSet = true
            case "deferred":
                options.deferred = true
                optionsSet = true
            case "bind": optionsSet = true
            case "ipv6only=on", "ipv6only=off":
                options.ipv6only = p == "ipv6only=on"
                optionsSet = true
            default:
                if p.hasPrefix("backlog=") {
                    guard let n = ConfigValues.number(String(p.dropFirst(8))), n > 0 else {
                        throw d.error("invalid backlog \"\(p)\"")
                    }
                    options.backlog = n
                } else if p.hasPrefix("rcvbuf=") {
                    guard let n = ConfigValues.size(String(p.dropFirst(7))) else {
                        throw d.error("invalid rcvbuf \"\(p)\"")
                    }
                    options.rcvbuf = n
                } else if p.hasPrefix("sndbuf=") {
                    guard let n = ConfigValues.size(String(p.dropFirst(7))) else {
                        throw d.error("invalid sndbuf \"\(p)\"")
                    }
                    options.sndbuf = n
                } else if p.hasPrefix("so_keepalive=") {
                    guard let k = ListenKeepalive(String(p.dropFirst(13))) else {
                        throw d.error("invalid so_keepalive value: \"\(p)\"")
                    }
                    options.soKeepalive = k
                } else if p.hasPrefix("fastopen=") {
                    guard let n = ConfigValues.number(String(p.dropFirst(9))) else {
                        throw d.error("invalid fastopen \"\(p)\"")
                    }
                    options.fastopen = n
                } else {
                    throw d.error("invalid parameter \"\(p)\"")
                }
                optionsSet = true
            }
        }
        // nginx binds an address separately whenever socket options were given.
        if optionsSet { options.bind = true }
        for address in addresses {
            try addListen(
                address, options: options, optionsSet: optionsSet, isDefault: isDefault, server: server, directive: d)
        }
    }

    /// The addresses one `listen` names: one, or one per port of a range.
    func listenAddresses(_ text: String, _ d: ConfigDirective) throws(ConfigError) -> [ListenAddress] {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw d.error("no path in the unix domain socket \"\(text)\"") }
            // sockaddr_un holds 108 bytes with the terminating zero.
            guard path.utf8.count < 108 else { throw d.error("too long path in the unix domain socket \"\(text)\"") }
            return [ListenAddress(unixPath: path)]
        }
        var host = "*"
        var portText: String? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw d.error("invalid host in \"\(text)\"") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") {
                portText = String(rest.dropFirst())
            } else if !rest.isEmpty {
                throw d.error("invalid host in \"\(text)\"")
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            portText = String(text[text.index(after: colon)...])
        } else if text.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }) {
            portText = text
        } else {
            host = text
        }
        var ports = 80...80
        if let portText { ports = try listenPorts(portText, text, d) }
        let numeric: String
        if host == "*" || host.isEmpty {
            numeric = "0.0.0.0"
        } else if host.lowercased() == "localhost" {
            numeric = "127.0.0.1"
        } else if let n = Self.numericHost(host) {
            numeric = n
        } else {
            throw d.error("host not found in \"\(text)\" of the \"listen\" directive")
        }
        return ports.map { ListenAddress(host: numeric, port: $0) }
    }

    /// `port` or `first-last` (nginx: "invalid port", "invalid port range").
    private func listenPorts(_ portText: String, _ text: String, _ d: ConfigDirective) throws(ConfigError)
        -> ClosedRange<Int>
    {
        func port(_ s: Substring) throws(ConfigError) -> Int {
            guard let p = ConfigValues.number(String(s)), p >= 1, p <= 65535 else {
                throw d.error("invalid port in \"\(text)\" of the \"listen\" directive")
            }
            return p
        }
        guard let dash = portText.firstIndex(of: "-") else {
            let p = try port(Substring(portText))
            return p...p
        }
        let last = try port(portText[portText.index(after: dash)...])
        let first = try port(portText[..<dash])
        guard first <= last else {
            throw d.error("invalid port range in \"\(text)\" of the \"listen\" directive")
        }
        return first...last
    }
}

/// `so_keepalive=on`, `off`, or `[idle]:[interval]:[count]` (idle and interval in
/// seconds, any of the three may be empty).
public struct ListenKeepalive: Sendable, Equatable {
    public var enabled: Bool
    public var idle: Int? = nil
    public var interval: Int? = nil
    public var count: Int? = nil

    init?(_ text: String) {
        switch text {
        case "on": enabled = true
        case "off": enabled = false
        default:
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, parts.contains(where: { !$0.isEmpty }) else { return nil }
            enabled = true
            func seconds(_ s: Substring) -> Int?? {
                if s.isEmpty { return .some(nil) }
                guard let seconds = ConfigValues.time(String(s), isSeconds: true) else { return nil }
                return .some(seconds)
            }
            guard let idle = seconds(parts[0]), let interval = seconds(parts[1]) else { return nil }
            self.idle = idle
            self.interval = interval
            if !parts[2].isEmpty {
                guard let n = ConfigValues.number(String(parts[2])), n > 0 else { return nil }
                count = n
            }
        }
    }
}
