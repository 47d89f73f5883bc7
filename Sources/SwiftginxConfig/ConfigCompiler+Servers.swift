// Servers and their addresses: nginx's per-address registry (`listen` itself is
// parsed in ConfigCompiler+Listen.swift), `server_name`, and the final build of every server's merged settings and location
// index into ListenGroups, with nginx's "conflicting server name" warnings.

import SwiftginxRouting

#if canImport(Glibc)
    import Glibc
#endif

/// Addresses seen in `listen`, in the order first seen, with their servers.
struct ListenRegistry {
    struct Entry {
        var address: ListenAddress
        var options = ListenOptions()
        /// Options that only one listen of an address may set were given.
        var optionsSet = false
        var defaultServer: ServerBuilder? = nil
        var servers: [ServerBuilder] = []
    }
    var entries: [Entry] = []
    var byAddress: [ListenAddress: Int] = [:]
}

extension ConfigCompiler {
    func addListen(
        _ address: ListenAddress, options: ListenOptions, optionsSet: Bool, isDefault: Bool, server: ServerBuilder,
        directive d: ConfigDirective
    ) throws(ConfigError) {
        server.listens.append(address)
        guard let i = listenRegistry.byAddress[address] else {
            var entry = ListenRegistry.Entry(address: address)
            entry.options = options
            entry.optionsSet = optionsSet
            entry.defaultServer = isDefault ? server : nil
            entry.servers = [server]
            listenRegistry.byAddress[address] = listenRegistry.entries.count
            listenRegistry.entries.append(entry)
            return
        }
        var entry = listenRegistry.entries[i]
        if entry.servers.contains(where: { $0 === server }) { throw d.error("a duplicate listen \(address)") }
        let ssl = entry.options.ssl || options.ssl
        let http2 = entry.options.http2 || options.http2
        let proxyProtocol = entry.options.proxyProtocol || options.proxyProtocol
        if optionsSet {
            if entry.optionsSet { throw d.error("duplicate listen options for \(address)") }
            entry.options = options
            entry.optionsSet = true
        }
        entry.options.ssl = ssl
        entry.options.http2 = http2
        entry.options.proxyProtocol = proxyProtocol
        if isDefault {
            if entry.defaultServer != nil { throw d.error("a duplicate default server for \(address)") }
            entry.defaultServer = server
        }
        entry.servers.append(server)
        listenRegistry.entries[i] = entry
    }

    /// The canonical text of a numeric IPv4 or IPv6 address, or nil.
    static func numericHost(_ host: String) -> String? {
        var v4 = in_addr()
        var v6 = in6_addr()
        var out = [CChar](repeating: 0, count: 64)
        if inet_pton(AF_INET, host, &v4) == 1 {
            guard inet_ntop(AF_INET, &v4, &out, socklen_t(out.count)) != nil else { return nil }
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            guard inet_ntop(AF_INET6, &v6, &out, socklen_t(out.count)) != nil else { return nil }
        } else {
            return nil
        }
        return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    func serverName(_ d: ConfigDirective, server: ServerBuilder) throws(ConfigError) {
        for name in d.args {
            if name.contains("/") {
                warnings.append(
                    ConfigError("server name \"\(name)\" has suspicious symbols", file: d.file, line: d.line)
                        .description)
            }
            if name.hasPrefix("~") {
                do { _ = try Regex(String(name.dropFirst()), caseless: true) } catch { throw d.error(error.message) }
                server.names.append(name)
            } else if name == "$hostname" {
                server.names.append(environment.hostname().lowercased())
            } else {
                server.names.append(name.lowercased())
            }
        }
    }

    // MARK: - Build

    func baseSettings() -> LocationSettings {
        var base = LocationSettings()
        base.root = ComplexValue(literal: fullPath("html"))
        base.accessLogs = [AccessLogTarget(path: fullPath("logs/access.log"), format: combined, bufferSize: 0)]
        base.types = MimeTypes(["html": "text/html", "gif": "image/gif", "jpg": "image/jpeg"])
        base.clientBodyBufferSize = 2 * max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))
        return base
    }

    func buildListenGroups() throws(ConfigError) -> [ListenGroup] {
        guard let http else { return [] }
        let httpSettings = http.apply(to: baseSettings())
        let httpServer = http.applyServer(to: ServerSettings())

        var built: [ObjectIdentifier: VirtualServer] = [:]
        for s in servers {
            let settings = s.level.apply(to: httpSettings)
            var serverSettings = s.level.applyServer(to: httpServer)
            try checkCertificateKeys(serverSettings.ssl)
            serverSettings.keepaliveTimeout = settings.keepaliveTimeout
            let entries = s.locations.map { entry($0, parent: settings) }
            let index: LocationIndex<Location>
            do { index = try LocationIndex(entries) } catch { throw s.directive.error(error.message) }
            var serverLevel = settings
            serverLevel.returnAction = nil  // runs as `serverReturn`, before location matching
            serverLevel.rewrites = []  // run as `serverRewrites`
            noteAccessLogs(serverLevel)
            // nginx's auto_redirect: "/app" → 301 "/app/" for a proxied prefix location "/app/"
            // (unless an exact location "= /app" exists).
            var autoRedirects: Set<String> = []
            let exactNames = Set(entries.filter { if case .exact = $0.kind { true } else { false } }.map(\.pattern))
            for e in entries where e.payload.settings.pass != nil && e.pattern.count > 1 && e.pattern.hasSuffix("/") {
                switch e.kind {
                case .prefix, .prefixNoRegex:
                    let bare = String(e.pattern.dropLast())
                    if !exactNames.contains(bare) { autoRedirects.insert(bare) }
                default: break
                }
            }
            built[ObjectIdentifier(s)] = VirtualServer(
                serverNames: s.names.isEmpty ? [""] : s.names, settings: serverSettings, locations: index,
                serverReturn: s.level.returnAction, defaultSettings: serverLevel, serverRewrites: s.level.rewrites,
                autoRedirects: autoRedirects)
        }

        var groups: [ListenGroup] = []
        for e in listenRegistry.entries {
            let servers = e.servers.map { built[ObjectIdentifier($0)]! }
            warnConflictingNames(servers, address: e.address)
            let defaultServer = e.defaultServer.map { built[ObjectIdentifier($0)]! } ?? servers[0]
            if e.options.ssl { try checkSSLCertificates(e.servers, default: e.defaultServer ?? e.servers[0], built) }
            let isWildcard = e.address.host == "0.0.0.0" || e.address.host == "::"
            let wildcardHost = e.address.isIPv6 ? "::" : "0.0.0.0"
            let hasWildcard = listenRegistry.byAddress[ListenAddress(host: wildcardHost, port: e.address.port)] != nil
            groups.append(
                ListenGroup(
                    address: e.address, options: e.options, servers: servers, defaultServer: defaultServer,
                    bindsOwnSocket: isWildcard || e.options.bind || !hasWildcard))
        }
        return groups
    }

    private func entry(_ b: LocationBuilder, parent: LocationSettings) -> LocationEntry<Location> {
        let settings = b.level.apply(to: parent)
        noteAccessLogs(settings)
        noteCacheKey(settings)
        let prefix: String
        switch b.kind {
        case .exact, .prefix, .prefixNoRegex: prefix = b.name
        default: prefix = ""
        }
        var limited: LimitExcept? = nil
        if let (methods, level) = b.level.limitExcept {
            // The block's settings over the location's (nginx merges the limit_except
            // configuration with its location's).
            var own = level.apply(to: settings)
            // The location's proxy_pass applies unless the block has its own.
            if level.pass == nil { own.pass = settings.pass }
            noteAccessLogs(own)
            limited = LimitExcept(
                methods: methods,
                location: Location(pattern: b.written + " limit_except", prefix: prefix, settings: own))
        }
        let location = Location(pattern: b.written, prefix: prefix, settings: settings, limitExcept: limited)
        for (level, box) in b.level.ifLevels {
            // The block's settings over the location's; its rewrites run from the location's
            // list, and a proxy_pass of the location is inherited (nginx's noname location).
            var own = level.apply(to: settings)
            own.rewrites = []
            own.returnAction = nil
            if level.pass == nil { own.pass = settings.pass }
            noteAccessLogs(own)
            box.location = Location(pattern: b.written + " if", prefix: prefix, settings: own)
        }
        return LocationEntry(
            kind: b.kind, pattern: b.name, payload: location, children: b.children.map { entry($0, parent: settings) },
            regex: b.regex)
    }

    private func noteAccessLogs(_ settings: LocationSettings) {
        for log in settings.accessLogs
        where log.pathValue == nil && log.syslog == nil && !accessLogPaths.contains(log.path) {
            accessLogPaths.append(log.path)
        }
    }

    /// nginx's `conflicting server name "x" on addr, ignored` for names (exact or
    /// wildcard; ".x" and "*.x" count as the same) declared by an earlier server.
    private func warnConflictingNames(_ servers: [VirtualServer], address: ListenAddress) {
        var owner: [String: ObjectIdentifier] = [:]
        for server in servers {
            let id = ObjectIdentifier(server)
            for name in server.serverNames where !name.hasPrefix("~") {
                let key = name.hasPrefix("*.") ? String(name.dropFirst()) : name
                if let first = owner[key] {
                    if first != id {
                        warnings.append("conflicting server name \"\(name)\" on \(address), ignored")
                    }
                } else {
                    owner[key] = id
                }
            }
        }
    }
}
