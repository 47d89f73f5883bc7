// Where a proxied request goes: the group and peer table of its proxy_pass — an
// `upstream` block, the implicit group of an address written in proxy_pass, or, for a
// value with variables, whichever of those it names (nginx's lookup, no resolver), a
// literal address or a unix socket made into a group for this request — and the
// `proxy_bind` local address of its connections.

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxUpstream

extension ProxyExchange {
    /// Finds the group and peer table of a proxy_pass (evaluating one with variables).
    func resolveTarget(_ pass: UpstreamPass) -> Bool {
        let tables = worker.generation.peerTables
        upstreamTLS = pass.ssl
        if let g = pass.group {
            group = g
            peers = g.index >= 0 && g.index < tables.count && tables[g.index].group === g ? tables[g.index] : nil
            proxyHost = pass.proxyHost
            proxyPort = pass.proxyPort
            return peers != nil
        }
        guard let dynamic = pass.dynamic else { return false }
        let text = String(decoding: request.evaluate(dynamic), as: UTF8.self)
        var rest = Substring(text)
        // The scheme may come from the value too: https:// (suwsgi://) means TLS.
        let (plain, secure) = (pass.proto.scheme(tls: false), pass.proto.scheme(tls: true))
        let lowerText = text.lowercased()
        if lowerText.hasPrefix(secure) {
            rest = rest.dropFirst(secure.count)
            upstreamTLS = true
        } else if lowerText.hasPrefix(plain) {
            rest = rest.dropFirst(plain.count)
        }
        let defaultPort = upstreamTLS ? 443 : 80
        let config = worker.generation.config
        if rest.lowercased().hasPrefix("unix:") {
            // unix:/path[:/uri]
            var path = rest.dropFirst(5)
            if let colon = path.firstIndex(of: ":") {
                let uri = path[path.index(after: colon)...]
                if !uri.isEmpty { dynamicURI = Array(uri.utf8) }
                path = path[..<colon]
            }
            guard !path.isEmpty else {
                request.logError("no path in the unix domain socket \"\(text)\"")
                return false
            }
            proxyHost = "localhost"
            proxyPort = ""
            if let g = config.implicitUpstreams["unix:" + path.lowercased()], use(g, tables) { return true }
            useAdHoc(name: "unix:" + path, address: .unix(String(path)))
            return true
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            dynamicURI = Array(rest[slash...].utf8)
        }
        if let g = config.upstreamsByName[String(authority)], use(g, tables) {
            proxyHost = String(authority)
            proxyPort = String(defaultPort)
            return true
        }
        var host = String(authority)
        var port = defaultPort
        var portWritten = false
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]"), let n = Int(host[host.index(after: colon)...]) {
            port = n
            portWritten = true
            host = String(host[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        proxyHost = String(authority)
        proxyPort = String(port)
        let key = authority.lowercased()
        let implicit = config.implicitUpstreams
        if let g = implicit[portWritten ? key : key + ":\(defaultPort)"] ?? implicit[key], use(g, tables) {
            return true
        }
        guard SocketAddress(host: host, port: port) != nil else {
            request.logError("no resolver defined to resolve \(host)")
            return false
        }
        useAdHoc(name: String(authority), address: .inet(host: host, port: port))
        return true
    }

    /// A group of the configuration with its shared peer table.
    private func use(_ g: UpstreamGroup, _ tables: [PeerTable]) -> Bool {
        guard g.index >= 0 && g.index < tables.count && tables[g.index].group === g else { return false }
        group = g
        peers = tables[g.index]
        return true
    }

    /// A one-address group made for this request (a literal address from variables).
    private func useAdHoc(name: String, address: PeerAddress) {
        let g = UpstreamGroup(name: name, servers: [UpstreamServer(address: address)], isExplicit: false, index: -1)
        group = g
        peers = PeerTable(group: g)
    }

    /// The `proxy_bind` address of this request (nil: none, or not an address — logged).
    func localAddress(_ bind: UpstreamBind) -> SocketAddress? {
        let text = String(decoding: request.evaluate(bind.address), as: UTF8.self)
        if text.isEmpty { return nil }
        guard let (host, port) = UpstreamBind.split(text), let a = SocketAddress(host: host, port: port) else {
            request.logError("invalid local address \"\(text)\"")
            return nil
        }
        return a
    }
}
