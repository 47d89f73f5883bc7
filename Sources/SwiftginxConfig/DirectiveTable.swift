// The one table of directives swiftginx knows, in nginx's model: each directive
// declares its name, the contexts it may appear in, its arity and whether it opens a
// block. The parser applies the generic checks (unknown directive, not allowed here,
// argument count, ";" versus "{"); the compiler's handlers only check values.

/// Contexts a directive may appear in (nginx's NGX_*_CONF bits).
public struct DirectiveContext: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let main = DirectiveContext(rawValue: 1 << 0)
    public static let events = DirectiveContext(rawValue: 1 << 1)
    public static let http = DirectiveContext(rawValue: 1 << 2)
    public static let server = DirectiveContext(rawValue: 1 << 3)
    public static let location = DirectiveContext(rawValue: 1 << 4)
    /// Inside `types {}` (its lines are type → extensions, not directives).
    public static let types = DirectiveContext(rawValue: 1 << 5)
    public static let ifInLocation = DirectiveContext(rawValue: 1 << 6)
    /// Inside `map {}` (its lines are "key value", not directives).
    public static let map = DirectiveContext(rawValue: 1 << 8)
    public static let upstream = DirectiveContext(rawValue: 1 << 7)
    /// Inside `match {}` (health-check conditions).
    public static let matchBlock = DirectiveContext(rawValue: 1 << 9)
    /// Inside `limit_except` (nginx's NGX_HTTP_LMT_CONF).
    public static let limitExcept = DirectiveContext(rawValue: 1 << 10)

    /// http, server and location: where most HTTP settings live.
    public static let httpAll: DirectiveContext = [.http, .server, .location]
    /// Every block (nginx's NGX_ANY_CONF: `include` works in all of them, `if` and
    /// `limit_except` included).
    public static let any: DirectiveContext = [
        .main, .events, .http, .server, .location, .types, .upstream, .ifInLocation, .map, .matchBlock,
        .limitExcept,
    ]
}

/// Argument counts, as nginx's NGX_CONF_NOARGS / TAKEn / FLAG / 1MORE / 2MORE.
public enum DirectiveArity: Sendable, Equatable {
    /// Exactly one of these counts (0 = NOARGS; [1, 2] = TAKE12 ...).
    case take(Set<Int>)
    /// One argument, "on" or "off".
    case flag
    case oneOrMore
    case twoOrMore

    func accepts(_ count: Int) -> Bool {
        switch self {
        case .take(let counts): counts.contains(count)
        case .flag: count == 1
        case .oneOrMore: count >= 1
        case .twoOrMore: count >= 2
        }
    }
}

/// How an accepted-without-effect directive's value is still checked.
enum IgnoredValue: Sendable {
    case none, flag, size, time, number
}

/// Where a directive's value goes: nginx's generic "slot" setters (a flag, a size, a
/// time into one field) or a handler of its own in the compiler.
enum DirectiveSlot: @unchecked Sendable {
    // @unchecked: key paths are immutable values.
    case locationFlag(WritableKeyPath<LocationSettings, Bool>)
    case locationMsec(WritableKeyPath<LocationSettings, Int>)
    case locationSize(WritableKeyPath<LocationSettings, Int>)
    case locationNumber(WritableKeyPath<LocationSettings, Int>)
    case serverFlag(WritableKeyPath<ServerSettings, Bool>)
    case serverMsec(WritableKeyPath<ServerSettings, Int>)
    case serverSize(WritableKeyPath<ServerSettings, Int>)
    /// A handler in ConfigCompiler, chosen by the directive's name.
    case custom
    /// Accepted without effect; the value is still checked.
    case ignored(IgnoredValue)
}

/// One directive's declaration.
public struct DirectiveSpec: Sendable {
    public let name: String
    public let contexts: DirectiveContext
    public let arity: DirectiveArity
    /// The context its block opens, nil for a simple directive.
    public let block: DirectiveContext?
    /// False when nginx rejects a second occurrence at one level ("is duplicate").
    public let repeatable: Bool
    /// The handler.
    let slot: DirectiveSlot

    init(
        _ name: String, _ contexts: DirectiveContext, _ arity: DirectiveArity, block: DirectiveContext? = nil,
        repeatable: Bool = false, slot: DirectiveSlot = .custom
    ) {
        self.name = name
        self.contexts = contexts
        self.arity = arity
        self.block = block
        self.repeatable = repeatable
        self.slot = slot
    }
}

public enum DirectiveTable {
    private static let t1: DirectiveArity = .take([1])
    private static let t12: DirectiveArity = .take([1, 2])
    private static let t2: DirectiveArity = .take([2])
    private static let t23: DirectiveArity = .take([2, 3])
    private static let t1234: DirectiveArity = .take([1, 2, 3, 4])
    private static let noArgs: DirectiveArity = .take([0])
    private static let locationIf: DirectiveContext = [.http, .server, .location, .ifInLocation]

    /// Every directive swiftginx accepts.
    public static let all: [DirectiveSpec] =
        [
            // main
            DirectiveSpec("worker_processes", .main, t1),
            DirectiveSpec("pid", .main, t1),
            DirectiveSpec("error_log", [.main, .http, .server, .location], .oneOrMore, repeatable: true),
            DirectiveSpec("daemon", .main, .flag),
            DirectiveSpec("master_process", .main, .flag),
            DirectiveSpec("worker_rlimit_nofile", .main, t1),
            DirectiveSpec("user", .main, t12),
            DirectiveSpec("load_module", .main, t1, repeatable: true),
            DirectiveSpec("env", .main, t1, repeatable: true),
            DirectiveSpec("worker_cpu_affinity", .main, .oneOrMore),
            DirectiveSpec("worker_shutdown_timeout", .main, t1),
            DirectiveSpec("include", .any, t1, repeatable: true),
            DirectiveSpec("events", .main, noArgs, block: .events),
            DirectiveSpec("http", .main, noArgs, block: .http),
            // events
            DirectiveSpec("worker_connections", .events, t1),
            DirectiveSpec("use", .events, t1),
            DirectiveSpec("multi_accept", .events, .flag),
            // http / server / location
            DirectiveSpec("server", .http, noArgs, block: .server, repeatable: true),
            DirectiveSpec("location", [.server, .location], t12, block: .location, repeatable: true),
            DirectiveSpec("types", .httpAll, noArgs, block: .types, repeatable: true),
            DirectiveSpec("listen", .server, .oneOrMore, repeatable: true),
            DirectiveSpec("server_name", .server, .oneOrMore, repeatable: true),
            DirectiveSpec("root", locationIf, t1),
            DirectiveSpec("alias", .location, t1),
            DirectiveSpec("index", .httpAll, .oneOrMore, repeatable: true),
            DirectiveSpec("return", [.server, .location, .ifInLocation], t12, repeatable: true),
            DirectiveSpec("error_page", locationIf, .twoOrMore, repeatable: true),
            DirectiveSpec("add_header", locationIf, t23, repeatable: true),
            DirectiveSpec("add_trailer", locationIf, t23, repeatable: true),
            DirectiveSpec("expires", locationIf, t12),
            DirectiveSpec("etag", .httpAll, .flag, slot: .locationFlag(\.etag)),
            DirectiveSpec("internal", .location, noArgs),
            DirectiveSpec("default_type", .httpAll, t1),
            DirectiveSpec("sendfile", locationIf, .flag, slot: .locationFlag(\.sendfile)),
            DirectiveSpec("tcp_nopush", .httpAll, .flag, slot: .locationFlag(\.tcpNopush)),
            DirectiveSpec("tcp_nodelay", .httpAll, .flag, slot: .locationFlag(\.tcpNodelay)),
            DirectiveSpec("keepalive_timeout", .httpAll, t12),
            DirectiveSpec("keepalive_requests", .httpAll, t1, slot: .locationNumber(\.keepaliveRequests)),
            DirectiveSpec("keepalive_time", .httpAll, t1, slot: .locationMsec(\.keepaliveTime)),
            DirectiveSpec("keepalive_disable", .httpAll, .oneOrMore),
            DirectiveSpec("client_max_body_size", .httpAll, t1),
            DirectiveSpec("client_body_buffer_size", .httpAll, t1, slot: .locationSize(\.clientBodyBufferSize)),
            DirectiveSpec("client_body_timeout", .httpAll, t1, slot: .locationMsec(\.clientBodyTimeout)),
            DirectiveSpec("client_body_in_file_only", .httpAll, t1),
            DirectiveSpec("client_body_in_single_buffer", .httpAll, .flag),
            DirectiveSpec("client_body_temp_path", .httpAll, t1234),
            DirectiveSpec("client_header_timeout", [.http, .server], t1, slot: .serverMsec(\.clientHeaderTimeout)),
            DirectiveSpec(
                "client_header_buffer_size", [.http, .server], t1, slot: .serverSize(\.clientHeaderBufferSize)),
            DirectiveSpec("large_client_header_buffers", [.http, .server], t2),
            DirectiveSpec("max_headers", [.http, .server], t1),
            DirectiveSpec("send_timeout", .httpAll, t1, slot: .locationMsec(\.sendTimeout)),
            DirectiveSpec("server_tokens", .httpAll, t1),
            DirectiveSpec(
                "ignore_invalid_headers", [.http, .server], .flag, slot: .serverFlag(\.ignoreInvalidHeaders)),
            DirectiveSpec(
                "underscores_in_headers", [.http, .server], .flag, slot: .serverFlag(\.underscoresInHeaders)),
            DirectiveSpec("merge_slashes", [.http, .server], .flag, slot: .serverFlag(\.mergeSlashes)),
            DirectiveSpec(
                "access_log", [.http, .server, .location, .ifInLocation, .limitExcept], .oneOrMore, repeatable: true),
            DirectiveSpec("log_format", .http, .twoOrMore, repeatable: true),
            DirectiveSpec("map", .http, t2, block: .map, repeatable: true),
            DirectiveSpec("split_clients", .http, t2, block: .map, repeatable: true),
            DirectiveSpec("geo", .http, t12, block: .map, repeatable: true),
            DirectiveSpec("log_not_found", .httpAll, .flag, slot: .locationFlag(\.logNotFound)),
            DirectiveSpec("lingering_close", .httpAll, t1),
            DirectiveSpec("lingering_time", .httpAll, t1, slot: .locationMsec(\.lingeringTime)),
            DirectiveSpec("lingering_timeout", .httpAll, t1, slot: .locationMsec(\.lingeringTimeout)),
            DirectiveSpec("open_file_cache", .httpAll, t12),
            DirectiveSpec("open_file_cache_valid", .httpAll, t1),
            DirectiveSpec("open_file_cache_errors", .httpAll, .flag),
            DirectiveSpec("open_file_cache_min_uses", .httpAll, t1),
            DirectiveSpec("if_modified_since", .httpAll, t1),
            DirectiveSpec("max_ranges", .httpAll, t1),
            DirectiveSpec("chunked_transfer_encoding", .httpAll, .flag, slot: .locationFlag(\.chunkedTransferEncoding)),
            DirectiveSpec("absolute_redirect", .httpAll, .flag, slot: .locationFlag(\.absoluteRedirect)),
            DirectiveSpec("recursive_error_pages", .httpAll, .flag, slot: .locationFlag(\.recursiveErrorPages)),
            DirectiveSpec("auth_delay", .httpAll, t1, slot: .locationMsec(\.authDelay)),
            DirectiveSpec("early_hints", .httpAll, .oneOrMore),
            DirectiveSpec("server_name_in_redirect", .httpAll, .flag, slot: .locationFlag(\.serverNameInRedirect)),
            DirectiveSpec("port_in_redirect", .httpAll, .flag, slot: .locationFlag(\.portInRedirect)),
            DirectiveSpec("msie_padding", .httpAll, .flag, slot: .locationFlag(\.msiePadding)),
            DirectiveSpec("try_files", [.server, .location], .twoOrMore),
            DirectiveSpec("rewrite", [.server, .location, .ifInLocation], t23, repeatable: true),
            DirectiveSpec("set", [.server, .location, .ifInLocation], t2, repeatable: true),
            DirectiveSpec("break", [.server, .location, .ifInLocation], noArgs, repeatable: true),
            DirectiveSpec("if", [.server, .location], .oneOrMore, block: .ifInLocation, repeatable: true),
            DirectiveSpec(
                "rewrite_log", [.http, .server, .location, .ifInLocation], .flag, slot: .locationFlag(\.rewriteLog)),
            DirectiveSpec(
                "uninitialized_variable_warn", [.http, .server, .location, .ifInLocation], .flag, slot: .ignored(.flag)),
            DirectiveSpec("autoindex", .httpAll, .flag, slot: .locationFlag(\.autoindex)),
            DirectiveSpec("autoindex_format", .httpAll, t1),
            DirectiveSpec("autoindex_exact_size", .httpAll, .flag, slot: .locationFlag(\.autoindexExactSize)),
            DirectiveSpec("autoindex_localtime", .httpAll, .flag, slot: .locationFlag(\.autoindexLocaltime)),
            DirectiveSpec("gzip_static", .httpAll, t1),
            DirectiveSpec("brotli_static", .httpAll, t1),
            DirectiveSpec("zstd_static", .httpAll, t1),
            DirectiveSpec("gzip_vary", .httpAll, .flag, slot: .locationFlag(\.gzipVary)),
            DirectiveSpec(
                "ssi", [.http, .server, .location, .ifInLocation], .flag, slot: .locationFlag(\.ssi.enabled)),
            DirectiveSpec("ssi_silent_errors", .httpAll, .flag, slot: .locationFlag(\.ssi.silentErrors)),
            DirectiveSpec("ssi_last_modified", .httpAll, .flag, slot: .locationFlag(\.ssi.lastModified)),
            DirectiveSpec("ssi_types", .httpAll, .oneOrMore),
            DirectiveSpec("ssi_value_length", .httpAll, t1),
            DirectiveSpec("ssi_min_file_chunk", .httpAll, t1, slot: .ignored(.size)),
            DirectiveSpec("gzip", [.http, .server, .location, .ifInLocation], .flag),
            DirectiveSpec("gzip_types", .httpAll, .oneOrMore),
            DirectiveSpec("gzip_comp_level", .httpAll, t1),
            DirectiveSpec("gzip_min_length", .httpAll, t1),
            DirectiveSpec("gzip_http_version", .httpAll, t1),
            DirectiveSpec("gzip_proxied", .httpAll, .oneOrMore),
            DirectiveSpec("gzip_disable", .httpAll, .oneOrMore),
            DirectiveSpec("brotli", [.http, .server, .location, .ifInLocation], .flag),
            DirectiveSpec("brotli_types", .httpAll, .oneOrMore),
            DirectiveSpec("brotli_comp_level", .httpAll, t1),
            DirectiveSpec("brotli_min_length", .httpAll, t1),
            DirectiveSpec("zstd", [.http, .server, .location, .ifInLocation], .flag),
            DirectiveSpec("zstd_types", .httpAll, .oneOrMore),
            DirectiveSpec("zstd_comp_level", .httpAll, t1),
            DirectiveSpec("zstd_min_length", .httpAll, t1),
            DirectiveSpec("charset", [.http, .server, .location, .ifInLocation], t1),
            DirectiveSpec("charset_types", .httpAll, .oneOrMore),
            DirectiveSpec("charset_map", .http, t2, block: .map, repeatable: true),
            DirectiveSpec("source_charset", [.http, .server, .location, .ifInLocation], t1),
            DirectiveSpec("override_charset", [.http, .server, .location, .ifInLocation], .flag),
            DirectiveSpec("disable_symlinks", .httpAll, t12),
            // upstream
            DirectiveSpec("upstream", .http, t1, block: .upstream, repeatable: true),
            DirectiveSpec("keepalive", .upstream, t1),
            DirectiveSpec("least_conn", .upstream, noArgs),
            DirectiveSpec("ip_hash", .upstream, noArgs),
            DirectiveSpec("hash", .upstream, t12),
            DirectiveSpec("random", .upstream, .take([0, 1, 2])),
            DirectiveSpec("health_check", .location, .take([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])),
            DirectiveSpec("upstream_status", .location, noArgs),
            DirectiveSpec("allow", [.http, .server, .location, .limitExcept], t1, repeatable: true),
            DirectiveSpec("deny", [.http, .server, .location, .limitExcept], t1, repeatable: true),
            DirectiveSpec("limit_except", .location, .oneOrMore, block: .limitExcept),
            DirectiveSpec("satisfy", .httpAll, t1),
            DirectiveSpec("limit_conn_zone", .http, t2, repeatable: true),
            DirectiveSpec("limit_conn", .httpAll, t2, repeatable: true),
            DirectiveSpec("limit_conn_status", .httpAll, t1),
            DirectiveSpec("limit_conn_log_level", .httpAll, t1),
            DirectiveSpec("limit_conn_dry_run", .httpAll, t1),
            DirectiveSpec("limit_req_zone", .http, .take([3]), repeatable: true),
            DirectiveSpec("limit_req", .httpAll, .take([1, 2, 3]), repeatable: true),
            DirectiveSpec("limit_req_status", .httpAll, t1),
            DirectiveSpec("resolver", .httpAll, .oneOrMore),
            DirectiveSpec("resolver_timeout", .httpAll, t1),
            DirectiveSpec("limit_req_log_level", .httpAll, t1),
            DirectiveSpec("limit_req_dry_run", .httpAll, t1),
            DirectiveSpec("open_log_file_cache", .httpAll, .take([1, 2, 3, 4])),
            DirectiveSpec("limit_rate", locationIf, t1),
            DirectiveSpec("limit_rate_after", locationIf, t1),
            DirectiveSpec("proxy_limit_rate", .httpAll, t1),
            DirectiveSpec("uwsgi_limit_rate", .httpAll, t1),
            DirectiveSpec("set_real_ip_from", .httpAll, t1, repeatable: true),
            DirectiveSpec("real_ip_header", .httpAll, t1),
            DirectiveSpec("real_ip_recursive", .httpAll, t1),
            DirectiveSpec("auth_basic", [.http, .server, .location, .limitExcept], t1),
            DirectiveSpec("auth_basic_user_file", [.http, .server, .location, .limitExcept], t1),
            DirectiveSpec("stub_status", [.server, .location], .take([0, 1]), repeatable: true),
            DirectiveSpec("metrics", [.server, .location], .take([0])),
            DirectiveSpec("auth_request", .httpAll, t1),
            DirectiveSpec("auth_request_set", .httpAll, t2, repeatable: true),
            DirectiveSpec("match", .http, t1, block: .matchBlock, repeatable: true),
        ] + proxySpecs(prefix: "proxy_") + proxySpecs(prefix: "uwsgi_") + cgiSpecs + sslSpecs + http2Specs
        + cacheSpecs(prefix: "proxy_") + cacheSpecs(prefix: "uwsgi_") + cacheSpecs(prefix: "fastcgi_")
        + cacheSpecs(prefix: "scgi_") + ignoredSpecs

    private static let httpServer: DirectiveContext = [.http, .server]

    /// The ssl module (http and server levels).
    private static let sslSpecs: [DirectiveSpec] = [
        DirectiveSpec("ssl_certificate", httpServer, t1, repeatable: true),
        DirectiveSpec("ssl_certificate_key", httpServer, t1, repeatable: true),
        DirectiveSpec("ssl_password_file", httpServer, t1),
        DirectiveSpec("ssl_protocols", httpServer, .oneOrMore),
        DirectiveSpec("ssl_ciphers", httpServer, t1),
        DirectiveSpec("ssl_prefer_server_ciphers", httpServer, .flag),
        DirectiveSpec("ssl_ecdh_curve", httpServer, t1),
        DirectiveSpec("ssl_dhparam", httpServer, t1),
        DirectiveSpec("ssl_session_cache", httpServer, .take([1, 2])),
        DirectiveSpec("ssl_session_timeout", httpServer, t1),
        DirectiveSpec("ssl_session_tickets", httpServer, .flag),
        DirectiveSpec("ssl_session_ticket_key", httpServer, t1, repeatable: true),
        DirectiveSpec("ssl_client_certificate", httpServer, t1),
        DirectiveSpec("ssl_trusted_certificate", httpServer, t1),
        DirectiveSpec("ssl_verify_client", httpServer, t1),
        DirectiveSpec("ssl_verify_depth", httpServer, t1),
        DirectiveSpec("ssl_crl", httpServer, t1),
        DirectiveSpec("ssl_reject_handshake", httpServer, .flag),
        DirectiveSpec("ssl_early_data", httpServer, .flag),
        DirectiveSpec("ssl_conf_command", httpServer, t2, repeatable: true),
        DirectiveSpec("ssl_stapling", httpServer, .flag),
        DirectiveSpec("ssl_stapling_file", httpServer, t1),
        DirectiveSpec("ssl_buffer_size", httpServer, t1),
        DirectiveSpec("ssl_stapling_verify", httpServer, .flag),
        DirectiveSpec("ssl_stapling_responder", httpServer, t1),
        DirectiveSpec("ssl_certificate_cache", httpServer, .take([1, 2, 3])),
        DirectiveSpec("ssl_certificate_compression", httpServer, .flag),
        DirectiveSpec("ssl_object_cache_inheritable", .main, .flag),
        DirectiveSpec("ssl_ocsp", httpServer, t1),
        DirectiveSpec("ssl_ocsp_cache", httpServer, t1),
        DirectiveSpec("ssl_ocsp_responder", httpServer, t1),
    ]

    private static let passContexts: DirectiveContext = [.location, .ifInLocation, .limitExcept]

    /// The proxy module's directives, and the uwsgi module's namesakes.
    static func proxySpecs(prefix p: String) -> [DirectiveSpec] {
        var specs: [DirectiveSpec] = [
            DirectiveSpec(p + "pass", passContexts, t1),
            DirectiveSpec(p + "connect_timeout", .httpAll, t1),
            DirectiveSpec(p + "send_timeout", .httpAll, t1),
            DirectiveSpec(p + "read_timeout", .httpAll, t1),
            DirectiveSpec(p + "buffering", .httpAll, .flag),
            DirectiveSpec(p + "request_buffering", .httpAll, .flag),
            DirectiveSpec(p + "buffer_size", .httpAll, t1),
            DirectiveSpec(p + "buffers", .httpAll, t2),
            DirectiveSpec(p + "busy_buffers_size", .httpAll, t1),
            DirectiveSpec(p + "max_temp_file_size", .httpAll, t1),
            DirectiveSpec(p + "hide_header", .httpAll, t1, repeatable: true),
            DirectiveSpec(p + "pass_header", .httpAll, t1, repeatable: true),
            DirectiveSpec(p + "ignore_headers", .httpAll, .oneOrMore, repeatable: true),
            DirectiveSpec(p + "next_upstream", .httpAll, .oneOrMore),
            DirectiveSpec(p + "next_upstream_tries", .httpAll, t1),
            DirectiveSpec(p + "next_upstream_timeout", .httpAll, t1),
            DirectiveSpec(p + "intercept_errors", .httpAll, .flag),
            DirectiveSpec(p + "ignore_client_abort", .httpAll, .flag),
            DirectiveSpec(p + "pass_request_headers", .httpAll, .flag),
            DirectiveSpec(p + "pass_request_body", .httpAll, .flag),
            DirectiveSpec(p + "temp_file_write_size", .httpAll, t1, slot: .ignored(.size)),
            DirectiveSpec(p + "socket_keepalive", .httpAll, .flag, slot: .ignored(.flag)),
            DirectiveSpec(p + "bind", .httpAll, t12),
            // TLS to the upstream: proxy_pass https://, uwsgi_pass suwsgi://.
            DirectiveSpec(p + "ssl_server_name", .httpAll, .flag),
            DirectiveSpec(p + "ssl_name", .httpAll, t1),
            DirectiveSpec(p + "ssl_verify", .httpAll, .flag),
            DirectiveSpec(p + "ssl_verify_depth", .httpAll, t1),
            DirectiveSpec(p + "ssl_trusted_certificate", .httpAll, t1),
            DirectiveSpec(p + "ssl_certificate", .httpAll, t1),
            DirectiveSpec(p + "ssl_certificate_key", .httpAll, t1),
            DirectiveSpec(p + "ssl_protocols", .httpAll, .oneOrMore),
            DirectiveSpec(p + "ssl_ciphers", .httpAll, t1),
            DirectiveSpec(p + "ssl_session_reuse", .httpAll, .flag),
            DirectiveSpec(p + "ssl_crl", .httpAll, t1),
            DirectiveSpec(p + "ssl_password_file", .httpAll, t1),
            DirectiveSpec(p + "ssl_conf_command", .httpAll, t2, repeatable: true),
            DirectiveSpec(p + "ssl_certificate_cache", .httpAll, .take([1, 2, 3])),
        ]
        if p == "proxy_" {
            specs += [
                DirectiveSpec("proxy_set_header", .httpAll, t2, repeatable: true),
                DirectiveSpec("proxy_http_version", .httpAll, t1),
                DirectiveSpec("proxy_pass_trailers", .httpAll, .flag),
                DirectiveSpec("proxy_method", .httpAll, t1),
                DirectiveSpec("proxy_set_body", .httpAll, t1),
                DirectiveSpec("proxy_redirect", .httpAll, t12, repeatable: true),
                DirectiveSpec("proxy_cookie_domain", .httpAll, t12, repeatable: true),
                DirectiveSpec("proxy_cookie_path", .httpAll, t12, repeatable: true),
                DirectiveSpec("proxy_cookie_flags", .httpAll, t1234, repeatable: true),
            ]
        } else {
            specs += [
                DirectiveSpec("uwsgi_param", .httpAll, t23, repeatable: true),
                DirectiveSpec("uwsgi_modifier1", .httpAll, t1),
                DirectiveSpec("uwsgi_modifier2", .httpAll, t1),
            ]
        }
        return specs
    }

    /// Directives of an `upstream {}` block whose names mean something else elsewhere.
    static let upstreamSpecs: [String: DirectiveSpec] = [
        "server": DirectiveSpec("server", .upstream, .oneOrMore, repeatable: true),
        "keepalive_timeout": DirectiveSpec("keepalive_timeout", .upstream, t1),
        "keepalive_requests": DirectiveSpec("keepalive_requests", .upstream, t1),
        "keepalive_time": DirectiveSpec("keepalive_time", .upstream, t1),
        "resolver": DirectiveSpec("resolver", .upstream, .oneOrMore),
        "resolver_timeout": DirectiveSpec("resolver_timeout", .upstream, t1),
    ]

    /// The conditions of a `match {}` block.
    static let matchSpecs: [String: DirectiveSpec] = [
        "status": DirectiveSpec("status", .matchBlock, .oneOrMore, repeatable: true),
        "header": DirectiveSpec("header", .matchBlock, .oneOrMore, repeatable: true),
        "body": DirectiveSpec("body", .matchBlock, .oneOrMore, repeatable: true),
    ]

    /// The declaration of `name` as it applies in `context`.
    public static func spec(_ name: String, in context: DirectiveContext) -> DirectiveSpec? {
        if context == .upstream, let s = upstreamSpecs[name] { return s }
        if context == .matchBlock { return matchSpecs[name] }
        return byName[name]
    }

    /// Directives accepted (and their values checked) but without effect in swiftginx,
    /// because nothing observable depends on them here.
    /// The http_v2 module (ConfigCompiler+HTTP2.swift), its obsolete directives included.
    private static let http2Specs: [DirectiveSpec] = [
        DirectiveSpec("http2", [.http, .server], .flag),
        DirectiveSpec("http2_max_concurrent_streams", [.http, .server], t1),
        DirectiveSpec("http2_recv_buffer_size", .http, t1),
        DirectiveSpec("http2_chunk_size", .httpAll, t1),
        DirectiveSpec("http2_body_preread_size", [.http, .server], t1),
        DirectiveSpec("http2_streams_index_size", [.http, .server], t1, slot: .ignored(.number)),
        DirectiveSpec("http2_idle_timeout", [.http, .server], t1),
        DirectiveSpec("http2_max_requests", [.http, .server], t1),
        DirectiveSpec("http2_recv_timeout", [.http, .server], t1),
        DirectiveSpec("http2_max_field_size", [.http, .server], t1),
        DirectiveSpec("http2_max_header_size", [.http, .server], t1),
        DirectiveSpec("http2_push", .httpAll, t1, repeatable: true),
        DirectiveSpec("http2_push_preload", .httpAll, .flag),
    ]

    private static let ignoredSpecs: [DirectiveSpec] = [
        DirectiveSpec("worker_priority", .main, t1, slot: .ignored(.none)),
        DirectiveSpec("timer_resolution", .main, t1, slot: .ignored(.time)),
        DirectiveSpec("pcre_jit", .main, .flag, slot: .ignored(.flag)),
        DirectiveSpec("lock_file", .main, t1, slot: .ignored(.none)),
        DirectiveSpec("accept_mutex", .events, .flag, slot: .ignored(.flag)),
        DirectiveSpec("accept_mutex_delay", .events, t1, slot: .ignored(.time)),
        DirectiveSpec("proxy_temp_path", .httpAll, t1234, slot: .ignored(.none)),
        DirectiveSpec("zone", .upstream, t12, slot: .ignored(.none)),
        DirectiveSpec("fastcgi_temp_path", .httpAll, t1234, slot: .ignored(.none)),
        DirectiveSpec("uwsgi_temp_path", .httpAll, t1234, slot: .ignored(.none)),
        DirectiveSpec("scgi_temp_path", .httpAll, t1234, slot: .ignored(.none)),
        DirectiveSpec("server_names_hash_bucket_size", .http, t1, slot: .ignored(.size)),
        DirectiveSpec("server_names_hash_max_size", .http, t1, slot: .ignored(.number)),
        DirectiveSpec("types_hash_max_size", .httpAll, t1, slot: .ignored(.number)),
        DirectiveSpec("types_hash_bucket_size", .httpAll, t1, slot: .ignored(.size)),
        DirectiveSpec("variables_hash_max_size", .http, t1, slot: .ignored(.number)),
        DirectiveSpec("variables_hash_bucket_size", .http, t1, slot: .ignored(.size)),
        DirectiveSpec("map_hash_max_size", .http, t1, slot: .ignored(.number)),
        DirectiveSpec("map_hash_bucket_size", .http, t1, slot: .ignored(.size)),
        DirectiveSpec("reset_timedout_connection", .httpAll, .flag, slot: .ignored(.flag)),
        DirectiveSpec("output_buffers", .httpAll, t2, slot: .ignored(.none)),
        DirectiveSpec("postpone_output", .httpAll, t1, slot: .ignored(.size)),
        DirectiveSpec("sendfile_max_chunk", .httpAll, t1, slot: .ignored(.size)),
        DirectiveSpec("directio", .httpAll, t1, slot: .ignored(.none)),
        DirectiveSpec("aio", .httpAll, t1, slot: .ignored(.none)),
        DirectiveSpec("read_ahead", .httpAll, t1, slot: .ignored(.size)),
        DirectiveSpec("connection_pool_size", [.http, .server], t1, slot: .ignored(.size)),
        DirectiveSpec("request_pool_size", [.http, .server], t1, slot: .ignored(.size)),
        DirectiveSpec("gzip_buffers", .httpAll, t2, slot: .ignored(.none)),
        DirectiveSpec("brotli_buffers", .httpAll, t2, slot: .ignored(.none)),
        DirectiveSpec("brotli_window", .httpAll, t1, slot: .ignored(.size)),
    ]

    /// Names of the directives accepted without effect (the README lists them). `error_log`
    /// is also accepted in http, server and location, where it has no effect: only the
    /// main context's targets are used.
    public static let acceptedWithoutEffect: [String] = all.compactMap {
        if case .ignored = $0.slot { $0.name } else { nil }
    }

    /// Lookup by name.
    public static let byName: [String: DirectiveSpec] = Dictionary(all.map { ($0.name, $0) }) { a, _ in a }
}
