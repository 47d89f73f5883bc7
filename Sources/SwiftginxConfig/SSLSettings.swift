// The compiled `ssl_*` directives of a server (inherited http → server, as nginx's
// ssl module merges them): certificate/key pairs and the handshake policy. Paths are
// absolute here (resolved against the directory of the file that names them); the
// server turns these values into OpenSSL contexts at startup and on every reload.

public struct SSLSettings: Sendable {
    /// `ssl_certificate` / `ssl_certificate_key` pairs in order (PEM paths or `data:` values).
    public var certificates: [String] = []
    public var certificateKeys: [String] = []
    /// `ssl_password_file`: the passphrases, one per line.
    public var passwordFile: String? = nil
    public var protocols: Set<String> = ["TLSv1.2", "TLSv1.3"]
    public var ciphers: String = "HIGH:!aNULL:!MD5"
    public var preferServerCiphers: Bool = false
    public var ecdhCurve: String = "auto"
    public var dhparam: String? = nil
    /// `ssl_session_cache off|none|[builtin[:size]] [shared:name:size]`.
    public var sessionCache: SSLSessionCache = .none
    /// Seconds.
    public var sessionTimeout: Int = 300
    public var sessionTickets: Bool = true
    public var sessionTicketKeys: [String] = []
    public var clientCertificate: String? = nil
    public var trustedCertificate: String? = nil
    public var verifyClient: SSLVerifyClient = .off
    public var verifyDepth: Int = 1
    public var crl: String? = nil
    public var rejectHandshake: Bool = false
    public var confCommands: [(String, String)] = []
    /// `ssl_stapling`, `ssl_stapling_file`, `ssl_stapling_responder` (a URL, checked when
    /// the contexts are built, as nginx warns then), `ssl_stapling_verify`.
    public var stapling: Bool = false
    public var staplingFile: String? = nil
    public var staplingResponder: String? = nil
    public var staplingVerify: Bool = false
    /// `ssl_early_data`: TLS 1.3 0-RTT requests are accepted (off by default).
    public var earlyData: Bool = false
    /// `ssl_buffer_size`: the largest TLS record written (nginx's default 16k).
    public var bufferSize: Int = 16384
    public init() {}
}

public enum SSLSessionCache: Sendable, Equatable {
    case off, none
    case builtin(size: Int)
    case shared(name: String, size: Int)
}

public enum SSLVerifyClient: Sendable { case off, on, optional, optionalNoCA }
