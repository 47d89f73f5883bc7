// What `-V` prints: the libraries this binary was built with, `TLS SNI support enabled`
// and nginx's `configure arguments:` line naming the optional modules it has
// (`--with-...`) and every module nginx builds by default that it lacks (`--without-...`),
// which tools (nginx's own test suite among them) read to detect features.

import COpenSSL
import CPCRE2

public enum BuildInfo {
    public static var openSSLVersion: String { String(cString: OpenSSL_version(OPENSSL_VERSION)) }

    public static var pcre2Version: String {
        var buf = [UInt8](repeating: 0, count: 64)
        _ = buf.withUnsafeMutableBytes { pcre2_config_8(UInt32(PCRE2_CONFIG_VERSION), $0.baseAddress) }
        return String(decoding: buf.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// nginx modules this build does not have (yet), as `--without-...` flags.
    public static let absentModules = [
        "http_grpc_module", "http_memcached_module",
        "http_referer_module",
        "http_userid_module", "http_mirror_module", "http_empty_gif_module",
        "http_browser_module", "http_upstream_least_time_module", "http_upstream_sticky_module",
        "http_tunnel_module", "mail_pop3_module", "mail_imap_module", "mail_smtp_module",
    ]

    /// nginx's optional modules this build has (`--with-...`), then the standard ones it lacks.
    /// The `-V` report, line by line, as nginx prints it (to stderr).
    public static var versionReport: [String] {
        var lines = [ServerVersion.versionLine, "built by swiftc"]
        lines.append("built with \(openSSLVersion)")
        lines.append("TLS SNI support enabled")
        lines.append("built with PCRE2 \(pcre2Version)")
        lines.append("configure arguments: \(configureArguments)")
        return lines
    }

    public static var configureArguments: String {
        // Optional modules are named by --with-... (HTTP/2: --with-http_v2_module).
        let present = [
            "--build=\(ServerVersion.full)",
            "--with-pcre", "--with-pcre-jit", "--with-http_ssl_module", "--with-http_v2_module",
            "--with-http_gzip_static_module",
            "--with-http_auth_request_module", "--with-http_realip_module",
            "--with-http_stub_status_module",
        ]
        return (present + absentModules.map { "--without-\($0)" }).joined(separator: " ")
    }
}
