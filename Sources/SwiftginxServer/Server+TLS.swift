// TLS contexts for a configuration: one OpenSSL context per server block that
// listens with `ssl` (its certificates and handshake policy), and one per `ssl`
// listen address that starts every handshake with the default server's certificate
// and switches to the server the client names with SNI (or refuses the handshake for
// `ssl_reject_handshake on`). Built at startup and on every reload; a failure (a
// missing or mismatched certificate) is a startup error or keeps the old generation.

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxTLS

public struct TLSContexts: Sendable {
    var byServer: [ObjectIdentifier: TLSContext] = [:]
    var byAddress: [ListenAddress: TLSContext] = [:]
}

extension Server {
    /// Every context of `config` (also what `-t` checks).
    public static func buildTLS(_ config: RuntimeConfig) throws(StartupError) -> TLSContexts {
        var out = TLSContexts()
        for group in config.listenGroups where group.options.ssl {
            for server in group.servers where out.byServer[ObjectIdentifier(server)] == nil {
                out.byServer[ObjectIdentifier(server)] = try context(for: server)
            }
            let byServer = out.byServer
            let listenerContext = try context(for: group.defaultServer)
            listenerContext.serverNameHandler = { name in
                var server = group.defaultServer
                if let name, !name.isEmpty {
                    let lower = Array(name.lowercased().utf8)
                    server = lower.withUnsafeBytes { group.server(forHost: $0) }
                }
                if server.settings.ssl.rejectHandshake { return nil }
                return byServer[ObjectIdentifier(server)]
            }
            out.byAddress[group.address] = listenerContext
        }
        return out
    }

    private static func context(for server: VirtualServer) throws(StartupError) -> TLSContext {
        let s = server.settings.ssl
        var o = TLSServerOptions()
        o.certificates = zip(s.certificates, s.certificateKeys).map { (certificate: $0, key: $1) }
        if let file = s.passwordFile {
            guard let bytes = FileSystem.readFile(file) else {
                throw StartupError(description: "open() \"\(file)\" failed (2: No such file or directory)")
            }
            o.passwords = String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
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
        o.alpn = ["http/1.1"]
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
        o.confCommands = s.confCommands
        o.rejectHandshake = s.rejectHandshake
        o.staplingFile = s.staplingFile
        do { return try TLSContext(server: o) } catch { throw StartupError(description: error.message) }
    }
}
