// TLS to upstreams (`proxy_pass https://…`, `uwsgi_pass suwsgi://…` with the
// `proxy_ssl_*` / `uwsgi_ssl_*` directives): one client context per distinct setting,
// built with the server contexts at startup and reload (so a missing certificate or CRL
// is a startup error, and each file is read once); the handshake runs after the TCP
// connect, before the request is written, with nginx's SNI rules (the name without its
// port; none for an IP literal); a certificate named by variables is loaded into the
// connection; sessions are kept per location and peer for the next connection
// (`proxy_ssl_session_reuse`). Upstream reads and writes go through the connection's
// Transport, plain or TLS alike.

import Glibc
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxRouting
import SwiftginxTLS

extension ProxyExchange {
    /// Starts TLS on a freshly connected upstream socket; false (answered 500, as nginx)
    /// when the connection cannot be set up or its certificate cannot be loaded.
    func beginUpstreamTLS(_ u: UpstreamConnection) -> Bool {
        guard let location = request.location else { return false }
        let ssl = settings.upstreamSSL
        do {
            let context = try worker.upstreamTLSContext(for: location, ssl, http2: settings.http2)
            let name = Self.serverName(
                ssl.name.map { String(decoding: request.evaluate($0), as: UTF8.self) } ?? proxyHost)
            let sni = ssl.serverName && Self.mayBeSentAsSNI(name) ? name : nil
            let session = ssl.sessionReuse ? worker.upstreamSessions[sessionKey(location, u)] : nil
            let tls = try TLSConnection(context: context, fd: u.fd, serverName: sni, session: session)
            if ssl.verify { tls.setVerifiedHostName(name) }
            if ssl.certificateHasVariables, let certificate = ssl.certificate {
                let path = evaluatePath(certificate, ssl.certificateDirectory)
                if !path.isEmpty {
                    let key = ssl.certificateKey.map { evaluatePath($0, ssl.certificateDirectory) } ?? path
                    let cache = ssl.certificateCache.flatMap {
                        worker.generation.tls.certificateCaches[ObjectIdentifier($0)]
                    }
                    try tls.useCertificate(path, key: key, cache: cache)
                }
            }
            u.tls = tls
            u.transport.upstream = u
            u.handshakeDone = false
            return true
        } catch {
            logUpstream(.error, "\(error.message) while SSL handshaking to upstream")
            finishProxyWithError(500)
            return false
        }
    }

    /// A certificate or key value evaluated for this request; a relative result is
    /// taken from the directory of the configuration file that named it.
    private func evaluatePath(_ value: ComplexValue, _ directory: String) -> String {
        let text = String(decoding: request.evaluate(value), as: UTF8.self)
        if text.isEmpty || text.hasPrefix("/") || text.hasPrefix("data:") { return text }
        return directory + "/" + text
    }

    /// `proxy_ssl_name` or `$proxy_host` without the port (`[::1]:8443` → `[::1]`).
    static func serverName(_ written: String) -> String {
        var bytes = Array(written.utf8)
        var from = 0
        if bytes.first == UInt8(ascii: "["), let close = bytes.firstIndex(of: UInt8(ascii: "]")) { from = close }
        if let colon = bytes[from...].firstIndex(of: UInt8(ascii: ":")) { bytes.removeSubrange(colon...) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// RFC 6066: no SNI for an empty name or an IPv4 or IPv6 literal.
    static func mayBeSentAsSNI(_ name: String) -> Bool {
        if name.isEmpty || name.hasPrefix("[") { return false }
        let parts = name.split(separator: ".", omittingEmptySubsequences: false)
        let isIPv4 =
            parts.count == 4
            && parts.allSatisfy { p in
                !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCII) && p.allSatisfy(\.isNumber) && Int(p)! <= 255
            }
        return !isIPv4
    }

    func sessionKey(_ location: Location, _ u: UpstreamConnection) -> String {
        "\(ObjectIdentifier(location).hashValue)|\(u.address.description)"
    }

    /// Drives the upstream handshake: nil while it runs, true when done, false on failure.
    func continueUpstreamHandshake(_ u: UpstreamConnection) -> Bool? {
        guard let tls = u.tls, !u.handshakeDone else { return true }
        switch tls.handshake() {
        case .done:
            u.handshakeDone = true
            return true
        case .wantRead, .wantWrite:
            return nil
        case .closed:
            logUpstream(.error, "upstream prematurely closed connection while SSL handshaking to upstream")
            return false
        case .failed(let e):
            logUpstream(.error, "\(e.message) while SSL handshaking to upstream")
            return false
        }
    }

    /// Keeps the session of a finished TLS upstream connection for the next one.
    func rememberUpstreamSession(_ u: UpstreamConnection) {
        guard let tls = u.tls, settings.upstreamSSL.sessionReuse, let location = request.location,
            let session = tls.session
        else { return }
        worker.upstreamSessions[sessionKey(location, u)] = session
    }
}

extension Worker {
    /// The client TLS context of a location's proxy_ssl settings: the one built with the
    /// generation, else (a location of an older generation, an `if` block) made once per
    /// worker.
    func upstreamTLSContext(for location: Location, _ ssl: UpstreamSSLSettings, http2: Bool = false) throws(TLSError)
        -> TLSContext
    {
        let key = ObjectIdentifier(location)
        if let context = generation.tls.upstream[key] { return context }
        if let (owner, context) = upstreamTLSContexts[key], owner === location { return context }
        let context = try Server.upstreamContext(ssl, files: nil, http2: http2)
        upstreamTLSContexts[key] = (location, context)
        return context
    }
}

extension Server {
    /// The client context of one location's upstream TLS settings (ALPN `h2` for
    /// `proxy_http_version 2`, as nginx offers it).
    static func upstreamContext(_ ssl: UpstreamSSLSettings, files: TLSFileCache?, http2: Bool = false) throws(TLSError)
        -> TLSContext
    {
        var o = TLSClientOptions()
        o.verify = ssl.verify
        o.verifyDepth = ssl.verifyDepth
        o.trustedCertificate = ssl.trustedCertificate
        o.crl = ssl.crl
        if !ssl.certificateHasVariables, let certificate = ssl.certificate?.source, !certificate.isEmpty {
            o.certificate = certificate
            o.key = ssl.certificateKey?.source
        }
        if let file = ssl.passwordFile { o.passwords = try (files ?? TLSFileCache()).passwords(file) }
        o.protocols = ssl.protocols
        o.ciphers = ssl.ciphers
        o.reuseSessions = ssl.sessionReuse
        o.confCommands = ssl.confCommands
        o.confDirectory = ssl.confDirectory
        o.files = files
        o.alpn = http2 ? ["h2"] : ["http/1.1"]
        return try TLSContext(client: o)
    }

    /// The upstream contexts of every proxied location, one per distinct setting.
    static func buildUpstreamTLS(_ config: RuntimeConfig, into out: inout TLSContexts) throws(StartupError) {
        var made: [String: TLSContext] = [:]
        var seen: Set<ObjectIdentifier> = []
        for group in config.listenGroups {
            for server in group.servers where seen.insert(ObjectIdentifier(server)).inserted {
                var locations = server.locations.all
                locations += locations.compactMap { $0.limitExcept?.location }
                for location in locations {
                    guard let pass = location.settings.pass, pass.ssl || pass.dynamic != nil else { continue }
                    let ssl =
                        pass.proto == .uwsgi ? location.settings.uwsgi.upstreamSSL : location.settings.proxy.upstreamSSL
                    let http2 = pass.proto == .http && location.settings.proxy.http2
                    let key = identity(ssl) + (http2 ? "\u{0}h2" : "")
                    _ = out.certificateCache(ssl.certificateCache)
                    if let context = made[key] {
                        out.upstream[ObjectIdentifier(location)] = context
                        continue
                    }
                    do {
                        let context = try upstreamContext(ssl, files: out.files, http2: http2)
                        made[key] = context
                        out.upstream[ObjectIdentifier(location)] = context
                    } catch {
                        throw StartupError(description: error.message)
                    }
                }
            }
        }
    }

    /// What makes two upstream contexts the same.
    private static func identity(_ ssl: UpstreamSSLSettings) -> String {
        let parts: [String] = [
            ssl.verify ? "v" : "", String(ssl.verifyDepth), ssl.trustedCertificate ?? "", ssl.crl ?? "",
            ssl.certificateHasVariables ? "" : (ssl.certificate?.source ?? ""),
            ssl.certificateHasVariables ? "" : (ssl.certificateKey?.source ?? ""),
            ssl.passwordFile ?? "", ssl.protocols.sorted().joined(separator: " "), ssl.ciphers,
            ssl.sessionReuse ? "r" : "", ssl.confDirectory,
        ]
        return (parts + ssl.confCommands.map { $0.0 + " " + $0.1 }).joined(separator: "\u{0}")
    }
}
