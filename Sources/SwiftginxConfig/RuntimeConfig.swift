// The compiled, immutable configuration the server runs on. Built once from the
// directive tree (at startup and on every reload) with every inherited setting
// already merged http → server → location, every path resolved against the
// prefix, and every regular expression compiled. Requests only read it.

import SwiftginxRouting

/// Everything a running server needs, compiled from one configuration file.
public final class RuntimeConfig: Sendable {
    public let main: MainSettings
    /// One entry per distinct listen address, in the order first seen.
    public let listenGroups: [ListenGroup]
    /// Every file read while loading (the main file first, then includes), for `-T`.
    public let sources: [ConfigSource]
    /// `map` blocks by the variable they define (lowercased, without '$').
    public let maps: [String: VariableMap]
    /// `split_clients` blocks by the variable they define.
    public let splits: [String: SplitClients]
    /// `geo` blocks by the variable they define.
    public let geos: [String: GeoBlock]
    /// `charset_map` tables.
    public let charsetMaps: CharsetMaps
    /// `limit_conn_zone` zones by name.
    public let limitConnZones: [String: LimitConnZoneConfig]
    /// `limit_req_zone` zones by name.
    public let limitReqZones: [String: LimitReqZoneConfig]
    /// The zones' names by `LimitReqRule.zoneIndex`.
    public let limitReqZoneNames: [String]
    /// The resolver of each upstream group with `resolve` servers, by group index.
    public let upstreamResolvers: [Int: UpstreamResolve]
    /// Some location has `metrics`: requests are counted.
    public let metricsEnabled: Bool
    /// Directives of this configuration that swiftginx accepts without effect, one line
    /// each ("\"sendfile\" is accepted without effect in /etc/nginx/nginx.conf:20"):
    /// `-t` prints them, so a migration sees what does nothing here.
    public let acceptedWithoutEffect: [String]
    /// Non-fatal findings nginx logs at `[warn]` while loading (e.g.
    /// `conflicting server name "x" on 0.0.0.0:80, ignored`), for the server to log.
    public let warnings: [String]
    /// Every distinct access_log path of any server or location (absolute), in the order
    /// first seen, so the server can open each file once.
    public let accessLogPaths: [String]
    /// Every upstream group (explicit blocks and the implicit ones of proxy_pass
    /// addresses), indexed by `UpstreamGroup.index`.
    public let upstreams: [UpstreamGroup]
    /// Some value uses `$sent_http_*`: response heads are kept for it (else not copied).
    public let usesSentHeaders: Bool
    /// Active health checks by `UpstreamGroup.index`.
    public let healthChecks: [Int: [HealthCheck]]
    /// Explicit `upstream` blocks by name (for proxy_pass with variables).
    public let upstreamsByName: [String: UpstreamGroup]
    /// The implicit groups of proxy_pass addresses by their address as written,
    /// lowercased ("localhost:8080", "unix:/path"): a proxy_pass with variables that
    /// names one uses it, as nginx finds them, without a resolver.
    public let implicitUpstreams: [String: UpstreamGroup]

    /// `proxy_cache_path` / `uwsgi_cache_path` zones by name.
    public let cachePaths: [String: CachePathConfig]

    /// Locations that can never match (printed by `-T`).
    public let locationWarnings: [String]

    public init(
        main: MainSettings, listenGroups: [ListenGroup], sources: [ConfigSource], warnings: [String] = [],
        locationWarnings: [String] = [], accessLogPaths: [String] = [], maps: [String: VariableMap] = [:],
        splits: [String: SplitClients] = [:], geos: [String: GeoBlock] = [:], charsetMaps: CharsetMaps = .none,
        limitConnZones: [String: LimitConnZoneConfig] = [:], limitReqZones: [String: LimitReqZoneConfig] = [:],
        limitReqZoneNames: [String]? = nil, upstreams: [UpstreamGroup] = [],
        upstreamResolvers: [Int: UpstreamResolve] = [:], metricsEnabled: Bool = false,
        acceptedWithoutEffect: [String] = [],
        healthChecks: [Int: [HealthCheck]] = [:],
        usesSentHeaders: Bool = false,
        cachePaths: [String: CachePathConfig] = [:]
    ) {
        self.cachePaths = cachePaths
        self.usesSentHeaders = usesSentHeaders
        self.upstreams = upstreams
        self.upstreamResolvers = upstreamResolvers
        self.metricsEnabled = metricsEnabled
        self.acceptedWithoutEffect = acceptedWithoutEffect
        self.healthChecks = healthChecks
        self.locationWarnings = locationWarnings
        var byName: [String: UpstreamGroup] = [:]
        for g in upstreams where g.isExplicit { byName[g.name] = g }
        self.upstreamsByName = byName
        var implicit: [String: UpstreamGroup] = [:]
        for g in upstreams where !g.isExplicit && implicit[g.name.lowercased()] == nil {
            implicit[g.name.lowercased()] = g
        }
        self.implicitUpstreams = implicit
        self.main = main
        self.maps = maps
        self.splits = splits
        self.geos = geos
        self.charsetMaps = charsetMaps
        self.limitConnZones = limitConnZones
        self.limitReqZones = limitReqZones
        self.limitReqZoneNames = limitReqZoneNames ?? limitReqZones.keys.sorted()
        self.listenGroups = listenGroups
        self.sources = sources
        self.warnings = warnings
        self.accessLogPaths = accessLogPaths
    }

    /// The group that serves a connection accepted on `host:port` (the socket's local
    /// address): the group of that exact address, else the wildcard group of the port
    /// and family, as nginx dispatches connections that arrive on a wildcard socket.
    public func listenGroup(localHost host: String, port: Int) -> ListenGroup? {
        if let g = listenGroups.first(where: { $0.address.host == host && $0.address.port == port }) { return g }
        let wildcard = host.contains(":") ? "::" : "0.0.0.0"
        return listenGroups.first { $0.address.host == wildcard && $0.address.port == port }
    }
}

public struct ConfigSource: Sendable {
    public let path: String
    public let text: String
    public init(path: String, text: String) {
        self.path = path
        self.text = text
    }
}

/// Levels of `error_log`, as nginx names them, most verbose first.
public enum LogLevel: Int, Sendable, Comparable, CaseIterable {
    case debug = 8, info = 7, notice = 6, warn = 5, error = 4, crit = 3, alert = 2, emerg = 1

    public var name: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .notice: "notice"
        case .warn: "warn"
        case .error: "error"
        case .crit: "crit"
        case .alert: "alert"
        case .emerg: "emerg"
        }
    }
    /// More severe levels compare smaller: a line is written when `line <= configured`.
    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Main and events context.
public struct MainSettings: Sendable {
    /// Resolved worker thread count (`auto` = number of online CPUs; `0`, which nginx
    /// accepts, is treated as 1).
    public var workerProcesses: Int = 1
    /// Absolute path of the pid file (default `<prefix>logs/swiftginx.pid`).
    public var pidPath: String = ""
    /// `error_log` targets of the main context (default: `logs/error.log error`).
    /// `error_log` is accepted in http, server and location too but has no effect there:
    /// only these main-context targets are used.
    public var errorLogs: [ErrorLogTarget] = []
    public var daemon: Bool = true
    public var masterProcess: Bool = true
    public var workerRlimitNofile: Int? = nil
    /// The account that serves when started as root (`user`, default `nobody`); nil when
    /// not started as root, where nginx ignores `user` with a warning.
    public var user: ServingAccount? = nil
    /// `worker_cpu_affinity`: the CPUs each worker thread may run on, by worker index
    /// (empty: no binding; fewer sets than workers: the last applies to the rest).
    public var cpuAffinity: [[Int]] = []
    /// `env NAME[=value]` lines: the only variables (with TZ) the serving process keeps.
    public var environment: [String] = []
    /// `worker_shutdown_timeout` (ms): on a graceful stop or a reload, connections
    /// still open this long after it are closed (nil: they may finish in their own time).
    public var workerShutdownTimeout: Int? = nil
    /// events { worker_connections }: default 512.
    public var workerConnections: Int = 512
    public var multiAccept: Bool = false
    /// `ssl_object_cache_inheritable`: a reload reuses certificate, key, CA and CRL
    /// files read before when their inode and mtime are unchanged.
    public var sslObjectCacheInheritable: Bool = true
    public var prefix: String = ""
    /// Every `client_body_temp_path` directory, and the default `<prefix>client_body_temp`:
    /// created at startup (given to `user` when started as root), as nginx creates them.
    public var clientBodyTempPaths: [String] = []
    public init() {}
}

/// `user name [group]`, resolved: the serving process drops root for this account.
public struct ServingAccount: Sendable, Equatable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public init(name: String, uid: UInt32, gid: UInt32) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }
}

/// One `server {}` block.
public final class VirtualServer: Sendable {
    /// `server_name` entries in written order ("" for the empty name).
    public let serverNames: [String]
    /// The name used for `$server_name` and redirects: the first server_name, without the
    /// leading dot of a `.example.com` name (a regex keeps its `~`), as nginx.
    public let primaryName: String
    public let settings: ServerSettings
    public let locations: LocationIndex<Location>
    /// `return` written at server level (runs before location matching).
    public let serverReturn: ReturnAction?
    /// rewrite / set / break / return written at server level, run before location matching.
    public let serverRewrites: [RewriteStep]
    /// The server level's effective location settings (http → server merged): what a
    /// request that matches no location, or never reaches location matching, runs with.
    public let defaultSettings: LocationSettings
    /// What serves a URI that no `location` matches: nginx then uses the server
    /// level's own settings (root, index, ...), as if in an implicit location.
    public let serverLevelLocation: Location
    /// URIs answered with a 301 to themselves plus "/": prefix locations ending in "/"
    /// that proxy (nginx's auto_redirect), without the slash.
    public let autoRedirects: Set<String>
    /// The handlers every request on this server starts with (see Phases.swift), in
    /// memory of their own (see `Location.stepBuffer`).
    nonisolated(unsafe) public let stepBuffer: UnsafeBufferPointer<PhaseStep>
    public var steps: [PhaseStep] { Array(stepBuffer) }

    public init(
        serverNames: [String], settings: ServerSettings, locations: LocationIndex<Location>,
        serverReturn: ReturnAction?,
        defaultSettings: LocationSettings = LocationSettings(), serverRewrites: [RewriteStep] = [],
        autoRedirects: Set<String> = []
    ) {
        self.autoRedirects = autoRedirects
        self.serverNames = serverNames
        let first = serverNames.first ?? ""
        self.primaryName = first.hasPrefix(".") ? String(first.dropFirst()) : first
        self.settings = settings
        self.locations = locations
        self.serverReturn = serverReturn
        self.serverRewrites = serverRewrites
        self.defaultSettings = defaultSettings
        self.serverLevelLocation = Location(pattern: "", prefix: "", settings: defaultSettings)
        self.stepBuffer = PhaseStep.buffer(
            VirtualServer.compileSteps(serverRewrites: serverRewrites, realIP: !defaultSettings.realIPFrom.isEmpty))
    }

    deinit { stepBuffer.deallocate() }
}

/// Settings that nginx reads once per connection or request head (server level).
public struct ServerSettings: Sendable {
    public var clientHeaderBufferSize: Int = 1024
    public var largeClientHeaderBuffers: (count: Int, size: Int) = (4, 8192)
    /// Milliseconds.
    public var clientHeaderTimeout: Int = 60_000
    public var ignoreInvalidHeaders: Bool = true
    public var underscoresInHeaders: Bool = false
    /// `max_headers`: more header lines than this → 400 "Request Header Or Cookie Too Large".
    public var maxHeaders: Int = 1000
    public var mergeSlashes: Bool = true
    /// For connections that do not get as far as a location (400s, 408s): location-level
    /// copies of these live in LocationSettings.
    public var keepaliveTimeout: Int = 75_000
    /// The ssl module's settings (used when a listen of this server has `ssl`).
    public var ssl = SSLSettings()
    /// The http_v2 module's settings (HTTP2Settings.swift).
    public var http2 = HTTP2Settings()
    public init() {}
}

/// A `return` directive: a code with optional text, or a redirect URL.
public struct ReturnAction: Sendable {
    public let code: Int
    /// Body text for non-redirect codes, Location URL for 301/302/303/307/308.
    public let text: ComplexValue?
    public init(code: Int, text: ComplexValue?) {
        self.code = code
        self.text = text
    }
}

/// An `error_page` entry for one status.
public struct ErrorPage: Sendable {
    public let uri: ComplexValue
    /// `=code` answers with that code; `=` alone uses the target's status (`useTargetStatus`).
    public let overrideStatus: Int?
    public let useTargetStatus: Bool
    public init(uri: ComplexValue, overrideStatus: Int?, useTargetStatus: Bool) {
        self.uri = uri
        self.overrideStatus = overrideStatus
        self.useTargetStatus = useTargetStatus
    }
}

public struct AddHeader: Sendable {
    public let name: String
    public let value: ComplexValue
    public let always: Bool
    public init(name: String, value: ComplexValue, always: Bool) {
        self.name = name
        self.value = value
        self.always = always
    }
}

/// `open_file_cache`.
public struct OpenFileCacheSettings: Sendable, Equatable {
    public var max: Int = 0  // 0 = off
    /// Seconds an unused entry stays.
    public var inactive: Int = 60
    /// `open_file_cache_valid` seconds.
    public var valid: Int = 60
    public var errors: Bool = false
    public var minUses: Int = 1
    public init() {}
}

public enum LingeringClose: Sendable { case off, on, always }
/// `server_tokens`: what the Server header and error pages name (`nginx`, `nginx/1.31.5`,
/// or that followed by the build name).
public enum ServerTokens: UInt8, Sendable { case off, on, build }

/// Extension → MIME type, from `types {}` blocks (mime.types).
public final class MimeTypes: Sendable {
    /// Keys are lowercased extensions without the dot.
    public let byExtension: [String: String]
    public init(_ byExtension: [String: String]) { self.byExtension = byExtension }
}

/// Effective settings of one location after inheritance.
public struct LocationSettings: Sendable {
    /// Document root (`root`), absolute when static (the trailing "/" removed, as nginx
    /// does); a value with variables that does not start with "/" or "$" gets the prefix
    /// prepended. Ignored when `alias` is set.
    public var root: ComplexValue = ComplexValue(literal: "html")
    /// `alias` replaces the location's matched prefix.
    public var alias: ComplexValue? = nil
    /// The length of the prefix `alias` replaces (that of the location that set it, also
    /// in the locations nested in it); nil: set in a regex location, the alias is the
    /// whole path (nginx's alias of NGX_MAX_SIZE_T_VALUE).
    public var aliasPrefixLength: Int? = nil
    public var index: [ComplexValue] = [ComplexValue(literal: "index.html")]
    public var returnAction: ReturnAction? = nil
    public var errorPages: [Int: ErrorPage] = [:]
    public var addHeaders: [AddHeader] = []
    /// `add_trailer` (inherited apart from add_header, as nginx does).
    public var addTrailers: [AddHeader] = []
    public var expires: Expires = .off
    public var etag: Bool = true
    public var isInternal: Bool = false
    public var defaultType: String = "text/plain"
    public var types: MimeTypes = MimeTypes([:])
    public var sendfile: Bool = false
    public var tcpNopush: Bool = false
    public var tcpNodelay: Bool = true
    /// Milliseconds; 0 disables keep-alive.
    public var keepaliveTimeout: Int = 75_000
    /// Second `keepalive_timeout` argument: seconds for the `Keep-Alive: timeout=` header.
    public var keepaliveHeaderTimeout: Int? = nil
    public var keepaliveRequests: Int = 1000
    /// `http2_chunk_size` (8k): the largest DATA frame of a response on HTTP/2.
    public var http2ChunkSize: Int = 8192
    /// `keepalive_time` (ms): no keep-alive after a connection has lived this long.
    public var keepaliveTime: Int = 3_600_000
    /// `keepalive_disable`: browsers that get no keep-alive (default msie6).
    public var keepaliveDisable: KeepAliveDisable = .msie6
    /// Bytes; 0 = unlimited.
    public var clientMaxBodySize: Int64 = 1 << 20
    /// Default two memory pages (8k on x86-64), as nginx.
    public var clientBodyBufferSize: Int = 8192
    public var clientBodyTimeout: Int = 60_000
    public var clientBodyInFileOnly: ClientBodyInFileOnly = .off
    /// `client_body_in_single_buffer` (a body in memory is always one buffer here).
    public var clientBodyInSingleBuffer: Bool = false
    public var clientBodyTempPath = TempPath()
    public var sendTimeout: Int = 60_000
    /// `server_tokens on|off|build`.
    public var serverTokens: ServerTokens = .on
    public var accessLogs: [AccessLogTarget] = []
    public var logNotFound: Bool = true
    public var lingeringClose: LingeringClose = .on
    public var lingeringTime: Int = 30_000
    public var lingeringTimeout: Int = 5_000
    public var openFileCache: OpenFileCacheSettings = OpenFileCacheSettings()
    /// `if_modified_since off|exact|before`.
    public var ifModifiedSince: IfModifiedSince = .exact
    public var maxRanges: Int? = nil
    public var chunkedTransferEncoding: Bool = true
    public var absoluteRedirect: Bool = true
    /// `recursive_error_pages`: an error page may itself use error_page.
    public var recursiveErrorPages: Bool = false
    /// `auth_delay` (ms): a 401 from an access module is answered after this delay.
    public var authDelay: Int = 0
    /// `early_hints`: an upstream's 103 answer is passed to the client when one of these
    /// evaluates non-empty and not "0" (none: never).
    public var earlyHints: [ComplexValue] = []
    public var serverNameInRedirect: Bool = false
    public var portInRedirect: Bool = true
    public var msiePadding: Bool = true
    /// rewrite / set / break / return of this location, in order (not inherited, as nginx).
    public var rewrites: [RewriteStep] = []
    /// `rewrite_log`: log each rewrite at notice level.
    public var rewriteLog: Bool = false
    /// `try_files`: the candidates and the fallback; nil when not set.
    public var tryFiles: TryFiles? = nil
    public var autoindex: Bool = false
    public var autoindexFormat: AutoindexFormat = .html
    public var autoindexExactSize: Bool = true
    public var autoindexLocaltime: Bool = false
    /// `gzip_static`, `brotli_static`, `zstd_static`.
    public var gzipStatic: StaticCompression = .off
    public var brotliStatic: StaticCompression = .off
    public var zstdStatic: StaticCompression = .off
    /// `gzip_vary`.
    public var gzipVary: Bool = false
    /// `ssi` and its `ssi_*` directives.
    public var ssi = SSISettings()
    /// On-the-fly compression: `gzip`, `brotli`, `zstd` and their `_types`,
    /// `_comp_level`, `_min_length` directives.
    public var gzip = DynamicCompression(level: 1, minLength: 20)
    public var brotli = DynamicCompression(level: 6, minLength: 20)
    public var zstd = DynamicCompression(level: 3, minLength: 20)
    /// `gzip_http_version`: the lowest request version that gets compressed responses.
    public var gzipHTTPVersion11: Bool = true
    /// `gzip_proxied`: which requests carrying `Via` may be compressed (nginx default: none).
    public var gzipProxied: Set<String> = ["off"]
    /// `gzip_disable`: User-Agent patterns that get no compression ("msie6" is nginx's shortcut).
    public var gzipDisable: [Regex] = []
    public var gzipDisableMSIE6: Bool = false
    /// `disable_symlinks`: off, on, or if_not_owner, and the `from=` prefix not checked.
    public var disableSymlinks: DisableSymlinks = .off
    public var disableSymlinksFrom: ComplexValue? = nil
    /// `charset` (nil = off) and the types it applies to (`charset_types`).
    public var charset: String? = nil
    /// `charset` with variables (the name is evaluated per request).
    public var charsetVariable: ComplexValue? = nil
    /// `source_charset`, `override_charset`.
    public var sourceCharset: String? = nil
    public var overrideCharset: Bool = false
    /// `proxy_pass` / `uwsgi_pass` of this location (nil: not proxied).
    public var pass: UpstreamPass? = nil
    /// The proxy and uwsgi modules' settings (boxed: see CopyOnWrite).
    public var proxy: UpstreamSettings {
        _read { yield proxyStorage.value }
        set { proxyStorage.value = newValue }
    }
    public var uwsgi: UpstreamSettings {
        _read { yield uwsgiStorage.value }
        set { uwsgiStorage.value = newValue }
    }
    /// The boxed settings themselves: a request keeps a reference (one retain) instead of
    /// copying every field.
    public private(set) var proxyStorage = CopyOnWrite(UpstreamSettings())
    public private(set) var uwsgiStorage = CopyOnWrite(UpstreamSettings())
    /// The fastcgi and scgi modules' settings.
    public var fastcgi: UpstreamSettings {
        _read { yield fastcgiStorage.value }
        set { fastcgiStorage.value = newValue }
    }
    public var scgi: UpstreamSettings {
        _read { yield scgiStorage.value }
        set { scgiStorage.value = newValue }
    }
    public private(set) var fastcgiStorage = CopyOnWrite(UpstreamSettings.cgi())
    public private(set) var scgiStorage = CopyOnWrite(UpstreamSettings.cgi())
    /// `upstream_status`: this location answers with the upstreams' state as JSON.
    public var upstreamStatus: Bool = false
    /// The limit_conn module: the limits in order, and what a refused request gets.
    public var limitConns: [LimitConnRule] = []
    public var limitConnStatus = 503
    public var limitConnLogLevel: LogLevel = .error
    public var limitConnDryRun = false
    /// The limit_req module (LimitReq.swift).
    public var limitReq = LimitReqSettings()
    /// `resolver`: the DNS servers for names only known per request (nil: none).
    public var resolver: ResolverConfig? = nil
    /// `resolver_timeout` in ms (30s).
    public var resolverTimeout = 30_000
    /// `limit_rate`, `limit_rate_after`, `proxy_limit_rate` (SendRate.swift).
    public var sendRate = SendRateSettings()
    /// `error_log` below main, `open_log_file_cache` (ConfigCompiler+Logs.swift).
    public var logs = LogSettings()
    /// The realip module: `set_real_ip_from` (trusted addresses), `real_ip_header`,
    /// `real_ip_recursive`.
    public var realIPFrom: [AccessRule] = []
    public var realIPHeader: RealIPHeader = .xRealIP
    public var realIPRecursive = false
    /// `allow` / `deny` rules in order (the access module).
    public var accessRules: [AccessRule] = []
    /// `satisfy any`: access is granted when any access module allows (default: all must).
    public var satisfyAny = false
    /// `auth_basic realm` (nil: off; a value with variables that evaluates to "off" is
    /// off for that request, as in nginx) and `auth_basic_user_file`.
    public var authBasic: ComplexValue? = nil
    public var authBasicUserFile: ComplexValue? = nil
    /// The directory a relative `auth_basic_user_file` with variables resolves against
    /// per request (nginx's conf prefix).
    public var authBasicUserFileBase: [UInt8] = []
    /// `metrics`: this location answers with the Prometheus metrics (not inherited).
    public var metrics: Bool = false
    /// `stub_status`: this location (or, at server level, a URI no location matches)
    /// answers with the connection counts; like a content handler, not inherited.
    public var stubStatus: Bool = false
    /// `auth_request uri`: the subrequest that decides access (nil: off).
    public var authRequest: ComplexValue? = nil
    /// `auth_request_set $name value`, evaluated in the subrequest after it answered.
    public var authRequestSet: [AuthRequestSet] = []
    public var charsetTypes: Set<String> = [
        "text/html", "text/xml", "text/plain", "text/vnd.wap.wml", "application/javascript", "application/rss+xml",
    ]
    public init() {}
}

public enum IfModifiedSince: Sendable { case off, exact, before }

/// One directive of nginx's rewrite module, run in configuration order.
public enum RewriteStep: Sendable {
    case rewrite(Regex, replacement: ComplexValue, flag: RewriteFlag)
    case set(name: String, value: ComplexValue)
    case breakProcessing
    case returnAction(ReturnAction)
    /// `if (condition) { ... }`: its rewrite-module directives, and in a location the
    /// pseudo-location nginx makes of the block's other directives (root, add_header,
    /// expires, proxy_pass, ...), which the request uses once the condition is true.
    case ifBlock(IfCondition, [RewriteStep], IfLocation?)
}

/// The pseudo-location of an `if` block inside a location (nginx's "if in location"):
/// set once while the configuration is compiled, read-only afterwards.
public final class IfLocation: @unchecked Sendable {
    public internal(set) var location: Location? = nil
    public init() {}
}

/// The condition of an `if`, as nginx's rewrite module evaluates it.
public enum IfCondition: Sendable {
    /// `$var`: true unless empty or "0".
    case value(ComplexValue)
    case equals(ComplexValue, ComplexValue, negated: Bool)
    /// `~`, `~*`, `!~`, `!~*`; a match sets the captures.
    case matches(ComplexValue, Regex, negated: Bool)
    /// `-f`, `-d`, `-e`, `-x` and their `!` forms.
    case file(ComplexValue, test: FileTest, negated: Bool)
}

public enum FileTest: Sendable { case file, directory, exists, executable }

public enum RewriteFlag: Sendable { case none, last, breakFlag, redirect, permanent }

/// `try_files file ... fallback`.
public struct TryFiles: Sendable {
    /// Candidates, relative to the root (a trailing "/" tests for a directory).
    public let candidates: [ComplexValue]
    public let fallback: TryFilesFallback
    public init(candidates: [ComplexValue], fallback: TryFilesFallback) {
        self.candidates = candidates
        self.fallback = fallback
    }
}

public enum TryFilesFallback: Sendable {
    /// An internal redirect to this URI (may carry `?args`).
    case uri(ComplexValue)
    /// `@name`.
    case named(String)
    /// `=code`.
    case code(Int)
}

public enum AutoindexFormat: Sendable { case html, json, xml, jsonp }

public enum DisableSymlinks: Sendable { case off, on, ifNotOwner }

/// One on-the-fly coding's settings.
public struct DynamicCompression: Sendable {
    public var enabled: Bool = false
    public var level: Int
    public var minLength: Int
    /// MIME types to compress; text/html is always included; "*" means all.
    public var types: Set<String> = ["text/html"]
    public init(level: Int, minLength: Int) {
        self.level = level
        self.minLength = minLength
    }
}

/// `gzip_static`-style switches: `always` serves the variant whatever the client says.
public enum StaticCompression: Sendable { case off, on, always }
