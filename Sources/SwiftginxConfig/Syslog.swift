// `syslog:` log targets, as nginx parses them: `error_log syslog:server=addr[,...]` and
// `access_log syslog:server=addr[,...]` with the comma-separated parameters
// `server=` (an IP address or name with an optional port, 514 by default — a name is
// resolved when the configuration is read — or `unix:/path`), `facility=` (local7 by default), `severity=` (info by default; for
// access_log only — error lines carry their own level), `tag=` (nginx by default: up to
// 32 letters, digits and underscores) and `nohostname`. The server sends each line as
// one datagram in nginx's BSD syslog form (Server's SyslogSink).

public struct SyslogTarget: Sendable, Hashable {
    /// `host` (numeric or a name) and `port`, or a unix socket path when `unixPath` is set.
    public var host = ""
    public var port = 514
    public var unixPath: String? = nil
    public var facility = 23
    public var severity = 6
    public var tag = "nginx"
    public var noHostname = false

    public init() {}

    public static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "intern", "lpr", "news", "uucp", "clock", "authpriv", "ftp", "ntp",
        "audit", "alert", "cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]
    public static let severities = ["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"]

    /// Parses the text after `syslog:`; the error is nginx's message.
    public static func parse(_ text: String) -> Result<SyslogTarget, ConfigError> {
        var t = SyslogTarget()
        var hasServer = false
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            if part.hasPrefix("server=") {
                let spec = String(part.dropFirst(7))
                if spec.hasPrefix("unix:") {
                    t.unixPath = String(spec.dropFirst(5))
                } else if spec.hasPrefix("[") {
                    guard let close = spec.firstIndex(of: "]") else {
                        return .failure(ConfigError("invalid host in \"\(spec)\""))
                    }
                    t.host = String(spec[spec.index(after: spec.startIndex)..<close])
                    let rest = spec[spec.index(after: close)...]
                    if rest.hasPrefix(":") {
                        guard let p = Int(rest.dropFirst()), p > 0 && p < 65536 else {
                            return .failure(ConfigError("invalid port in \"\(spec)\""))
                        }
                        t.port = p
                    }
                } else if let colon = spec.lastIndex(of: ":") {
                    t.host = String(spec[..<colon])
                    guard let p = Int(spec[spec.index(after: colon)...]), p > 0 && p < 65536 else {
                        return .failure(ConfigError("invalid port in \"\(spec)\""))
                    }
                    t.port = p
                } else {
                    t.host = spec
                }
                if t.unixPath == nil && t.host.isEmpty { return .failure(ConfigError("no host in \"\(spec)\"")) }
                hasServer = true
            } else if part.hasPrefix("facility=") {
                guard let i = facilities.firstIndex(of: String(part.dropFirst(9))) else {
                    return .failure(ConfigError("unknown syslog facility \"\(part.dropFirst(9))\""))
                }
                t.facility = i
            } else if part.hasPrefix("severity=") {
                guard let i = severities.firstIndex(of: String(part.dropFirst(9))) else {
                    return .failure(ConfigError("unknown syslog severity \"\(part.dropFirst(9))\""))
                }
                t.severity = i
            } else if part.hasPrefix("tag=") {
                let tag = part.dropFirst(4)
                if tag.utf8.count > 32 {
                    return .failure(ConfigError("syslog tag length exceeds 32"))
                }
                guard tag.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 < 128 && isAlnum($0)) }) else {
                    return .failure(ConfigError("syslog \"tag\" only allows alphanumeric characters and underscore"))
                }
                t.tag = String(tag)
            } else if part == "nohostname" {
                t.noHostname = true
            } else {
                return .failure(ConfigError("unknown syslog parameter \"\(part)\""))
            }
        }
        if !hasServer { return .failure(ConfigError("no server specified")) }
        return .success(t)
    }

    private static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    }
}
