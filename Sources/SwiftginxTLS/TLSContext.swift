// TLSContext: one SSL_CTX built from TLSServerOptions or TLSClientOptions, shared by all
// worker threads. Everything that can fail (files, ciphers, keys) fails here, at startup
// or reload, as a TLSError worded like nginx's; the handshake path only reads.

import COpenSSL
import Synchronization
import CSwiftginxTLSShims
import Glibc

/// TLS's largest record payload; also nginx's limit for early data (NGX_SSL_BUFSIZE).
let maxRecordSize = 16384

/// An owned SSL_CTX, freed in deinit.
public final class TLSContext: @unchecked Sendable {
    let ctx: OpaquePointer
    let isClient: Bool
    let rejectHandshake: Bool
    let clientVerify: Bool
    let defaultServerName: String?
    /// Session ticket keys (first encrypts, all decrypt): from files, or random and
    /// rotated (possibly shared with other contexts and generations).
    public let ticketRing: TicketKeyRing
    /// Seconds between automatic rotations (0: keys come from files and never change).
    public var ticketRotation: Int { ticketRing.rotation }
    var ticketKeys: [TicketKey] { ticketRing.keys }
    /// OCSP stapling, one per certificate (`ssl_stapling`, `ssl_stapling_file`); the
    /// status callback staples the one of the certificate the handshake chose.
    public let staples: [OCSPStaple]
    /// Warnings found while building (nginx's `"ssl_stapling" ignored, ...`).
    public let warnings: [String]
    /// The sessions of a `shared:NAME` cache (nil: OpenSSL's cache of this context).
    let sessionStore: SessionStore?
    /// Certificates named per handshake (`ssl_certificate` with variables).
    let certificateProvider: (@Sendable (String?, [UInt8]) -> [(certificate: String, key: String)])?
    /// `ssl_ocsp`: what the client certificate chains of this context's handshakes are
    /// checked with (nil: not checked).
    public let clientOCSP: ClientOCSPSettings?
    /// `ssl_certificate_cache`: where certificates named per handshake are read from.
    let certificateFiles: (any TLSFileSource)?
    /// `ssl_password_file` lines, for keys loaded during handshakes.
    let passwords: [String]
    /// Whether 0-RTT data is read (server side).
    let earlyData: Bool
    /// The largest plaintext handed to one SSL_write (nil: no limit below OpenSSL's 16 KiB records).
    let recordLimit: Int?
    /// ALPN protocols in wire format (length-prefixed), server preference order.
    private let alpnWire: UnsafeMutableBufferPointer<UInt8>?

    /// SNI: called during the handshake with the client's server name (nil when none);
    /// return the context to switch to (this one or another server's), or nil to refuse
    /// the handshake with an unrecognized_name alert. Set it before the first handshake;
    /// it is read, never written, by the worker threads.
    public var serverNameHandler: (@Sendable (String?) -> TLSContext?)?

    public init(server options: TLSServerOptions) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.openSSL("SSL_CTX_new() failed")
        }
        let ring: TicketKeyRing
        let stapling: (staples: [OCSPStaple], warnings: [String])
        var loaded: [LoadedCertificate] = []
        defer { for certificate in loaded { certificate.free() } }
        do {
            try Self.configureCommon(ctx, protocols: options.protocols, ciphers: options.ciphers, releaseBuffers: false)
            try Self.configureServer(ctx, options, loaded: &loaded)
            if !options.ticketKeys.isEmpty || !options.sessionTickets {
                let keys = try options.ticketKeys.map { (path) throws(TLSError) in try TicketKey(path: path) }
                ring = TicketKeyRing(keys: keys, rotation: 0)
            } else if let shared = options.ticketKeyRing {
                ring = shared
            } else if options.automaticTicketKeys > 0 {
                ring = try TicketKeyRing(rotation: options.automaticTicketKeys)
            } else {
                ring = TicketKeyRing(keys: [], rotation: 0)  // OpenSSL's own keys for this context
            }
            stapling = try Self.makeStaples(ctx, options, loaded)
            try Self.applyConfCommands(ctx, options.confCommands, server: true, directory: options.confDirectory)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
        self.isClient = false
        self.rejectHandshake = options.rejectHandshake
        self.clientVerify = false
        self.defaultServerName = nil
        self.ticketRing = ring
        self.staples = stapling.staples
        self.warnings =
            stapling.warnings
            + (options.certificateCompression
                ? ["\"ssl_certificate_compression\" is not supported on this platform, ignored"] : [])
        self.sessionStore = options.sessionStore
        self.certificateProvider = options.certificateProvider
        self.certificateFiles = options.certificateCache
        self.clientOCSP = options.clientOCSP
        self.passwords = options.passwords
        self.earlyData = options.earlyData
        self.recordLimit = options.bufferSize < maxRecordSize ? max(options.bufferSize, 1) : nil
        self.alpnWire = Self.wireFormat(options.alpn)
        if options.earlyData {
            _ = SSL_CTX_set_max_early_data(ctx, UInt32(maxRecordSize))
        }

        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = swiftginx_SSL_CTX_set_tlsext_servername_callback(ctx, serverNameCallback)
        _ = swiftginx_SSL_CTX_set_tlsext_servername_arg(ctx, me)
        SSL_CTX_set_client_hello_cb(ctx, clientHelloCallback, me)
        if alpnWire != nil {
            SSL_CTX_set_alpn_select_cb(ctx, alpnSelectCallback, me)
        }
        if options.certificateProvider != nil {
            SSL_CTX_set_cert_cb(ctx, certificateCallback, me)
        }
        if options.sessionStore != nil {
            _ = SSL_CTX_set_ex_data(ctx, contextExIndex, me)
            SSL_CTX_sess_set_new_cb(ctx, newSessionCallback)
            SSL_CTX_sess_set_get_cb(ctx, getSessionCallback)
            SSL_CTX_sess_set_remove_cb(ctx, removeSessionCallback)
        }
        if !ring.keys.isEmpty {
            SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketKeyCallback)
        }
        if !staples.isEmpty {
            _ = swiftginx_SSL_CTX_set_tlsext_status_cb(ctx, statusCallback)
            _ = swiftginx_SSL_CTX_set_tlsext_status_arg(ctx, me)
        }
    }

    public init(client options: TLSClientOptions) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw TLSError.openSSL("SSL_CTX_new() failed")
        }
        do {
            try Self.configureCommon(ctx, protocols: options.protocols, ciphers: options.ciphers, releaseBuffers: true)
            try Self.configureClient(ctx, options)
            try Self.applyConfCommands(ctx, options.confCommands, server: false, directory: options.confDirectory)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
        self.ctx = ctx
        self.isClient = true
        self.rejectHandshake = false
        self.clientVerify = options.verify
        self.defaultServerName = options.serverName
        self.ticketRing = TicketKeyRing(keys: [], rotation: 0)
        self.staples = []
        self.warnings = []
        self.sessionStore = nil
        self.certificateProvider = nil
        self.certificateFiles = nil
        self.clientOCSP = nil
        self.passwords = options.passwords
        self.earlyData = false
        self.recordLimit = nil
        self.alpnWire = nil
    }

    /// Automatic ticket keys: a new key encrypts from now on; the last two keep
    /// decrypting tickets they issued (nginx's rotation for shared session caches).
    public func rotateTicketKeys() { ticketRing.rotate() }

    /// Rotates when `ticketRotation` seconds have passed since the last rotation
    /// (`now` in monotonic milliseconds); called periodically by the server.
    public func rotateTicketKeysIfDue(now: Int64) { ticketRing.rotateIfDue(now: now) }

    deinit {
        SSL_CTX_free(ctx)
        alpnWire?.deallocate()
    }

    // MARK: - Setup shared by both sides

    /// `releaseBuffers`: OpenSSL frees a connection's record buffers whenever they are
    /// empty (a malloc and free of each per request). Client connections (to upstreams)
    /// use it; server connections keep their buffers while busy and give them back when
    /// they go idle (`TLSConnection.releaseBuffers()`), which is where the memory matters.
    private static func configureCommon(
        _ ctx: OpaquePointer, protocols: Set<String>, ciphers: String?, releaseBuffers: Bool
    ) throws(TLSError) {
        _ = swiftginx_SSL_CTX_set_mode(
            ctx,
            swiftginx_SSL_MODE_ENABLE_PARTIAL_WRITE | swiftginx_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                | (releaseBuffers ? swiftginx_SSL_MODE_RELEASE_BUFFERS : 0))
        // As nginx: no anti-replay for early data (OpenSSL's needs stateful tickets and
        // refuses resumption without a session cache; $ssl_early_data marks replayable
        // requests instead), and read-ahead (a record and what follows in one read).
        SSL_CTX_set_options(
            ctx,
            swiftginx_SSL_OP_NO_COMPRESSION | swiftginx_SSL_OP_NO_RENEGOTIATION | swiftginx_SSL_OP_NO_ANTI_REPLAY)
        swiftginx_SSL_CTX_set_read_ahead(ctx, 1)
        try setProtocols(ctx, protocols)
        if let ciphers {
            ERR_clear_error()
            if SSL_CTX_set_cipher_list(ctx, ciphers) != 1 {
                throw TLSError.openSSL("SSL_CTX_set_cipher_list(\"\(ciphers)\") failed")
            }
        }
    }

    /// nginx's ssl_protocols: versions not listed are switched off one by one (gaps
    /// allowed), and the minimum is lowered explicitly so that TLSv1 and TLSv1.1 work
    /// when asked even where the system configuration raises MinProtocol.
    private static func setProtocols(_ ctx: OpaquePointer, _ protocols: Set<String>) throws(TLSError) {
        let known: [(String, Int32, UInt64)] = [
            ("TLSv1", TLS1_VERSION, swiftginx_SSL_OP_NO_TLSv1),
            ("TLSv1.1", TLS1_1_VERSION, swiftginx_SSL_OP_NO_TLSv1_1),
            ("TLSv1.2", TLS1_2_VERSION, swiftginx_SSL_OP_NO_TLSv1_2),
            ("TLSv1.3", TLS1_3_VERSION, swiftginx_SSL_OP_NO_TLSv1_3),
        ]
        for name in protocols where name != "SSLv2" && name != "SSLv3" && !known.contains(where: { $0.0 == name }) {
            throw TLSError("invalid value \"\(name)\" in ssl_protocols")
        }
        let enabled = known.filter { protocols.contains($0.0) }
        guard !enabled.isEmpty else {
            throw TLSError("no TLS protocol version enabled")
        }
        var off: UInt64 = swiftginx_SSL_OP_NO_SSLv3
        for version in known where !protocols.contains(version.0) {
            off |= version.2
        }
        SSL_CTX_set_options(ctx, off)
        ERR_clear_error()
        // The whole range stays open on the context and the options above decide, as
        // nginx: a handshake moved to another server's context by SNI takes that
        // context's options, and with them its protocols.
        if swiftginx_SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) != 1
            || swiftginx_SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1
        {
            throw TLSError.openSSL("SSL_CTX_set_min_proto_version() failed")
        }
    }

    /// nginx's `ssl_conf_command`: a relative file or directory value is taken from
    /// `directory` (the configuration's).
    private static func applyConfCommands(
        _ ctx: OpaquePointer, _ commands: [(String, String)], server: Bool, directory: String
    ) throws(TLSError) {
        if commands.isEmpty { return }
        guard let cctx = SSL_CONF_CTX_new() else { throw TLSError.openSSL("SSL_CONF_CTX_new() failed") }
        defer { SSL_CONF_CTX_free(cctx) }
        let side = UInt32(server ? SSL_CONF_FLAG_SERVER : SSL_CONF_FLAG_CLIENT)
        _ = SSL_CONF_CTX_set_flags(
            cctx,
            UInt32(SSL_CONF_FLAG_FILE) | side | UInt32(SSL_CONF_FLAG_CERTIFICATE)
                | UInt32(SSL_CONF_FLAG_SHOW_ERRORS))
        SSL_CONF_CTX_set_ssl_ctx(cctx, ctx)
        for (name, written) in commands {
            var value = written
            let type = SSL_CONF_cmd_value_type(cctx, name)
            if (type == SSL_CONF_TYPE_FILE || type == SSL_CONF_TYPE_DIR) && !value.hasPrefix("/")
                && !directory.isEmpty
            {
                value = directory + "/" + value
            }
            ERR_clear_error()
            if SSL_CONF_cmd(cctx, name, value) <= 0 {
                throw TLSError.openSSL("SSL_CONF_cmd(\"\(name)\", \"\(value)\") failed")
            }
        }
        ERR_clear_error()
        if SSL_CONF_CTX_finish(cctx) != 1 {
            throw TLSError.openSSL("SSL_CONF_finish() failed")
        }
    }

    // MARK: - Server

    private static func configureServer(
        _ ctx: OpaquePointer, _ options: TLSServerOptions, loaded: inout [LoadedCertificate]
    ) throws(TLSError) {
        if options.preferServerCiphers {
            SSL_CTX_set_options(ctx, swiftginx_SSL_OP_CIPHER_SERVER_PREFERENCE)
        }
        if !options.sessionTickets {
            SSL_CTX_set_options(ctx, swiftginx_SSL_OP_NO_TICKET)
        }
        func load(_ pair: (certificate: String, key: String), into certificates: inout [OpaquePointer])
            throws(TLSError)
        {
            try loadCertificate(ctx, pair.certificate, into: &certificates, cache: options.files)
            try loadKey(ctx, pair.key, passwords: options.passwords, cache: options.files)
            ERR_clear_error()
            if SSL_CTX_check_private_key(ctx) != 1 {
                throw TLSError.openSSL("SSL_CTX_check_private_key(\"\(describe(pair.key))\") failed")
            }
        }
        for pair in options.certificates {
            loaded.append(LoadedCertificate(name: pair.certificate, certificates: []))
            do {
                try load(pair, into: &loaded[loaded.count - 1].certificates)
            } catch {
                // Files kept from the previous configuration may no longer belong together
                // (one was replaced keeping its inode, mtime and size, so a key does not
                // match its renewed certificate): both are read again, once.
                guard let files = options.files, files.wasInherited(pair.certificate) || files.wasInherited(pair.key)
                else { throw error }
                files.invalidate(pair.certificate)
                files.invalidate(pair.key)
                loaded[loaded.count - 1].free()
                loaded[loaded.count - 1].certificates = []
                _ = swiftginx_SSL_CTX_clear_chain_certs(ctx)
                try load(pair, into: &loaded[loaded.count - 1].certificates)
            }
        }
        if options.ecdhCurve != "auto" {
            ERR_clear_error()
            if swiftginx_SSL_CTX_set1_groups_list(ctx, options.ecdhCurve) != 1 {
                throw TLSError.openSSL("SSL_CTX_set1_curves_list(\"\(options.ecdhCurve)\") failed")
            }
        }
        if let dhparam = options.dhparam {
            try loadDHParameters(ctx, dhparam)
        }
        try configureSessions(ctx, options)
        try configureClientVerification(ctx, options)
    }

    private static func configureSessions(_ ctx: OpaquePointer, _ options: TLSServerOptions) throws(TLSError) {
        // A context identifier derived from what decides whether a session may be resumed
        // here: the certificates and the client verification; OpenSSL refuses to resume
        // verified sessions without one.
        var identity = "swiftginx"
        for pair in options.certificates { identity += "\u{0}" + pair.certificate }
        identity += "\u{0}\(options.verifyClient)\u{0}" + (options.clientCertificate ?? "")
        identity += "\u{0}" + (options.trustedCertificate ?? "")
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let bytes = Array(identity.utf8)
        _ = EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil)
        ERR_clear_error()
        if SSL_CTX_set_session_id_context(ctx, digest, min(length, UInt32(SSL_MAX_SID_CTX_LENGTH))) != 1 {
            throw TLSError.openSSL("SSL_CTX_set_session_id_context() failed")
        }
        switch options.sessionCache {
        case .off:
            _ = swiftginx_SSL_CTX_set_session_cache_mode(ctx, swiftginx_SSL_SESS_CACHE_OFF)
        case .none:
            _ = swiftginx_SSL_CTX_set_session_cache_mode(
                ctx, swiftginx_SSL_SESS_CACHE_SERVER | swiftginx_SSL_SESS_CACHE_NO_INTERNAL_STORE)
        case .builtin(let size):
            _ = swiftginx_SSL_CTX_set_session_cache_mode(ctx, swiftginx_SSL_SESS_CACHE_SERVER)
            _ = swiftginx_SSL_CTX_sess_set_cache_size(ctx, max(1, size))
        case .shared(_, let size):
            if options.sessionStore != nil {
                // Sessions live in the SessionStore (callbacks set in init), not in OpenSSL.
                _ = swiftginx_SSL_CTX_set_session_cache_mode(
                    ctx, swiftginx_SSL_SESS_CACHE_SERVER | swiftginx_SSL_SESS_CACHE_NO_INTERNAL)
            } else {
                _ = swiftginx_SSL_CTX_set_session_cache_mode(ctx, swiftginx_SSL_SESS_CACHE_SERVER)
                _ = swiftginx_SSL_CTX_sess_set_cache_size(ctx, max(1, size / 256))
            }
        }
        _ = SSL_CTX_set_timeout(ctx, max(1, options.sessionTimeout))
        // Without tickets and without a cache that stores sessions nothing can be
        // resumed: TLS 1.3's NewSessionTicket messages (two per handshake by default,
        // sent by nginx all the same) would be wasted work for both sides.
        if !options.sessionTickets {
            switch options.sessionCache {
            case .off, .none: _ = SSL_CTX_set_num_tickets(ctx, 0)
            case .builtin, .shared: break
            }
        }
    }

    private static func configureClientVerification(
        _ ctx: OpaquePointer, _ options: TLSServerOptions
    ) throws(TLSError) {
        if let ca = options.clientCertificate {
            try loadCertificateAuthorities(ctx, ca, cache: options.files, names: true)
        }
        if let trusted = options.trustedCertificate {
            try loadCertificateAuthorities(ctx, trusted, cache: options.files, names: false)
        }
        if let crl = options.crl {
            try loadCRL(ctx, crl, cache: options.files)
        }
        switch options.verifyClient {
        case .off:
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        case .on, .optional, .optionalNoCA:
            // As nginx: the handshake always goes through and the HTTP layer answers 400
            // from clientVerify, so the callback accepts whatever the chain check found.
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, acceptingVerifyCallback)
        }
        SSL_CTX_set_verify_depth(ctx, Int32(clamping: options.verifyDepth))
    }

    // MARK: - Client

    private static func configureClient(_ ctx: OpaquePointer, _ options: TLSClientOptions) throws(TLSError) {
        _ = swiftginx_SSL_CTX_set_session_cache_mode(
            ctx, options.reuseSessions ? swiftginx_SSL_SESS_CACHE_CLIENT : swiftginx_SSL_SESS_CACHE_OFF)
        if let trusted = options.trustedCertificate {
            try loadCertificateAuthorities(ctx, trusted, cache: options.files, names: false)
        } else if options.verify {
            _ = SSL_CTX_set_default_verify_paths(ctx)
        }
        if let crl = options.crl {
            try loadCRL(ctx, crl, cache: options.files)
        }
        SSL_CTX_set_verify(ctx, options.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if let depth = options.verifyDepth { SSL_CTX_set_verify_depth(ctx, Int32(clamping: depth)) }
        if let certificate = options.certificate, !certificate.isEmpty {
            var certificates: [OpaquePointer] = []
            defer { LoadedCertificate(name: certificate, certificates: certificates).free() }
            try loadCertificate(ctx, certificate, into: &certificates, cache: options.files)
            try loadKey(ctx, options.key ?? certificate, passwords: options.passwords, cache: options.files)
        }
        if let wire = wireFormat(options.alpn) {
            defer { wire.deallocate() }
            if SSL_CTX_set_alpn_protos(ctx, wire.baseAddress, UInt32(wire.count)) != 0 {
                throw TLSError.openSSL("SSL_CTX_set_alpn_protos() failed")
            }
        }
    }

    /// ALPN protocol names in wire format, or nil when there are none.
    private static func wireFormat(_ protocols: [String]) -> UnsafeMutableBufferPointer<UInt8>? {
        var bytes: [UInt8] = []
        for name in protocols where !name.isEmpty && name.utf8.count < 256 {
            bytes.append(UInt8(name.utf8.count))
            bytes.append(contentsOf: name.utf8)
        }
        if bytes.isEmpty { return nil }
        let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
        _ = buffer.initialize(from: bytes)
        return buffer
    }

    /// Server-preference ALPN choice; nil when nothing in common.
    func selectALPN(
        _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>, _ outLength: UnsafeMutablePointer<UInt8>,
        _ offered: UnsafePointer<UInt8>, _ offeredLength: UInt32
    ) -> Bool {
        guard let alpnWire, let base = alpnWire.baseAddress else { return false }
        var chosen: UnsafeMutablePointer<UInt8>? = nil
        let status = SSL_select_next_proto(&chosen, outLength, base, UInt32(alpnWire.count), offered, offeredLength)
        guard status == OPENSSL_NPN_NEGOTIATED, let chosen else { return false }
        out.pointee = UnsafePointer(chosen)
        return true
    }
}

private func acceptingVerifyCallback(_ preverified: Int32, _ store: OpaquePointer?) -> Int32 {
    1
}
