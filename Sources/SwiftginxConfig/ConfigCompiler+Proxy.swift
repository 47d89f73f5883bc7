// Handlers of `upstream {}` blocks and of the proxy and uwsgi modules' directives
// (`proxy_pass`, `proxy_set_header`, `uwsgi_param`, timeouts, buffering, retries).
// A `proxy_pass` target is resolved after the whole http block is read, because an
// `upstream` block may come after the location that names it (as nginx allows).

import SwiftginxRouting
import SwiftginxUpstream

/// A proxy_pass whose target is resolved once every upstream block is known.
final class PassBox {
    var pass: UpstreamPass? = nil
}

/// Array-valued proxy/uwsgi directives of one level: a level that has any of a kind
/// replaces the parent's list (nginx's rule for proxy_set_header and friends).
struct UpstreamLevelArrays {
    var params: [UpstreamParam]? = nil
    var hide: Set<String>? = nil
    var pass: Set<String>? = nil
    var ignore: Set<String>? = nil
    var redirects: [ProxyRedirectRule]? = nil
    var redirectMode: ProxyRedirect? = nil
    var cookies = CookieLevelRules()
    /// `fastcgi_catch_stderr` lines of the level.
    var catchStderr: [[UInt8]]? = nil

    func apply(to s: inout UpstreamSettings) {
        if let params { s.params = params }
        if let catchStderr { s.fastcgi.catchStderr = catchStderr }
        if let hide { s.hideHeaders = hide }
        if let pass { s.passHeaders = pass }
        if hide != nil || pass != nil { s.updateHidden() }
        if let ignore { s.ignoreHeaders = ignore }
        if let redirectMode { s.redirect = redirectMode }
        if let redirects { s.redirect = .rules(redirects) }
        if let v = cookies.domains { s.cookieDomains = v }
        if let v = cookies.paths { s.cookiePaths = v }
        if let v = cookies.flags { s.cookieFlags = v }
    }
}

/// An `upstream` block while it is read.
struct PendingPass {
    let box: PassBox
    let directive: ConfigDirective
    let proto: UpstreamProtocol
}

extension ConfigCompiler {
    /// Handles proxy_* / uwsgi_* / fastcgi_* / scgi_* directives; false when `d` is not one of them.
    func proxyDirective(_ d: ConfigDirective, level: ConfigLevel, location: LocationBuilder?) throws(ConfigError)
        -> Bool
    {
        guard let proto = UpstreamProtocol.ofDirective(d.name) else { return false }
        let key: WritableKeyPath<LocationSettings, UpstreamSettings>
        switch proto {
        case .http: key = \.proxy
        case .uwsgi: key = \.uwsgi
        case .fastcgi: key = \.fastcgi
        case .scgi: key = \.scgi
        }
        let name = String(d.name.dropFirst(proto.directivePrefix.count))
        func set(_ f: @escaping (inout UpstreamSettings) -> Void) {
            level.setters.append { f(&$0[keyPath: key]) }
        }
        func arrays(_ f: (inout UpstreamLevelArrays) -> Void) {
            switch proto {
            case .http: f(&level.proxyArrays)
            case .uwsgi: f(&level.uwsgiArrays)
            case .fastcgi: f(&level.fastcgiArrays)
            case .scgi: f(&level.scgiArrays)
            }
        }
        if proto == .fastcgi && name == "catch_stderr" {
            // A level with its own lines replaces the inherited list (nginx's array rule).
            let v = Array(d.args[0].utf8)
            arrays { $0.catchStderr = ($0.catchStderr ?? []) + [v] }
            return true
        }
        if proto == .fastcgi, let handled = try fastcgiDirective(d, name) {
            set(handled)
            return true
        }
        if name.hasPrefix("cache") || name == "no_cache" || name == "force_ranges",
            try cacheDirective(d, name: name, level: level, set: { f in set { f(&$0.cache) } })
        {
            return true
        }
        switch name {
        case "pass": try passDirective(d, level: level, location: location, proto: proto)
        case "connect_timeout":
            let v = try ConfigValues.msec(d)
            set { $0.connectTimeout = v }
        case "send_timeout":
            let v = try ConfigValues.msec(d)
            set { $0.sendTimeout = v }
        case "read_timeout":
            let v = try ConfigValues.msec(d)
            set { $0.readTimeout = v }
        case "buffering":
            let v = try ConfigValues.flag(d)
            set { $0.buffering = v }
        case "request_buffering":
            let v = try ConfigValues.flag(d)
            set { $0.requestBuffering = v }
        case "buffer_size":
            let v = try ConfigValues.size(d)
            set { $0.bufferSize = v }
        case "buffers":
            guard let count = ConfigValues.number(d.args[0]), count > 0, let size = ConfigValues.size(d.args[1]),
                size > 0
            else { throw d.directiveError("invalid value") }
            set { $0.buffers = (count, size) }
        case "busy_buffers_size":
            let v = try ConfigValues.size(d)
            set { $0.busyBuffersSize = v }
        case "max_temp_file_size":
            let v = Int64(try ConfigValues.size(d, allowGiga: true))
            set { $0.maxTempFileSize = v }
        case "hide_header":
            let h = d.args[0].lowercased()
            arrays { $0.hide = ($0.hide ?? []).union([h]) }
        case "pass_header":
            let h = d.args[0].lowercased()
            arrays { $0.pass = ($0.pass ?? []).union([h]) }
        case "ignore_headers":
            let known = [
                "x-accel-redirect", "x-accel-expires", "x-accel-limit-rate", "x-accel-buffering",
                "x-accel-charset", "expires", "cache-control", "set-cookie", "vary",
            ]
            var set: Set<String> = []
            for a in d.args {
                let h = a.lowercased()
                guard known.contains(h) else { throw d.error("invalid value \"\(a)\"") }
                set.insert(h)
            }
            arrays { $0.ignore = ($0.ignore ?? []).union(set) }
        case "next_upstream":
            var v: NextUpstream = []
            for a in d.args {
                if a == "off" {
                    guard d.args.count == 1 else { throw d.error("invalid value \"\(a)\"") }
                    continue
                }
                guard let c = NextUpstream.byName[a] else { throw d.error("invalid value \"\(a)\"") }
                v.insert(c)
            }
            set { $0.nextUpstream = v }
        case "next_upstream_tries":
            let v = try ConfigValues.num(d)
            set { $0.nextUpstreamTries = v }
        case "next_upstream_timeout":
            let v = try ConfigValues.msec(d)
            set { $0.nextUpstreamTimeout = v }
        case "intercept_errors":
            let v = try ConfigValues.flag(d)
            set { $0.interceptErrors = v }
        case "ignore_client_abort":
            let v = try ConfigValues.flag(d)
            set { $0.ignoreClientAbort = v }
        case "pass_trailers":
            let v = try ConfigValues.flag(d)
            set { $0.passTrailers = v }
        case "pass_request_headers":
            let v = try ConfigValues.flag(d)
            set { $0.passRequestHeaders = v }
        case "pass_request_body":
            let v = try ConfigValues.flag(d)
            set { $0.passRequestBody = v }
        case "set_header", "param":
            if d.args.count == 3 && d.args[2] != "if_not_empty" {
                throw d.error("invalid parameter \"\(d.args[2])\"")
            }
            let p = UpstreamParam(name: d.args[0], value: try value(d.args[1], d), ifNotEmpty: d.args.count == 3)
            arrays { $0.params = ($0.params ?? []) + [p] }
        case "http_version":
            // "2" (proxy_pass only): HTTP/2 to the upstream, which is HTTP/1.1's semantics.
            let v = try ConfigValues.choice(
                d, proto == .http ? ["1.0": 10, "1.1": 11, "2": 20] : ["1.0": 10, "1.1": 11])
            set {
                $0.http11 = v >= 11
                $0.http2 = v == 20
            }
        case "method":
            let v = try value(d.args[0], d)
            set { $0.method = v }
        case "modifier1", "modifier2":
            guard let v = ConfigValues.number(d.args[0]), v <= 255 else { throw d.directiveError("invalid value") }
            if name == "modifier1" { set { $0.modifier1 = UInt8(v) } } else { set { $0.modifier2 = UInt8(v) } }
        case "redirect": try proxyRedirect(d, level: level)
        case "set_body":
            let v = try value(d.args[0], d)
            set { $0.setBody = v }
        case "bind":
            var v: UpstreamBind? = nil
            if d.args[0] == "off" {
                guard d.args.count == 1 else { throw d.error("invalid parameter \"\(d.args[1])\"") }
            } else {
                if d.args.count == 2 && d.args[1] != "transparent" {
                    throw d.error("invalid parameter \"\(d.args[1])\"")
                }
                let address = try value(d.args[0], d)
                if address.isStatic, UpstreamBind.split(d.args[0]) == nil {
                    throw d.error("invalid address \"\(d.args[0])\"")
                }
                v = UpstreamBind(address: address, transparent: d.args.count == 2)
            }
            set { $0.bind = v }
        case _ where name.hasPrefix("ssl_"):
            try upstreamSSLDirective(d, String(name.dropFirst(4))) { f in set { f(&$0.upstreamSSL) } }
        case "cookie_domain", "cookie_path", "cookie_flags":
            let kind = String(name.dropFirst(7))
            try cookieDirective(d, kind: kind, rules: &level.proxyArrays.cookies)
        default:
            try genericSlot(d, level: level)
        }
        return true
    }

    private func proxyRedirect(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        if d.args.count == 1 {
            switch d.args[0] {
            case "off":
                level.proxyArrays.redirectMode = .off
                level.proxyArrays.redirects = nil
            case "default":
                level.proxyArrays.redirectMode = .default
                level.proxyArrays.redirects = nil
            default: throw d.directiveError("invalid parameter \"\(d.args[0])\"")
            }
            return
        }
        var rule: ProxyRedirectRule
        if d.args[0].hasPrefix("~") {
            let caseless = d.args[0].hasPrefix("~*")
            let source = String(d.args[0].dropFirst(caseless ? 2 : 1))
            let regex: Regex
            do { regex = try Regex(source, caseless: caseless) } catch { throw d.error(error.message) }
            rule = ProxyRedirectRule(from: nil, regex: regex, to: try value(d.args[1], d))
        } else {
            rule = ProxyRedirectRule(from: try value(d.args[0], d), regex: nil, to: try value(d.args[1], d))
        }
        level.proxyArrays.redirects = (level.proxyArrays.redirects ?? []) + [rule]
    }

    /// `proxy_pass` / `uwsgi_pass`: checked now, resolved after the http block.
    private func passDirective(
        _ d: ConfigDirective, level: ConfigLevel, location: LocationBuilder?, proto: UpstreamProtocol
    ) throws(ConfigError) {
        guard level.pass == nil else { throw d.directiveError("is duplicate") }
        let box = PassBox()
        level.pass = box
        pendingPasses.append(PendingPass(box: box, directive: d, proto: proto))
        // The URI part rule (checked before the address, as nginx does).
        if proto == .http, !d.args[0].contains("$"), let loc = location {
            let parsed = try parseTarget(d.args[0], d, proto: proto)
            if parsed.uri != nil {
                switch loc.kind {
                case .regex, .named:
                    throw d.error(
                        "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
                            + "named location, or inside \"if\" statement, or inside \"limit_except\" block")
                default: break
                }
            }
        }
    }

    /// The parts of a proxy_pass / uwsgi_pass URL.
    struct PassTarget {
        var host: String
        var port: Int
        var portWritten: Bool
        var unixPath: String?
        var uri: [UInt8]?
        var written: String
        var ssl = false
    }

    func parseTarget(_ text: String, _ d: ConfigDirective, proto: UpstreamProtocol) throws(ConfigError)
        -> PassTarget
    {
        var rest = Substring(text)
        let lower = text.lowercased()
        var ssl = false
        if proto == .http {
            if lower.hasPrefix("http://") {
                rest = rest.dropFirst(7)
            } else if lower.hasPrefix("https://") {
                rest = rest.dropFirst(8)
                ssl = true
            } else {
                throw d.error("invalid URL prefix in \"\(text)\"")
            }
        } else if proto == .uwsgi {
            if lower.hasPrefix("uwsgi://") {
                rest = rest.dropFirst(8)
            } else if lower.hasPrefix("suwsgi://") {
                rest = rest.dropFirst(9)
                ssl = true
            }
        }
        if rest.lowercased().hasPrefix("unix:") {
            // unix:/path.sock[:/uri]
            let body = rest.dropFirst(5)
            var path = body
            var uri: [UInt8]? = nil
            if let colon = body.firstIndex(of: ":") {
                path = body[..<colon]
                let u = body[body.index(after: colon)...]
                if !u.isEmpty { uri = Array(u.utf8) }
            }
            guard !path.isEmpty else { throw d.error("no path in the unix domain socket \"\(text)\"") }
            return PassTarget(
                host: "localhost", port: 0, portWritten: false, unixPath: String(path), uri: uri,
                written: "unix:" + path, ssl: ssl)
        }
        var authority = rest
        var uri: [UInt8]? = nil
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            uri = Array(rest[slash...].utf8)
        }
        var host = String(authority)
        var port = ssl ? 443 : 80
        var portWritten = false
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw d.error("invalid host in upstream \"\(text)\"") }
            let after = host[host.index(after: close)...]
            let inner = String(host[host.index(after: host.startIndex)..<close])
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), p > 0, p < 65536 else {
                    throw d.error("invalid port in upstream \"\(authority)\"")
                }
                port = p
                portWritten = true
            }
            host = inner
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), p > 0, p < 65536 else {
                throw d.error("invalid port in upstream \"\(authority)\"")
            }
            port = p
            portWritten = true
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw d.error("no host in upstream \"\(text)\"") }
        if proto != .http && uri != nil { throw d.error("invalid host in upstream \"\(text)\"") }
        return PassTarget(
            host: host, port: port, portWritten: portWritten, unixPath: nil, uri: uri, written: String(authority),
            ssl: ssl)
    }

    /// Resolves every proxy_pass / uwsgi_pass once all upstream blocks are known.
    func resolvePasses() throws(ConfigError) {
        for p in pendingPasses {
            let d = p.directive
            let text = d.args[0]
            var scheme = p.proto == .http ? "http://" : String(p.proto.directivePrefix.dropLast()) + "://"
            if text.lowercased().hasPrefix("https://") { scheme = "https://" }
            if text.contains("$") {
                let v = try value(text, d)
                p.box.pass = UpstreamPass(
                    proto: p.proto, group: nil, dynamic: v, uri: nil, proxyHost: "", proxyPort: "",
                    schemeAndHost: "")
                continue
            }
            let t = try parseTarget(text, d, proto: p.proto)
            if t.unixPath == nil, !t.portWritten, let g = upstreamGroups[t.host] {
                p.box.pass = UpstreamPass(
                    proto: p.proto, group: g, dynamic: nil, uri: t.uri, proxyHost: t.host,
                    proxyPort: p.proto == .http ? (t.ssl ? "443" : "80") : "", schemeAndHost: scheme + t.host,
                    ssl: t.ssl)
                continue
            }
            let group = try implicitGroup(t, d, proto: p.proto)
            let defaultPort = t.ssl ? 443 : 80
            // An IPv6 literal keeps its brackets in $proxy_host (and so in Host).
            let host = t.host.contains(":") ? "[\(t.host)]" : t.host
            let proxyHost = t.unixPath != nil ? "localhost" : (t.port == defaultPort ? host : "\(host):\(t.port)")
            p.box.pass = UpstreamPass(
                proto: p.proto, group: group, dynamic: nil, uri: t.uri, proxyHost: proxyHost,
                proxyPort: t.unixPath != nil ? "" : String(t.port), schemeAndHost: scheme + t.written, ssl: t.ssl)
        }
    }

    /// The one-server group nginx makes for an address written in proxy_pass (shared by
    /// every proxy_pass naming the same address).
    private func implicitGroup(_ t: PassTarget, _ d: ConfigDirective, proto: UpstreamProtocol) throws(ConfigError)
        -> UpstreamGroup
    {
        let key = t.unixPath.map { "unix:" + $0 } ?? "\(t.host):\(t.port)"
        if let g = implicitGroups[key] { return g }
        let addresses: [PeerAddress]
        if let path = t.unixPath {
            addresses = [.unix(path)]
        } else {
            guard let a = Resolver.resolve(t.host, port: t.port, in: environment), !a.isEmpty else {
                throw d.error("host not found in upstream \"\(t.written)\"")
            }
            addresses = a
        }
        let g = UpstreamGroup(
            name: t.written,
            servers: addresses.map {
                var s = UpstreamServer(address: $0)
                s.name = $0.description
                return s
            }, isExplicit: false, index: allUpstreams.count)
        allUpstreams.append(g)
        implicitGroups[key] = g
        return g
    }

    // MARK: - upstream {}

    func upstreamBlock(_ d: ConfigDirective) throws(ConfigError) {
        let name = d.args[0]
        if upstreamGroups[name] != nil { throw d.error("duplicate upstream \"\(name)\"") }
        var servers: [UpstreamServer] = []
        var keepalive = 0
        var keepaliveTimeout = 60_000
        var keepaliveRequests = 1000
        var keepaliveTime = 3_600_000
        var method = BalancingMethod.roundRobin
        var hashKey: ComplexValue? = nil
        var resolver: ResolverConfig? = nil
        var resolverTimeout: Int? = nil
        var seen: Set<String> = []
        func setMethod(_ m: BalancingMethod, _ c: ConfigDirective) throws(ConfigError) {
            // nginx: "load balancing method redefined" when a second one is given.
            if method != .roundRobin { throw c.error("load balancing method redefined") }
            method = m
        }
        for c in d.block ?? [] {
            if c.name != "server" && !seen.insert(c.name).inserted { throw c.directiveError("is duplicate") }
            switch c.name {
            case "server": servers += try upstreamServer(c)
            case "resolver": resolver = try resolverConfig(c)
            case "resolver_timeout": resolverTimeout = try ConfigValues.msec(c)
            case "keepalive":
                guard let n = ConfigValues.number(c.args[0]), n > 0 else {
                    throw c.error("invalid value \"\(c.args[0])\" in \"keepalive\" directive")
                }
                keepalive = n
            case "keepalive_timeout": keepaliveTimeout = try ConfigValues.msec(c)
            case "keepalive_requests": keepaliveRequests = try ConfigValues.num(c)
            case "keepalive_time": keepaliveTime = try ConfigValues.msec(c)
            case "least_conn": try setMethod(.leastConn, c)
            case "ip_hash": try setMethod(.ipHash, c)
            case "hash":
                if c.args.count == 2 && c.args[1] != "consistent" {
                    throw c.error("invalid parameter \"\(c.args[1])\"")
                }
                try setMethod(.hash(consistent: c.args.count == 2), c)
                hashKey = try value(c.args[0], c)
            case "random":
                var two = false
                for (i, a) in c.args.enumerated() {
                    if i == 0 && a == "two" {
                        two = true
                    } else if i == 1 && two && a == "least_conn" {
                        continue
                    } else {
                        throw c.error("invalid parameter \"\(a)\"")
                    }
                }
                try setMethod(.random(two: two), c)
            default: try genericSlot(c, level: nil)
            }
        }
        if servers.isEmpty { throw d.error("no servers are inside upstream") }
        let resolvable = servers.filter { $0.resolveName != nil }
        let g = UpstreamGroup(
            name: name, servers: servers.filter { $0.resolveName == nil }, keepalive: keepalive,
            keepaliveTimeout: keepaliveTimeout, keepaliveRequests: keepaliveRequests, keepaliveTime: keepaliveTime,
            isExplicit: true, index: allUpstreams.count, method: method, hashKey: hashKey, resolvable: resolvable)
        if !resolvable.isEmpty {
            upstreamResolveUses.append((g, d, resolver, resolverTimeout))
        }
        allUpstreams.append(g)
        upstreamGroups[name] = g
    }

    /// `server address [weight=n] [max_fails=n] [fail_timeout=t] [max_conns=n] [backup] [down]`.
    private func upstreamServer(_ d: ConfigDirective) throws(ConfigError) -> [UpstreamServer] {
        let addr = d.args[0]
        var template = UpstreamServer(address: .unix(""))
        var resolve = false
        var service: String? = nil
        for a in d.args.dropFirst() {
            func num(_ p: String) throws(ConfigError) -> Int {
                guard let v = ConfigValues.number(String(a.dropFirst(p.count))) else {
                    throw d.error("invalid parameter \"\(a)\"")
                }
                return v
            }
            if a.hasPrefix("weight=") {
                let v = try num("weight=")
                guard v > 0 else { throw d.error("invalid parameter \"\(a)\"") }
                template.weight = v
            } else if a.hasPrefix("max_fails=") {
                template.maxFails = try num("max_fails=")
            } else if a.hasPrefix("max_conns=") {
                template.maxConns = try num("max_conns=")
            } else if a.hasPrefix("fail_timeout=") {
                guard let v = ConfigValues.time(String(a.dropFirst(13)), isSeconds: true) else {
                    throw d.error("invalid parameter \"\(a)\"")
                }
                template.failTimeout = v * 1000
            } else if a.hasPrefix("slow_start=") {
                guard let v = ConfigValues.time(String(a.dropFirst(11)), isSeconds: true) else {
                    throw d.error("invalid parameter \"\(a)\"")
                }
                template.slowStart = v * 1000
            } else if a == "backup" {
                template.backup = true
            } else if a == "down" {
                template.down = true
            } else if a == "resolve" {
                resolve = true
            } else if a.hasPrefix("service=") {
                service = String(a.dropFirst(8))
                if service?.isEmpty != false { throw d.error("invalid parameter \"\(a)\"") }
            } else {
                throw d.error("invalid parameter \"\(a)\"")
            }
        }
        template.name = addr
        if let service {
            // nginx: "server example.net service=http resolve" — an SRV name, no port.
            guard resolve else { throw d.error("service upstream \"\(addr)\" requires \"resolve\"") }
            if addr.contains(":") { throw d.error("service upstream \"\(addr)\" may not have port") }
            var s = template
            s.address = .inet(host: addr, port: 0)
            s.resolveName = addr
            s.service = service.contains(".") ? "\(service).\(addr)" : "_\(service)._tcp.\(addr)"
            return [s]
        }
        if addr.lowercased().hasPrefix("unix:") {
            var s = template
            s.address = .unix(String(addr.dropFirst(5)))
            return [s]
        }
        var host = addr
        var port = 80
        if let colon = addr.lastIndex(of: ":"), !addr.hasSuffix("]") {
            guard let p = Int(addr[addr.index(after: colon)...]), p > 0, p < 65536 else {
                throw d.error("invalid port in \"\(addr)\" of the \"server\" directive")
            }
            port = p
            host = String(addr[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if resolve && !Self.isNumericHost(host) {
            // Resolved at run time (and again when the answer expires), not now.
            var s = template
            s.address = .inet(host: host, port: port)
            s.resolveName = host
            return [s]
        }
        guard let resolved = Resolver.resolve(host, port: port, in: environment), !resolved.isEmpty else {
            throw d.error("host not found in upstream \"\(addr)\"")
        }
        return resolved.map {
            var s = template
            s.address = $0
            return s
        }
    }

    /// An IPv4 or IPv6 literal (no resolver needed).
    static func isNumericHost(_ host: String) -> Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0 == "." || $0.isNumber })
    }

    /// Each group with `resolve` servers gets its own resolver or the http level's.
    func resolveUpstreamResolvers() throws(ConfigError) {
        for (g, d, own, ownTimeout) in upstreamResolveUses {
            guard let r = own ?? httpResolver else {
                throw d.error(
                    "no resolver defined to resolve \(g.resolvable[0].resolveName ?? "") in upstream \"\(g.name)\"")
            }
            upstreamResolvers[g.index] = UpstreamResolve(
                resolver: r, timeout: ownTimeout ?? httpResolverTimeout ?? 30_000)
        }
    }
}
