// The compiled `ssl_*` directives of a server (inherited http → server, as nginx's
// ssl module merges them): certificate/key pairs and the handshake policy. Paths are
// absolute here (resolved against the directory of the file that names them); the
// server turns these values into OpenSSL contexts at startup and on every reload.
// Also the `proxy_ssl_*` / `uwsgi_ssl_*` settings of TLS to upstreams.

import SwiftginxRouting

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
    /// The directory relative file values of `ssl_conf_command` are taken from.
    public var confDirectory: String = ""
    /// `ssl_ocsp off|on|leaf`, `ssl_ocsp_responder`, `ssl_ocsp_cache shared:NAME:SIZE`
    /// (the cache's name and size in bytes; nil: off).
    public var ocsp: SSLOCSPMode = .off
    public var ocspResponder: String? = nil
    public var ocspCache: (name: String, size: Int)? = nil
    /// `ssl_certificate_cache` (nil: off): files of certificates named by variables kept
    /// between handshakes.
    public var certificateCache: CertificateCacheSpec? = nil
    /// `ssl_certificate_compression` (needs OpenSSL 3.2: a warning otherwise, as nginx).
    public var certificateCompression: Bool = false
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

public enum SSLOCSPMode: Sendable { case off, on, leaf }

/// `proxy_ssl_*` / `uwsgi_ssl_*` settings (TLS from swiftginx to an https upstream).
public struct UpstreamSSLSettings: Sendable {
    /// `proxy_ssl_server_name`: send SNI (off by default, as nginx).
    public var serverName: Bool = false
    /// `proxy_ssl_name` (default `$proxy_host`).
    public var name: ComplexValue? = nil
    public var verify: Bool = false
    public var verifyDepth: Int = 1
    public var trustedCertificate: String? = nil
    /// `proxy_ssl_crl`.
    public var crl: String? = nil
    /// `proxy_ssl_certificate` / `_key`: absolute paths or `data:` values, or values with
    /// variables evaluated for each connection (a relative result is taken from
    /// `certificateDirectory`). nil or "" for none (`""` cancels an inherited one).
    public var certificate: ComplexValue? = nil
    public var certificateKey: ComplexValue? = nil
    public var certificateDirectory: String = ""
    /// `proxy_ssl_certificate_cache` (nil: off).
    public var certificateCache: CertificateCacheSpec? = nil
    /// `proxy_ssl_password_file`.
    public var passwordFile: String? = nil
    public var protocols: Set<String> = ["TLSv1.2", "TLSv1.3"]
    public var ciphers: String = "DEFAULT"
    public var sessionReuse: Bool = true
    /// `proxy_ssl_conf_command` pairs, and the directory their relative files are in.
    public var confCommands: [(String, String)] = []
    public var confDirectory: String = ""
    public init() {}

    /// Whether the certificate is named per connection.
    public var certificateHasVariables: Bool {
        !(certificate?.isStatic ?? true) || !(certificateKey?.isStatic ?? true)
    }
}

/// `ssl_certificate_cache max=N [inactive=time] [valid=time]` (milliseconds). One object
/// per directive: the levels inheriting it share one cache.
public final class CertificateCacheSpec: Sendable {
    public let max: Int
    public let inactive: Int
    public let valid: Int
    public init(max: Int, inactive: Int = 10_000, valid: Int = 60_000) {
        self.max = max
        self.inactive = inactive
        self.valid = valid
    }
}
