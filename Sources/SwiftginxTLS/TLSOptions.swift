// The settings a TLSContext is built from: nginx's ssl_* directives for a server,
// proxy_ssl_*-like ones for a client. Plain values, compiled by the config layer.

/// `ssl_verify_client`.
public enum TLSVerifyClient: Sendable {
    case off, on, optional, optionalNoCA
}

/// `ssl_session_cache`. All worker threads share one SSL_CTX, so `builtin` and `shared`
/// both mean OpenSSL's internal cache of that context; `shared`'s size is in bytes
/// (nginx: 1 MB holds about 4000 sessions), `builtin`'s in sessions.
public enum TLSSessionCache: Sendable {
    case off, none, builtin(size: Int), shared(name: String, size: Int)
}

/// What one server block's `ssl_*` directives ask for.
public struct TLSServerOptions: Sendable {
    /// PEM paths, or `data:` PEM text; several pairs (RSA + ECDSA) on one context.
    public var certificates: [(certificate: String, key: String)] = []
    /// `ssl_password_file` lines, tried in order for encrypted keys.
    public var passwords: [String] = []
    /// Any of SSLv3 (ignored), TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.
    public var protocols: Set<String> = ["TLSv1.2", "TLSv1.3"]
    public var ciphers: String = "HIGH:!aNULL:!MD5"
    public var preferServerCiphers: Bool = false
    /// "auto" (OpenSSL's default groups) or a list for SSL_CTX_set1_groups_list.
    public var ecdhCurve: String = "auto"
    public var dhparam: String? = nil
    public var sessionCache: TLSSessionCache = .none
    /// Seconds.
    public var sessionTimeout: Int = 300
    public var sessionTickets: Bool = true
    /// `ssl_certificate` with variables: called during each handshake with the client's
    /// server name (nil without SNI) and address (TLSConnection.clientAddress), it names
    /// the certificate/key files to load for that handshake (read per handshake, as nginx
    /// does; `certificates` is then empty).
    public var certificateProvider: (@Sendable (String?, [UInt8]) -> [(certificate: String, key: String)])? = nil
    /// `ssl_certificate_cache`: the files of `certificateProvider`'s certificates are
    /// read through it (nil: read for every handshake).
    public var certificateCache: (any TLSFileSource)? = nil
    /// Files of 48 or 80 bytes; the first encrypts, all decrypt.
    public var ticketKeys: [String] = []
    /// Without key files: rotate random ticket keys every this many seconds (0: OpenSSL's
    /// own keys, fixed for the context's life).
    public var automaticTicketKeys: Int = 0
    /// `shared:NAME`: the sessions are kept here (shared by the servers naming the cache
    /// and across reloads) instead of in OpenSSL's cache of this context.
    public var sessionStore: SessionStore? = nil
    /// Without key files: the ring of random keys to use (shared by the servers of one
    /// `shared:NAME` cache and kept across reloads); nil makes one for this context.
    public var ticketKeyRing: TicketKeyRing? = nil
    public var alpn: [String] = ["http/1.1"]
    public var verifyClient: TLSVerifyClient = .off
    public var verifyDepth: Int = 1
    /// CA file sent in the CertificateRequest and trusted.
    public var clientCertificate: String? = nil
    /// CA file trusted but not sent.
    public var trustedCertificate: String? = nil
    public var crl: String? = nil
    /// Files already read for this generation (each path read once); nil reads directly.
    public var files: TLSFileCache? = nil
    /// `ssl_conf_command` pairs, applied last, e.g. ("Options", "KTLS"); relative file
    /// values are taken from `confDirectory`.
    public var confCommands: [(String, String)] = []
    public var confDirectory: String = ""
    /// `ssl_certificate_compression on` (OpenSSL 3.2+; a warning before).
    public var certificateCompression: Bool = false
    /// TLS 1.3 early data (0-RTT): requests sent with the ClientHello of a resumed
    /// session are read and answered before the handshake finishes (nginx's
    /// `ssl_early_data`, up to 16 KiB as nginx). Replayable: see `$ssl_early_data`.
    public var earlyData: Bool = false
    /// `ssl_buffer_size`: writes are cut into records of at most this many bytes.
    public var bufferSize: Int = 16384
    /// `ssl_reject_handshake on`: handshakes that end on this context are refused.
    public var rejectHandshake: Bool = false
    /// DER OCSP response stapled as is for every certificate (`ssl_stapling_file`).
    public var staplingFile: String? = nil
    /// `ssl_ocsp on|leaf`: client certificate chains are checked with OCSP after the handshake.
    public var clientOCSP: ClientOCSPSettings? = nil
    /// `ssl_stapling on`: each certificate gets a staple fetched from its responder.
    public var stapling: Bool = false
    /// `ssl_stapling_responder`: replaces the certificates' OCSP URL.
    public var staplingResponder: String? = nil
    /// `ssl_stapling_verify on`: responses must verify against the trusted store and chain.
    public var staplingVerify: Bool = false

    public init() {}
}

/// A TLS client: tests, and TLS to upstreams.
public struct TLSClientOptions: Sendable {
    /// Verify the server's chain (and its name when a server name is given).
    public var verify = false
    /// CA file; with `verify` and no file, the system's default paths.
    public var trustedCertificate: String? = nil
    public var certificate: String? = nil
    public var key: String? = nil
    /// `proxy_ssl_password_file` lines, tried in order for an encrypted key.
    public var passwords: [String] = []
    /// `proxy_ssl_crl`.
    public var crl: String? = nil
    /// `proxy_ssl_verify_depth` (nil: OpenSSL's default).
    public var verifyDepth: Int? = nil
    /// Files already read for this generation (each path read once); nil reads directly.
    public var files: TLSFileCache? = nil
    public var protocols: Set<String> = ["TLSv1.2", "TLSv1.3"]
    public var ciphers: String? = nil
    public var alpn: [String] = []
    /// SNI sent when a connection does not name one.
    public var serverName: String? = nil
    public var reuseSessions = true
    /// SSL_CONF_cmd pairs applied last, e.g. ("SignatureAlgorithms", "ECDSA+SHA256").
    public var confCommands: [(String, String)] = []
    public var confDirectory: String = ""

    public init() {}
}
