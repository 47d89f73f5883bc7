// TLS contexts for a configuration: one OpenSSL context per server block that
// listens with `ssl` (its certificates and handshake policy), and one per `ssl`
// listen address that starts every handshake with the default server's certificate
// and switches to the server the client names with SNI (or refuses the handshake for
// `ssl_reject_handshake on`). Built at startup and on every reload; a failure (a
// missing or mismatched certificate) is a startup error or keeps the old generation.

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxRouting
import SwiftginxTLS

public struct TLSContexts: Sendable {
    var byServer: [ObjectIdentifier: TLSContext] = [:]
    var byAddress: [ListenAddress: TLSContext] = [:]
    /// Listener contexts that are not a server's own (kept alive here).
    var extra: [TLSContext] = []
    /// Random session-ticket keys per `ssl_session_cache shared:NAME`, shared by the
    /// servers naming it and handed to the next generation on reload (nginx keeps them
    /// in the shared zone), so tickets issued before a reload still resume after it.
    var ticketRings: [String: TicketKeyRing] = [:]
    /// The sessions of each `ssl_session_cache shared:NAME`, kept across reloads too.
    var sessionStores: [String: SessionStore] = [:]
    /// nginx's warnings about the contexts (`"ssl_stapling" ignored, ...`), once each.
    public var warnings: [String] = []
    /// The certificate, key, CA and CRL files the contexts were built from, each read once
    /// (inherited by the next generation with `ssl_object_cache_inheritable on`).
    var files = TLSFileCache()
    /// The client contexts of upstream TLS, by location (`proxy_ssl_*`, `uwsgi_ssl_*`).
    var upstream: [ObjectIdentifier: TLSContext] = [:]
    /// The `ssl_ocsp_cache shared:NAME` caches, by name.
    var ocspCaches: [String: OCSPStatusCache] = [:]
    /// One cache per `ssl_certificate_cache` / `proxy_ssl_certificate_cache` directive.
    var certificateCaches: [ObjectIdentifier: TLSCertificateCache] = [:]

    /// The cache of a directive, made on first use while building.
    mutating func certificateCache(_ spec: CertificateCacheSpec?) -> TLSCertificateCache? {
        guard let spec else { return nil }
        if let cache = certificateCaches[ObjectIdentifier(spec)] { return cache }
        let cache = TLSCertificateCache(
            max: spec.max, inactive: spec.inactive, valid: spec.valid, identity: Server.fileIdentity)
        certificateCaches[ObjectIdentifier(spec)] = cache
        return cache
    }

    /// Every context, each once.
    var all: [TLSContext] { Array(byServer.values) + extra }

    /// Rotates automatic session-ticket keys that are due (called by the master loop).
    func rotateTicketKeys(now: Int64) {
        for c in byServer.values { c.rotateTicketKeysIfDue(now: now) }
        for c in extra { c.rotateTicketKeysIfDue(now: now) }
    }
}

/// The SNI handler's view of the server contexts: weak, so that a context's handler
/// does not keep the contexts (itself among them) alive after their generation is gone.
final class WeakContexts: @unchecked Sendable {
    struct Entry { weak var context: TLSContext? }
    let byServer: [ObjectIdentifier: Entry]
    init(_ contexts: [ObjectIdentifier: TLSContext]) { byServer = contexts.mapValues { Entry(context: $0) } }
}

extension Server {
    /// Every context of `config` (also what `-t` checks); `previous` is the running
    /// generation's, on reload (the ticket keys and sessions of each `shared:NAME`
    /// cache carry over).
    public static func buildTLS(_ config: RuntimeConfig, previous: TLSContexts? = nil) throws(StartupError)
        -> TLSContexts
    {
        var out = TLSContexts()
        out.files = TLSFileCache(
            inheriting: config.main.sslObjectCacheInheritable ? previous?.files : nil, identity: fileIdentity)
        func context(for server: VirtualServer) throws(StartupError) -> TLSContext {
            // ALPN offers "h2" where the server has `http2 on` or a `listen ... http2`.
            let h2 =
                server.settings.http2.enabled
                || config.listenGroups.contains { g in g.options.http2 && g.servers.contains { $0 === server } }
            return try Self.context(for: server, shared: &out, previous: previous, geos: config.geos, http2: h2)
        }
        var claimed: Set<ObjectIdentifier> = []
        var extra: [TLSContext] = []
        for group in config.listenGroups where group.options.ssl {
            for server in group.servers where out.byServer[ObjectIdentifier(server)] == nil {
                // A server without certificates of its own (allowed when the address's
                // default server has some) is served with the default server's context.
                if server.settings.ssl.certificates.isEmpty && !server.settings.ssl.rejectHandshake { continue }
                let c = try context(for: server)
                out.byServer[ObjectIdentifier(server)] = c
                for w in c.warnings where !out.warnings.contains(w) { out.warnings.append(w) }
            }
            // The default server's own context starts the handshakes of its address (so a
            // client naming that server, or none, needs no context switch); an address
            // whose default server already serves another address gets a context of its own.
            let table = WeakContexts(out.byServer)
            var listenerContext = out.byServer[ObjectIdentifier(group.defaultServer)]!
            if claimed.contains(ObjectIdentifier(listenerContext)) {
                listenerContext = try context(for: group.defaultServer)
                extra.append(listenerContext)
            }
            claimed.insert(ObjectIdentifier(listenerContext))
            listenerContext.serverNameHandler = { name in
                var server = group.defaultServer
                if let name, !name.isEmpty {
                    let lower = Array(name.lowercased().utf8)
                    server = lower.withUnsafeBytes { group.server(forHost: $0) }
                }
                if server.settings.ssl.rejectHandshake { return nil }
                return table.byServer[ObjectIdentifier(server)]?.context
                    ?? table.byServer[ObjectIdentifier(group.defaultServer)]?.context
            }
            out.byAddress[group.address] = listenerContext
        }
        out.extra = extra
        // As nginx, the certificates of servers without an ssl address are loaded too: their
        // configuration is checked (a wrong key password stops startup) and a fifo named
        // by ssl_password_file is read.
        var checked: Set<ObjectIdentifier> = []
        for group in config.listenGroups where !group.options.ssl {
            for server in group.servers where out.byServer[ObjectIdentifier(server)] == nil {
                guard !server.settings.ssl.certificates.isEmpty, checked.insert(ObjectIdentifier(server)).inserted
                else { continue }
                let c = try context(for: server)
                for w in c.warnings where !out.warnings.contains(w) { out.warnings.append(w) }
            }
        }
        try buildUpstreamTLS(config, into: &out)
        return out
    }

    /// A file's version as nginx's object cache tells it: inode, device and mtime (seconds);
    /// also the size (a file rewritten within the same second, its inode reused, with
    /// another length is not taken for the old one).
    @Sendable static func fileIdentity(_ path: String) -> [Int]? {
        guard !path.hasPrefix("data:"), let info = try? FileSystem.info(path: path) else { return nil }
        return [
            Int(truncatingIfNeeded: info.inode), Int(truncatingIfNeeded: info.device), info.mtime, Int(info.size),
        ]
    }

    private static func isDynamic(_ path: String) -> Bool { !path.hasPrefix("data:") && path.contains("$") }

    /// `ssl_certificate $ssl_server_name.crt`: the files of each pair are named during the
    /// handshake from the client's server name. A name that could leave the directory
    /// (a path separator, "..", a NUL) names nothing and the handshake is refused, as
    /// nginx refuses such a server name. A `geo` variable (`ssl_certificate $geo.crt`) is
    /// looked up with the client's address; one whose source is another value sees no
    /// address, as in nginx's handshake, where no request exists yet.
    private static func certificateProvider(_ pairs: [(certificate: String, key: String)], geos: [String: GeoBlock])
        -> @Sendable (String?, [UInt8]) -> [(certificate: String, key: String)]
    {
        func compile(_ path: String) -> ComplexValue {
            isDynamic(path)
                ? ((try? ComplexValue.parse(path, customNames: Set(geos.keys))) ?? ComplexValue(literal: path))
                : ComplexValue(literal: path)
        }
        let values = pairs.map { (certificate: compile($0.certificate), key: compile($0.key)) }
        return { name, client in
            let sni = name ?? ""
            if sni.contains("/") || sni.contains("..") || sni.contains("\u{0}") { return [] }
            func evaluate(_ value: ComplexValue) -> String {
                var out: [UInt8] = []
                for segment in value.segments {
                    switch segment {
                    case .literal(let bytes): out += bytes
                    case .variable(.custom(let geoName)):
                        // Only `geo` variables (checked when compiled).
                        guard let geo = geos[geoName] else { break }
                        let address =
                            geo.source == nil ? client.withUnsafeBytes { GeoAddress(raw: $0.isEmpty ? nil : $0) } : nil
                        out += geo.lookup(address)
                    case .variable: out += Array(sni.utf8)  // $ssl_server_name (checked when compiled)
                    }
                }
                return String(decoding: out, as: UTF8.self)
            }
            return values.map { (certificate: evaluate($0.certificate), key: evaluate($0.key)) }
        }
    }

    /// The context of one server; `shared` collects the per-name ticket keys and session
    /// stores (taken over from `previous` on reload).
    private static func context(
        for server: VirtualServer, shared: inout TLSContexts, previous: TLSContexts?, geos: [String: GeoBlock],
        http2: Bool = false
    ) throws(StartupError) -> TLSContext {
        let s = server.settings.ssl
        var o = TLSServerOptions()
        let pairs = zip(s.certificates, s.certificateKeys).map { (certificate: $0, key: $1) }
        if pairs.contains(where: { isDynamic($0.certificate) || isDynamic($0.key) }) {
            o.certificateProvider = certificateProvider(pairs, geos: geos)
            o.certificateCache = shared.certificateCache(s.certificateCache)
        } else {
            o.certificates = pairs
        }
        o.files = shared.files
        if let file = s.passwordFile {
            do { o.passwords = try shared.files.passwords(file) } catch {
                throw StartupError(description: error.message)
            }
        }
        o.protocols = s.protocols
        o.ciphers = s.ciphers
        o.preferServerCiphers = s.preferServerCiphers
        o.ecdhCurve = s.ecdhCurve
        o.dhparam = s.dhparam
        switch s.sessionCache {
        case .off: o.sessionCache = .off
        case .none: o.sessionCache = .none
        case .builtin(let size): o.sessionCache = .builtin(size: size)
        case .shared(let name, let size): o.sessionCache = .shared(name: name, size: size)
        }
        o.sessionTimeout = s.sessionTimeout
        o.sessionTickets = s.sessionTickets
        o.ticketKeys = s.sessionTicketKeys
        if case .shared(let name, let size) = s.sessionCache {
            // One store of sessions per cache name, kept across reloads (nginx's zone).
            if let store = shared.sessionStores[name] ?? previous?.sessionStores[name],
                store.capacity == SessionStore.capacity(forSize: size)
            {
                o.sessionStore = store
            } else {
                o.sessionStore = SessionStore(size: size)
            }
            shared.sessionStores[name] = o.sessionStore
            // nginx (1.23.2+) rotates random ticket keys when the cache is shared, keeping
            // them in the zone: one ring per cache name, kept across reloads.
            o.automaticTicketKeys = s.sessionTimeout
            if s.sessionTickets && s.sessionTicketKeys.isEmpty {
                if let ring = shared.ticketRings[name] ?? previous?.ticketRings[name],
                    ring.rotation == s.sessionTimeout
                {
                    o.ticketKeyRing = ring
                } else {
                    do { o.ticketKeyRing = try TicketKeyRing(rotation: s.sessionTimeout) } catch {
                        throw StartupError(description: error.message)
                    }
                }
                shared.ticketRings[name] = o.ticketKeyRing
            }
        }
        o.alpn = http2 ? ["h2", "http/1.1"] : ["http/1.1"]
        switch s.verifyClient {
        case .off: o.verifyClient = .off
        case .on: o.verifyClient = .on
        case .optional: o.verifyClient = .optional
        case .optionalNoCA: o.verifyClient = .optionalNoCA
        }
        o.verifyDepth = s.verifyDepth
        o.clientCertificate = s.clientCertificate
        o.trustedCertificate = s.trustedCertificate
        o.crl = s.crl
        if s.ocsp != .off {
            var responder: OCSPResponder? = nil
            if let url = s.ocspResponder {
                switch OCSPResponder.parse(url) {
                case .success(let r): responder = r
                case .failure(let e): throw StartupError(description: e.message)
                }
            }
            var cache: OCSPStatusCache? = nil
            if let (name, size) = s.ocspCache {
                cache = shared.ocspCaches[name] ?? OCSPStatusCache(capacity: size / 256)
                shared.ocspCaches[name] = cache
            }
            o.clientOCSP = ClientOCSPSettings(leafOnly: s.ocsp == .leaf, responder: responder, cache: cache)
        }
        o.confCommands = s.confCommands
        o.confDirectory = s.confDirectory
        o.certificateCompression = s.certificateCompression
        o.rejectHandshake = s.rejectHandshake
        o.staplingFile = s.staplingFile
        o.stapling = s.stapling
        o.staplingResponder = s.staplingResponder
        o.staplingVerify = s.staplingVerify
        o.earlyData = s.earlyData
        o.bufferSize = s.bufferSize
        do { return try TLSContext(server: o) } catch { throw StartupError(description: error.message) }
    }
}
