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
            if g.isDynamic, let d = worker.generation.dynamicUpstreams[g.index] {
                (group, peers) = d.current
                proxyHost = pass.proxyHost
                proxyPort = pass.proxyPort
                return true
            }
            // Usually the objects of the last request: kept without reference counting.
            if group !== g { group = g }
            if g.index >= 0 && g.index < tables.count && tables[g.index].group === g {
                if peers !== tables[g.index] { peers = tables[g.index] }
            } else {
                peers = nil
            }
            // Usually the same strings as the last request's: no reference counting then.
            if proxyHost != pass.proxyHost { proxyHost = pass.proxyHost }
            if proxyPort != pass.proxyPort { proxyPort = pass.proxyPort }
            return peers != nil
        }
        // A target from variables sets its group and peers below (or none).
        group = nil
        peers = nil
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
            guard resolverConfig != nil else {
                request.logError("no resolver defined to resolve \(host)")
                return false
            }
            // Resolved when the exchange is about to connect (after the body is read).
            pendingName = (host, port, String(authority))
            group = nil
            peers = nil
            return true
        }
        useAdHoc(name: String(authority), address: .inet(host: host, port: port))
        return true
    }

    /// A group of the configuration with its shared peer table (for a group with
    /// `resolve` servers, its current peers).
    private func use(_ g: UpstreamGroup, _ tables: [PeerTable]) -> Bool {
        if g.isDynamic, let d = worker.generation.dynamicUpstreams[g.index] {
            (group, peers) = d.current
            return true
        }
        guard g.index >= 0 && g.index < tables.count && tables[g.index].group === g else { return false }
        group = g
        peers = tables[g.index]
        return true
    }

    /// A group made for this request (a literal address from variables, or what the
    /// resolver answered for a name: every address, tried in turn as nginx does).
    private func useAdHoc(name: String, address: PeerAddress) { useAdHoc(name: name, addresses: [address]) }

    private func useAdHoc(name: String, addresses: [PeerAddress]) {
        let g = UpstreamGroup(
            name: name, servers: addresses.map { UpstreamServer(address: $0) }, isExplicit: false, index: -1)
        group = g
        peers = PeerTable(group: g)
    }

    // MARK: the resolver

    /// Asks the worker's resolver for the pending name; the answer (or the timer,
    /// `resolver_timeout`) moves the exchange on.
    func startResolving() {
        guard let pending = pendingName, let config = resolverConfig else { return }
        phase = .resolving
        timer = .resolving
        resolveSeq &+= 1
        let seq = resolveSeq
        var inline = true
        request.schedule(after: resolverTimeout)
        worker.resolver.resolve(pending.host, config: config, timeout: resolverTimeout) { [weak self] result in
            guard let self, self.resolveSeq == seq, self.phase == .resolving else { return }
            switch result {
            case .success(let answer):
                self.pendingName = nil
                self.useAdHoc(
                    name: pending.name, addresses: answer.addresses.map { .inet(host: $0.host, port: pending.port) })
                self.phase = .connecting
            case .failure(let failure):
                self.resolutionFailed(failure)
            }
            // An answer from the cache came inside this call: drive() goes on by itself.
            if !inline, self.drive() { self.request.wakeDownstream() }
        }
        inline = false
    }

    /// nginx's "could not be resolved" line and 502.
    func resolutionFailed(_ failure: DNSChannel.Failure) {
        let host = pendingName?.host ?? ""
        pendingName = nil
        request.logError("\(host) could not be resolved \(failure)")
        finishProxyWithError(502)
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
