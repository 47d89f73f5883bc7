// The route explainer behind `swiftginx -x 'GET http://host:port/path?query'`: which
// listen address and server a request reaches and why (exact name, wildcard, regex or
// default server), every location decision nginx's precedence makes, and what the
// chosen location does with it (return, try_files candidates, the file it would send).
// It reads the compiled configuration only; nothing is listened on.

import SwiftginxConfig
import SwiftginxUpstream
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

public enum RouteExplainer {
    /// A report for `request` ("METHOD URL" or just a URL; a path alone uses the first
    /// listen address and server).
    public static func explain(_ request: String, config: RuntimeConfig) -> String {
        var out: [String] = []
        let parts = request.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let method = parts.count > 1 ? parts[0] : "GET"
        let url = parts.last ?? "/"
        var host = ""
        var port: Int? = nil
        var target = url
        if let schemeEnd = url.firstRange(of: "://") {
            let rest = url[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            target = String(rest.dropFirst(authority.count))
            if target.isEmpty { target = "/" }
            if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...])
            } else {
                host = String(authority)
            }
            if port == nil { port = url.hasPrefix("https") ? 443 : 80 }
        }
        host = host.lowercased()
        out.append("request: \(method) \(url)")

        guard let group = listenGroup(config, host: host, port: port) else {
            out.append("listen: nothing listens on port \(port.map(String.init) ?? "?"); the connection is refused")
            return out.joined(separator: "\n")
        }
        out.append("listen: \(group.address) (\(group.servers.count) server(s) on it)")
        let server = host.isEmpty ? group.defaultServer : chooseServer(group, host: host, into: &out)

        let pathPart = String(target.prefix { $0 != "?" })
        let query = target.count > pathPart.count ? String(target.dropFirst(pathPart.count + 1)) : nil
        var uri: [UInt8] = []
        let ok = Array(pathPart.utf8).withUnsafeBytes {
            URINormalizer.normalize($0, mergeSlashes: server.settings.mergeSlashes, into: &uri)
        }
        guard ok, uri.first == UInt8(ascii: "/") else {
            out.append("uri: \(pathPart) is invalid: 400 Bad Request")
            return out.joined(separator: "\n")
        }
        let uriText = String(decoding: uri, as: UTF8.self)
        out.append("uri: \(uriText)" + (query.map { " args: \($0)" } ?? ""))
        if let r = server.serverReturn {
            out.append(
                "server-level return \(r.code)" + (r.text.map { " \($0.source)" } ?? "") + ": runs before any location")
            return out.joined(separator: "\n")
        }
        let (match, trace) = server.locations.explain(uriText)
        for line in trace { out.append("  " + line) }
        let location = match?.location ?? server.serverLevelLocation
        out.append("location: " + (match == nil ? "(server level)" : location.pattern))
        handler(location, uri: uriText, method: method, into: &out)
        return out.joined(separator: "\n")
    }

    private static func listenGroup(_ config: RuntimeConfig, host: String, port: Int?) -> ListenGroup? {
        guard let port else { return config.listenGroups.first }
        let onPort = config.listenGroups.filter { $0.address.port == port }
        return onPort.first { $0.address.host == host } ?? onPort.first { $0.address.host == "0.0.0.0" }
            ?? onPort.first { $0.address.host == "::" } ?? onPort.first
    }

    private static func chooseServer(_ group: ListenGroup, host: String, into out: inout [String]) -> VirtualServer {
        var h = host
        if h.hasSuffix(".") { h.removeLast() }
        let server = Array(h.utf8).withUnsafeBytes { group.server(forHost: $0) }
        let names = server.serverNames.map { $0.isEmpty ? "\"\"" : $0 }.joined(separator: " ")
        let reason: String
        if server.serverNames.contains(h) {
            reason = "exact server_name"
        } else if let w = server.serverNames.first(where: { $0.hasPrefix("*.") || $0.hasPrefix(".") }),
            h.hasSuffix(w.hasPrefix("*") ? String(w.dropFirst()) : w) || "." + h == w
        {
            reason = "leading wildcard \(w)"
        } else if let w = server.serverNames.first(where: { $0.hasSuffix(".*") }), h.hasPrefix(String(w.dropLast())) {
            reason = "trailing wildcard \(w)"
        } else if let r = server.serverNames.first(where: { $0.hasPrefix("~") }), server !== group.defaultServer {
            reason = "regular expression \(r)"
        } else {
            reason = "no server_name matches \"\(h)\": the default server of \(group.address)"
        }
        out.append("server: server_name \(names) — \(reason)")
        return server
    }

    private static func handler(_ location: Location, uri: String, method: String, into out: inout [String]) {
        let s = location.settings
        if s.isInternal { out.append("internal location: an external request gets 404") }
        if !s.rewrites.isEmpty {
            out.append("rewrite directives of the location, in order (a changed URI searches again):")
            for step in s.rewrites { out.append("  " + describe(step)) }
        }
        if let r = s.returnAction {
            out.append("handler: return \(r.code)" + (r.text.map { " \($0.source)" } ?? ""))
            return
        }
        if s.upstreamStatus {
            out.append("handler: upstream_status (JSON of every upstream and peer)")
            return
        }
        if let pass = s.pass {
            describe(pass, location: location, uri: uri, into: &out)
            return
        }
        let root = s.alias.map { "alias " + $0.source } ?? "root " + s.root.source
        if let t = s.tryFiles {
            out.append("handler: try_files (\(root))")
            for c in t.candidates {
                out.append("  candidate \(c.source)" + describe(c, uri: uri, s: s, location: location))
            }
            switch t.fallback {
            case .uri(let v): out.append("  otherwise internal redirect to \(v.source)")
            case .named(let n): out.append("  otherwise named location @\(n)")
            case .code(let c): out.append("  otherwise \(c)")
            }
            return
        }
        if method != "GET" && method != "HEAD" {
            out.append("handler: static files answer \(method) with 405 Not Allowed")
            return
        }
        let path = filePath(uri, s: s, location: location)
        if uri.hasSuffix("/") {
            out.append("handler: index \(s.index.map(\.source).joined(separator: " ")) in \(path)")
            for i in s.index where i.isStatic {
                out.append(
                    "  \(path)\(i.source): " + (exists(path + i.source) ? "exists → internal redirect" : "missing"))
            }
            if s.autoindex { out.append("  autoindex on: a listing when no index exists") }
            return
        }
        out.append("handler: static file \(path) (\(root))" + (exists(path) ? "" : " — does not exist: 404"))
    }

    /// A proxied location: the upstream, its peers and balancing, and the URI sent.
    private static func describe(_ pass: UpstreamPass, location: Location, uri: String, into out: inout [String]) {
        let module = pass.proto == .uwsgi ? "uwsgi_pass" : "proxy_pass"
        if let dynamic = pass.dynamic {
            out.append("handler: \(module) \(dynamic.source) (evaluated per request)")
            return
        }
        guard let group = pass.group else { return }
        var sent = uri
        if pass.proto == .http, let part = pass.uri {
            sent = String(decoding: part, as: UTF8.self) + uri.dropFirst(min(uri.count, location.prefix.count))
        }
        let scheme = pass.proto == .uwsgi ? (pass.ssl ? "suwsgi://" : "uwsgi://") : (pass.ssl ? "https://" : "http://")
        out.append("handler: \(module) to \(scheme)\(group.name)" + (pass.proto == .http ? ", URI sent: \(sent)" : ""))
        let method = RouteExplainer.methodName(group.method)
        out.append("  upstream \"\(group.name)\": \(method), keepalive \(group.keepalive)")
        for server in group.servers {
            var flags: [String] = ["weight=\(server.weight)"]
            if server.backup { flags.append("backup") }
            if server.down { flags.append("down") }
            out.append("  peer \(server.address.description) " + flags.joined(separator: " "))
        }
    }

    static func methodName(_ m: BalancingMethod) -> String {
        switch m {
        case .roundRobin: "round robin"
        case .leastConn: "least_conn"
        case .ipHash: "ip_hash"
        case .hash(let consistent): consistent ? "hash consistent" : "hash"
        case .random(let two): two ? "random two" : "random"
        }
    }

    /// One rewrite-module step as written.
    static func describe(_ step: RewriteStep) -> String {
        switch step {
        case .rewrite(let regex, let replacement, let flag):
            let f: String
            switch flag {
            case .none: f = ""
            case .last: f = " last"
            case .breakFlag: f = " break"
            case .redirect: f = " redirect"
            case .permanent: f = " permanent"
            }
            return "rewrite \(regex.pattern) \(replacement.source)\(f)"
        case .set(let name, let value): return "set $\(name) \(value.source)"
        case .breakProcessing: return "break"
        case .returnAction(let r): return "return \(r.code)" + (r.text.map { " \($0.source)" } ?? "")
        case .ifBlock(_, let inner, let own):
            let extra = own == nil ? "" : " (+ location directives)"
            return "if (...) { " + inner.map(describe).joined(separator: "; ") + " }" + extra
        }
    }

    private static func describe(_ c: ComplexValue, uri: String, s: LocationSettings, location: Location) -> String {
        guard c.segments.count == 1, case .variable(.uri) = c.segments[0] else { return "" }
        let path = filePath(uri, s: s, location: location)
        return ": \(path) " + (exists(path) ? "exists" : "missing")
    }

    private static func filePath(_ uri: String, s: LocationSettings, location: Location) -> String {
        if let alias = s.alias {
            if location.isRegex { return alias.source }
            return alias.source + uri.dropFirst(min(uri.count, location.prefix.count))
        }
        var root = s.root.source
        if root.hasSuffix("/") { root.removeLast() }
        return root + uri
    }

    private static func exists(_ path: String) -> Bool {
        var p = Array(path.utf8)
        p.append(0)
        return p.withUnsafeBufferPointer {
            (try? FileSystem.info(path: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self))) != nil
        }
    }
}
