// Active health checks in NGINX Plus's syntax: `health_check` in a location that
// proxies to an `upstream` block, and `match name { ... }` blocks with the conditions
// a check's answer must meet; attached to their upstream once proxy_pass targets are
// resolved.

import SwiftginxRouting
import SwiftginxUpstream

extension ConfigCompiler {
    // MARK: - health_check, match, upstream_status

    /// `health_check [interval=t] [jitter=t] [fails=n] [passes=n] [uri=u] [port=n]
    /// [match=name] [mandatory [persistent]] [type=http]`, attached to the location's
    /// upstream once proxy_pass targets are resolved.
    func healthCheckDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var h = HealthCheck()
        var matchName: String? = nil
        for a in d.args {
            func time(_ p: String) throws(ConfigError) -> Int {
                // Milliseconds ("500ms", "5s"; a bare number is seconds, as in NGINX Plus).
                let text = String(a.dropFirst(p.count))
                let isBare = text.allSatisfy(\.isNumber)
                guard let v = ConfigValues.time(isBare ? text + "s" : text, isSeconds: false) else {
                    throw d.error("invalid parameter \"\(a)\"")
                }
                return v
            }
            func num(_ p: String) throws(ConfigError) -> Int {
                guard let v = ConfigValues.number(String(a.dropFirst(p.count))), v > 0 else {
                    throw d.error("invalid parameter \"\(a)\"")
                }
                return v
            }
            if a.hasPrefix("interval=") {
                h.interval = max(1, try time("interval="))
            } else if a.hasPrefix("jitter=") {
                h.jitter = try time("jitter=")
            } else if a.hasPrefix("fails=") {
                h.fails = try num("fails=")
            } else if a.hasPrefix("passes=") {
                h.passes = try num("passes=")
            } else if a.hasPrefix("uri=") {
                h.uri = String(a.dropFirst(4))
                guard h.uri.hasPrefix("/") else { throw d.error("invalid parameter \"\(a)\"") }
            } else if a.hasPrefix("port=") {
                let p = try num("port=")
                guard p < 65536 else { throw d.error("invalid parameter \"\(a)\"") }
                h.port = p
            } else if a.hasPrefix("match=") {
                matchName = String(a.dropFirst(6))
            } else if a == "mandatory" {
                h.mandatory = true
            } else if a == "persistent" {
                guard h.mandatory else { throw d.error("\"persistent\" requires \"mandatory\"") }
                h.persistent = true
            } else if a == "type=http" {
                continue
            } else {
                throw d.error("invalid parameter \"\(a)\"")
            }
        }
        guard level.kind == .location else { throw d.directiveError("is not allowed here") }
        pendingHealthChecks.append(PendingHealthCheck(level: level, check: h, match: matchName, directive: d))
    }

    /// `match name { status ...; header ...; body ~ "re"; }`.
    func matchBlock(_ d: ConfigDirective) throws(ConfigError) {
        let name = d.args[0]
        if matches[name] != nil { throw d.error("duplicate match \"\(name)\"") }
        var m = HealthMatch(name: name)
        for c in d.block ?? [] {
            var args = c.args
            var negated = false
            if args.first == "!" {
                negated = true
                args.removeFirst()
            }
            switch c.name {
            case "status":
                var ranges: [ClosedRange<Int>] = []
                for a in args {
                    let parts = a.split(separator: "-").map { Int($0) }
                    if parts.count == 1, let v = parts[0], (100...599).contains(v) {
                        ranges.append(v...v)
                    } else if parts.count == 2, let lo = parts[0], let hi = parts[1], lo <= hi, lo >= 100, hi <= 599 {
                        ranges.append(lo...hi)
                    } else {
                        throw c.error("invalid status \"\(a)\"")
                    }
                }
                guard !ranges.isEmpty else { throw c.error("invalid number of arguments in \"status\" directive") }
                m.statuses.append((ranges, negated))
            case "header":
                guard let field = args.first else {
                    throw c.error("invalid number of arguments in \"header\" directive")
                }
                if args.count == 1 {
                    m.headers.append(.present(field.lowercased(), negated: negated))
                } else if args.count == 3 {
                    switch args[1] {
                    case "=", "!=":
                        m.headers.append(.equals(field.lowercased(), args[2], negated: args[1] == "!="))
                    case "~", "!~", "~*", "!~*":
                        let regex: Regex
                        do { regex = try Regex(args[2], caseless: args[1].hasSuffix("*")) } catch {
                            throw c.error(error.message)
                        }
                        m.headers.append(.matches(field.lowercased(), regex, negated: args[1].hasPrefix("!")))
                    default: throw c.error("invalid operator \"\(args[1])\"")
                    }
                } else {
                    throw c.error("invalid number of arguments in \"header\" directive")
                }
            case "body":
                guard args.count == 2, args[0] == "~" || args[0] == "!~" else {
                    throw c.error("invalid parameters in \"body\" directive")
                }
                let regex: Regex
                do { regex = try Regex(args[1]) } catch { throw c.error(error.message) }
                m.body.append((regex, args[0] == "!~"))
            default:
                throw c.error("unknown directive \"\(c.name)\"")
            }
        }
        matches[name] = m
    }

    /// Attaches each health_check to the upstream its location proxies to.
    func resolveHealthChecks() throws(ConfigError) {
        for p in pendingHealthChecks {
            let d = p.directive
            // Checks speak HTTP or uwsgi only (a FastCGI or SCGI check is not implemented).
            guard let pass = p.level.pass?.pass, let group = pass.group, group.isExplicit,
                pass.proto == .http || pass.proto == .uwsgi
            else {
                throw d.error("\"health_check\" requires an \"upstream\" block named in proxy_pass or uwsgi_pass")
            }
            var h = p.check
            if let name = p.match {
                guard let m = matches[name] else { throw d.error("match \"\(name)\" not found") }
                h.match = m
            }
            h.proto = pass.proto
            // The location's timeouts apply to its checks.
            var settings = LocationSettings()
            for f in p.level.setters { f(&settings) }
            let up = pass.proto == .http ? settings.proxy : settings.uwsgi
            h.connectTimeout = up.connectTimeout
            h.readTimeout = up.readTimeout
            h.host = pass.proxyHost
            healthChecks[group.index, default: []].append(h)
        }
    }
}

struct PendingHealthCheck {
    let level: ConfigLevel
    let check: HealthCheck
    let match: String?
    let directive: ConfigDirective
}
