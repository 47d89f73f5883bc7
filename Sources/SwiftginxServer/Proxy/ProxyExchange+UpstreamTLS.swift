// TLS to upstreams (`proxy_pass https://…` with the `proxy_ssl_*` directives): a
// client context per location, made on first use in each worker; the handshake runs
// after the TCP connect, before the request is written; sessions are kept per
// location and peer for the next connection (`proxy_ssl_session_reuse`). Upstream
// reads and writes go through the connection's Transport, plain or TLS alike.

import Glibc
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxTLS

extension ProxyExchange {
    /// Starts TLS on a freshly connected upstream socket; false (and a 502 path taken)
    /// when the context cannot be made.
    func beginUpstreamTLS(_ u: UpstreamConnection) -> Bool {
        guard let location = request.location else { return false }
        let ssl = settings.upstreamSSL
        do {
            let context = try worker.upstreamTLSContext(for: location, ssl)
            let name = ssl.name.map { String(decoding: request.evaluate($0), as: UTF8.self) } ?? proxyHost
            let hostOnly = name.split(separator: ":").first.map(String.init) ?? name
            let session = ssl.sessionReuse ? worker.upstreamSessions[sessionKey(location, u)] : nil
            let tls = try TLSConnection(
                context: context, fd: u.fd, serverName: ssl.serverName ? hostOnly : nil, session: session)
            if ssl.verify { tls.setVerifiedHostName(hostOnly) }
            u.tls = tls
            u.transport.upstream = u
            u.handshakeDone = false
            return true
        } catch {
            logUpstream(.error, "\(error.message) while SSL handshaking to upstream")
            return false
        }
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
    /// The client TLS context of a location's proxy_ssl settings (made once per worker
    /// and generation).
    func upstreamTLSContext(for location: Location, _ ssl: UpstreamSSLSettings) throws(TLSError) -> TLSContext {
        let key = ObjectIdentifier(location)
        if let (owner, context) = upstreamTLSContexts[key], owner === location { return context }
        var o = TLSClientOptions()
        o.verify = ssl.verify
        o.trustedCertificate = ssl.trustedCertificate
        o.certificate = ssl.certificate
        o.key = ssl.certificateKey
        o.protocols = ssl.protocols
        o.ciphers = ssl.ciphers
        o.reuseSessions = ssl.sessionReuse
        o.alpn = ["http/1.1"]
        let context = try TLSContext(client: o)
        upstreamTLSContexts[key] = (location, context)
        return context
    }
}
