// What `-V` prints: the libraries this binary was built with and nginx's
// `configure arguments:` line naming the modules it has and lacks, which tools
// read to detect features.

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
        "http_fastcgi_module", "http_scgi_module", "http_grpc_module", "http_memcached_module",
        "http_geo_module", "http_referer_module", "http_limit_req_module",
        "http_ssi_module",
        "http_userid_module", "http_mirror_module", "http_empty_gif_module",
        "http_browser_module",
    ]

    /// nginx's optional modules this build has (`--with-...`), then the standard ones it lacks.
    public static var configureArguments: String {
        // Optional modules are named by --with-... (HTTP/2 is absent: no --with-http_v2_module).
        let present = [
            "--with-pcre", "--with-pcre-jit", "--with-http_ssl_module", "--with-http_gzip_static_module",
            "--with-http_auth_request_module",
            "--with-http_stub_status_module",
        ]
        return (present + absentModules.map { "--without-\($0)" }).joined(separator: " ")
    }
}
