// Compiles the directive tree into a RuntimeConfig, as nginx's handlers and merge
// functions do: main and events settings directly; http, server and location settings
// as per-level lists of setters that are applied on top of the parent's effective
// settings once the whole http block is read (so an http-level directive written after
// a server block still reaches it, as in nginx). Listen addresses, server names and
// locations are checked and grouped here; see ConfigCompiler+HTTP.swift for handlers.

import SwiftginxRouting

/// One http, server or location level before inheritance (nginx's per-level conf).
final class ConfigLevel {
    enum Kind { case http, server, location }
    let kind: Kind
    /// Non-repeatable directives already seen here ("is duplicate").
    var seen: Set<String> = []
    var setters: [(inout LocationSettings) -> Void] = []
    var serverSetters: [(inout ServerSettings) -> Void] = []
    // Array directives: a level that has any replaces the parent's list (nginx).
    var index: [ComplexValue]? = nil
    var errorPages: [Int: ErrorPage]? = nil
    var addHeaders: [AddHeader]? = nil
    var addTrailers: [AddHeader]? = nil
    var authRequestSet: [AuthRequestSet]? = nil
    var accessRules: [AccessRule]? = nil
    var realIPFrom: [AccessRule]? = nil
    var limitConns: [LimitConnRule]? = nil
    var limitReqs: [LimitReqRule]? = nil
    var errorLogs: [ErrorLogTarget]? = nil
    var types: [String: String]? = nil
    var accessLogs: [AccessLogTarget]? = nil
    /// `access_log off` at this level (wins over other access_log lines here, as nginx).
    var accessLogOff = false
    /// "root" or "alias", whichever this level set.
    var rootDirective: String? = nil
    /// `return` of this level (not inherited, as nginx's rewrite module).
    var returnAction: ReturnAction? = nil
    /// rewrite / set / break / return of this level in order (not inherited either).
    var rewrites: [RewriteStep] = []
    /// proxy_set_header, uwsgi_param and the other array-valued upstream directives.
    var proxyArrays = UpstreamLevelArrays()
    var uwsgiArrays = UpstreamLevelArrays()
    var fastcgiArrays = UpstreamLevelArrays()
    var scgiArrays = UpstreamLevelArrays()
    /// `proxy_pass` / `uwsgi_pass` of this level (not inherited by nested locations).
    var pass: PassBox? = nil
    /// `stub_status` at this level (a content handler: not inherited, as `pass`).
    var stubStatus = false
    /// `metrics` at this level (a content handler: not inherited).
    var metrics = false
    /// `if` blocks of this location that hold more than rewrite directives.
    var ifLevels: [(ConfigLevel, IfLocation)] = []
    /// `limit_except`: the methods it lets through and the block's level.
    var limitExcept: (methods: Set<String>, level: ConfigLevel)? = nil
    /// Array-valued ssl directives: a level that has any replaces the parent's list.
    var sslCertificates: [String]? = nil
    var sslCertificateKeys: [String]? = nil
    var sslTicketKeys: [String]? = nil
    var sslConfCommands: [(String, String)]? = nil

    /// Applies this level's server-level setters (ssl arrays included) over `parent`.
    func applyServer(to parent: ServerSettings) -> ServerSettings {
        var s = parent
        for f in serverSetters { f(&s) }
        if let sslCertificates { s.ssl.certificates = sslCertificates }
        if let sslCertificateKeys { s.ssl.certificateKeys = sslCertificateKeys }
        if let sslTicketKeys { s.ssl.sessionTicketKeys = sslTicketKeys }
        if let sslConfCommands { s.ssl.confCommands = sslConfCommands }
        return s
    }

    init(_ kind: Kind) { self.kind = kind }

    func apply(to parent: LocationSettings) -> LocationSettings {
        var s = parent
        for f in setters { f(&s) }
        if let index { s.index = index }
        if let errorPages { s.errorPages = errorPages }
        if let addHeaders { s.addHeaders = addHeaders }
        if let addTrailers { s.addTrailers = addTrailers }
        if let authRequestSet { s.authRequestSet = authRequestSet }
        if let accessRules { s.accessRules = accessRules }
        if let realIPFrom { s.realIPFrom = realIPFrom }
        if let limitConns { s.limitConns = limitConns }
        if let limitReqs { s.limitReq.rules = limitReqs }
        if let errorLogs { s.logs.errorLogs = errorLogs }
        if let types { s.types = MimeTypes(types) }
        if accessLogOff {
            s.accessLogs = []
        } else if let accessLogs {
            s.accessLogs = accessLogs
        }
        s.returnAction = returnAction
        s.rewrites = rewrites
        proxyArrays.apply(to: &s.proxy)
        uwsgiArrays.apply(to: &s.uwsgi)
        fastcgiArrays.apply(to: &s.fastcgi)
        scgiArrays.apply(to: &s.scgi)
        s.pass = pass?.pass
        s.stubStatus = stubStatus
        s.metrics = metrics
        return s
    }
}

final class LocationBuilder {
    let directive: ConfigDirective
    let kind: LocationKind
    /// Path, regex source, or name (without '@').
    let name: String
    let regex: Regex?
    let level = ConfigLevel(.location)
    var children: [LocationBuilder] = []

    init(directive: ConfigDirective, kind: LocationKind, name: String, regex: Regex?) {
        self.directive = directive
        self.kind = kind
        self.name = name
        self.regex = regex
    }

    /// The name as nginx prints it in messages ("/a", "a" for a regex, "@x").
    var displayName: String {
        if case .named = kind { return "@" + name }
        return name
    }

    var written: String {
        switch kind {
        case .exact: "= " + name
        case .prefix: name
        case .prefixNoRegex: "^~ " + name
        case .regex(let caseless): (caseless ? "~* " : "~ ") + name
        case .named: "@" + name
        }
    }
}

final class ServerBuilder {
    let directive: ConfigDirective
    let level = ConfigLevel(.server)
    var names: [String] = []
    var listens: [ListenAddress] = []
    var locations: [LocationBuilder] = []
    init(directive: ConfigDirective) { self.directive = directive }
}

final class ConfigCompiler {
    let prefix: String
    /// Host names, CPUs and user as the machine answers them.
    let environment: any ConfigEnvironment
    var main = MainSettings()
    var mainSeen: Set<String> = []
    var eventsSeen: Set<String> = []
    var sawEvents = false
    var warnings: [String] = []
    /// `-e`: replaces `logs/error.log` as the default error log.
    var defaultErrorLog: String? = nil
    var logFormats: [String: LogFormat] = [:]
    let combined: LogFormat
    /// Names of `(?<name>...)` groups in the configuration's regexes (nginx makes them
    /// variables wherever they are declared).
    var namedCaptures: Set<String> = []
    /// Variables declared so far with `set` or `map`.
    var customVariables: Set<String> = []
    /// `map` blocks by variable name.
    var maps: [String: VariableMap] = [:]
    var splits: [String: SplitClients] = [:]
    /// `geo` blocks by variable name.
    var geos: [String: GeoBlock] = [:]
    /// The variables `geo` blocks declare (known before any block is compiled).
    var geoNames: Set<String> = []
    /// `charset_map` blocks, built into tables once the file is read.
    var charsetMapBlocks: [ConfigDirective] = []
    /// Charsets named by `charset` and `source_charset`.
    var charsetNames: Set<String> = []
    var limitConnZones: [String: LimitConnZoneConfig] = [:]
    /// `limit_conn` lines, checked against the zones once the whole file is read.
    var limitConnUses: [ConfigDirective] = []
    var limitReqZones: [String: LimitReqZoneConfig] = [:]
    /// limit_req zone names in the order first named (definition or use): a rule's index.
    var limitReqZoneNames: [String] = []
    /// `limit_req` lines and their zones, checked once the whole file is read.
    var limitReqUses: [(ConfigDirective, String)] = []
    /// Upstream groups with `resolve` servers, with their own resolver if any.
    var upstreamResolveUses: [(UpstreamGroup, ConfigDirective, ResolverConfig?, Int?)] = []
    var upstreamResolvers: [Int: UpstreamResolve] = [:]
    /// `resolver` / `resolver_timeout` of the http level (for upstream blocks).
    var httpResolver: ResolverConfig? = nil
    var httpResolverTimeout: Int? = nil
    /// Some location has `metrics`.
    var metricsUsed = false
    /// Directives accepted without effect, the first line of each (for `-t`).
    var ignoredLines: [String] = []
    var ignoredSeen: Set<String> = []
    /// `proxy_cache_path` / `uwsgi_cache_path` zones by name, and the `proxy_cache` lines naming them.
    var cachePaths: [String: CachePathConfig] = [:]
    var cacheZoneUses: [(ConfigDirective, String)] = []
    /// The module of a location with uwsgi_cache (fastcgi_cache, scgi_cache) and no
    /// cache key ("uwsgi_", ...: nginx refuses it), if any.
    var cacheKeyMissing: String? = nil
    var http: ConfigLevel? = nil
    var servers: [ServerBuilder] = []
    var listenRegistry = ListenRegistry()
    var accessLogPaths: [String] = []
    /// `upstream` blocks by name, implicit groups by address, and every group in order.
    var upstreamGroups: [String: UpstreamGroup] = [:]
    var implicitGroups: [String: UpstreamGroup] = [:]
    var allUpstreams: [UpstreamGroup] = []
    var pendingPasses: [PendingPass] = []
    /// Some value uses `$sent_http_*` (then each response head is kept for it).
    var usesSentHeaders = false
    var pendingHealthChecks: [PendingHealthCheck] = []
    var matches: [String: HealthMatch] = [:]
    /// Active health checks by upstream group index.
    var healthChecks: [Int: [HealthCheck]] = [:]

    init(prefix: String, environment: any ConfigEnvironment) {
        self.prefix = prefix
        self.environment = environment
        let combinedText =
            "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
            + "\"$http_referer\" \"$http_user_agent\""
        combined = LogFormat(name: "combined", value: try! ComplexValue.parse(combinedText), escape: .default)
        logFormats["combined"] = combined
        main.prefix = prefix
    }

    /// The main configuration file's directory (nginx's conf prefix), "/"-terminated;
    /// nil: the directory of the file that holds the directive.
    var confPrefix: String? = nil

    /// Resolves a path against the prefix (nginx's ngx_conf_full_name with the prefix).
    func fullPath(_ path: String) -> String { ConfigFiles.resolve(path, against: prefix) }

    /// Parses a value with variables; errors name the directive's place (nginx prints
    /// `unknown "x" variable` without a place; swiftginx adds it, deliberately).
    func value(_ text: String, _ d: ConfigDirective) throws(ConfigError) -> ComplexValue {
        let v: ComplexValue
        do {
            v = try ComplexValue.parse(text, namedCaptures: namedCaptures, customNames: customVariables)
        } catch { throw d.error(error.message) }
        for case .variable(.sentHeader) in v.segments { usesSentHeaders = true }
        return v
    }

    // MARK: - Whole configuration

    /// `complete` is false when the tree stops at a parse error: then only the errors
    /// found in what was read are reported, not those that need the whole file.
    func compile(_ tree: [ConfigDirective], sources: [ConfigSource], complete: Bool) throws(ConfigError)
        -> RuntimeConfig
    {
        collectNamedCaptures(tree)
        for d in tree { try mainDirective(d) }
        if complete && !sawEvents { throw ConfigError("no \"events\" section in configuration") }
        try resolvePasses()
        try resolveUpstreamResolvers()
        try resolveHealthChecks()
        try resolveCacheZones()
        for d in limitConnUses where limitConnZones[d.args[0]] == nil {
            // nginx's wording: the zone was only referenced, so it has no size.
            throw ConfigError("zero size shared memory zone \"\(d.args[0])\"")
        }
        for (_, zone) in limitReqUses where limitReqZones[zone] == nil {
            throw ConfigError("zero size shared memory zone \"\(zone)\"")
        }
        if main.pidPath.isEmpty { main.pidPath = fullPath("logs/swiftginx.pid") }
        if environment.isSuperuser && main.user == nil {
            // nginx's built-in default account: nobody, in the group nobody (nogroup
            // on systems such as Debian that have no group of that name).
            let group = environment.groupID("nobody") != nil ? "nobody" : "nogroup"
            main.user = try account("nobody", group: group, at: nil)
        }
        if main.errorLogs.isEmpty {
            main.errorLogs = [ErrorLogTarget(path: defaultErrorLog ?? fullPath("logs/error.log"), level: .error)]
        }
        let groups = try buildListenGroups()
        if let p = cacheKeyMissing { throw ConfigError("no \"\(p)cache_key\" for \"\(p)cache\"") }
        return RuntimeConfig(
            main: main, listenGroups: groups, sources: sources, warnings: warnings,
            locationWarnings: shadowedLocationWarnings(), accessLogPaths: accessLogPaths,
            maps: maps, splits: splits, geos: geos,
            charsetMaps: try CharsetMaps.build(charsetMapBlocks, names: charsetNames),
            limitConnZones: limitConnZones, limitReqZones: limitReqZones,
            limitReqZoneNames: limitReqZoneNames, upstreams: allUpstreams, upstreamResolvers: upstreamResolvers,
            metricsEnabled: metricsUsed, acceptedWithoutEffect: ignoredLines,
            healthChecks: healthChecks,
            usesSentHeaders: usesSentHeaders, cachePaths: cachePaths)
    }

    /// Collects the names of regex groups and of declared variables (`set`, `map`,
    /// `split_clients`, `auth_request_set`) before compiling: as in nginx, a value may
    /// use a variable that a later directive declares (nginx checks the names once the
    /// whole configuration is read).
    private func collectNamedCaptures(_ tree: [ConfigDirective]) {
        for d in tree {
            let declared: String? =
                switch d.name {
                case "map", "split_clients": d.args.count > 1 ? d.args[1] : nil
                case "geo": d.args.last
                case "set", "auth_request_set": d.args.first
                default: nil
                }
            if let declared, declared.hasPrefix("$"), declared.count > 1 {
                let name = String(declared.dropFirst()).lowercased()
                if Variable(name: name) == nil { customVariables.insert(name) }
            }
            if d.name == "location", let (kind, name) = try? locationKind(d), case .regex(let caseless) = kind,
                let re = try? Regex(name, caseless: caseless)
            {
                namedCaptures.formUnion(re.namedGroups.keys)
            }
            if d.name == "server_name" {
                for n in d.args where n.hasPrefix("~") {
                    if let re = try? Regex(String(n.dropFirst()), caseless: true) {
                        namedCaptures.formUnion(re.namedGroups.keys)
                    }
                }
            }
            if d.name == "geo", let declared, declared.hasPrefix("$") {
                geoNames.insert(String(declared.dropFirst()).lowercased())
                continue
            }
            if d.name == "map" {
                // Named groups of map regexes are variables in the map's values.
                for line in d.block ?? [] where line.name.hasPrefix("~") {
                    let caseless = line.name.hasPrefix("~*")
                    if let re = try? Regex(String(line.name.dropFirst(caseless ? 2 : 1)), caseless: caseless) {
                        namedCaptures.formUnion(re.namedGroups.keys)
                    }
                }
                continue
            }
            if let block = d.block { collectNamedCaptures(block) }
        }
    }

    /// nginx's "is duplicate" rule for directives that may be set once per level.
    func checkDuplicate(_ d: ConfigDirective, in seen: inout Set<String>) throws(ConfigError) {
        guard let spec = DirectiveTable.byName[d.name], !spec.repeatable else { return }
        if !seen.insert(d.name).inserted { throw d.directiveError("is duplicate") }
    }

    // MARK: - main and events

    private func mainDirective(_ d: ConfigDirective) throws(ConfigError) {
        try checkDuplicate(d, in: &mainSeen)
        switch d.name {
        case "worker_processes":
            if d.args[0] == "auto" {
                main.workerProcesses = environment.onlineCPUs
            } else {
                guard let n = ConfigValues.number(d.args[0]) else { throw d.directiveError("invalid value") }
                main.workerProcesses = max(1, n)
            }
        case "pid": main.pidPath = fullPath(d.args[0])
        case "error_log": main.errorLogs.append(try errorLog(d))
        case "daemon": main.daemon = try ConfigValues.flag(d)
        case "master_process": main.masterProcess = try ConfigValues.flag(d)
        case "worker_shutdown_timeout": main.workerShutdownTimeout = try ConfigValues.msec(d)
        case "worker_rlimit_nofile": main.workerRlimitNofile = try ConfigValues.num(d)
        case "user": try userDirective(d)
        case "load_module": loadModule(d)
        case "env": main.environment.append(d.args[0])
        case "worker_cpu_affinity": main.cpuAffinity = try cpuAffinity(d)
        case "ssl_object_cache_inheritable": main.sslObjectCacheInheritable = try ConfigValues.flag(d)
        case "events":
            sawEvents = true
            for e in d.block ?? [] { try eventsDirective(e) }
        case "http":
            let level = ConfigLevel(.http)
            http = level
            for h in d.block ?? [] { try httpDirective(h, level: level, server: nil, location: nil) }
        default:
            try genericSlot(d, level: nil)
        }
    }

    /// `user name [group]`, as nginx's ngx_set_user: looked up at once when started as
    /// root (the group defaults to the user's name), otherwise ignored with a warning.
    private func userDirective(_ d: ConfigDirective) throws(ConfigError) {
        guard environment.isSuperuser else {
            let warning =
                "the \"user\" directive makes sense only if the master process runs with super-user privileges, ignored"
            warnings.append(ConfigError(warning, file: d.file, line: d.line).description)
            return
        }
        main.user = try account(d.args[0], group: d.args.count > 1 ? d.args[1] : d.args[0], at: d)
    }

    /// `load_module file.so`: a shared object built for nginx cannot be loaded here. The
    /// line is accepted with a warning that says whether swiftginx has that module built
    /// in; the module's directives are then known (built in) or unknown at their line.
    private func loadModule(_ d: ConfigDirective) {
        var name = Substring(d.args[0].split(separator: "/").last ?? "")
        if name.hasSuffix(".so") { name = name.dropLast(3) }
        let state =
            ConfigCompiler.builtInModules.contains(String(name))
            ? "is built into swiftginx, the line is ignored"
            : "is not available in swiftginx (it cannot load nginx modules), its directives are unknown"
        warnings.append(
            ConfigError("module \"\(name)\" of \"load_module\" \(state)", file: d.file, line: d.line).description)
    }

    /// nginx modules (as their shared objects are named) whose features swiftginx has.
    static let builtInModules: Set<String> = [
        "ngx_http_ssl_module", "ngx_http_realip_module", "ngx_http_stub_status_module",
        "ngx_http_auth_request_module", "ngx_http_gzip_static_module", "ngx_http_brotli_filter_module",
        "ngx_http_brotli_static_module", "ngx_http_zstd_filter_module", "ngx_http_zstd_static_module",
        "ngx_http_upstream_module",
    ]

    /// `worker_cpu_affinity mask ...` (a mask of 0 and 1, the rightmost the first CPU)
    /// or `auto [mask]` (worker N on the Nth CPU of the mask, round and round), as nginx.
    private func cpuAffinity(_ d: ConfigDirective) throws(ConfigError) -> [[Int]] {
        func cpus(_ mask: String) throws(ConfigError) -> [Int] {
            guard mask.count <= 64, !mask.isEmpty else {
                throw d.error("\"worker_cpu_affinity\" supports up to 64 CPUs only")
            }
            var out: [Int] = []
            for (i, c) in mask.reversed().enumerated() {
                switch c {
                case "1": out.append(i)
                case "0": continue
                default: throw d.error("invalid character \"\(c)\" in \"worker_cpu_affinity\"")
                }
            }
            return out
        }
        if d.args[0] == "auto" {
            guard d.args.count <= 2 else { throw d.error("invalid number of arguments in \"worker_cpu_affinity\"") }
            let pool = d.args.count == 2 ? try cpus(d.args[1]) : Array(0..<min(64, environment.onlineCPUs))
            if pool.isEmpty { return [] }
            return (0..<max(1, main.workerProcesses)).map { [pool[$0 % pool.count]] }
        }
        var sets: [[Int]] = []
        for a in d.args { sets.append(try cpus(a)) }
        return sets
    }

    func account(_ name: String, group: String, at d: ConfigDirective?) throws(ConfigError) -> ServingAccount {
        guard let uid = environment.userID(name) else {
            let message = "getpwnam(\"\(name)\") failed"
            throw d.map { $0.error(message) } ?? ConfigError(message)
        }
        guard let gid = environment.groupID(group) else {
            let message = "getgrnam(\"\(group)\") failed"
            throw d.map { $0.error(message) } ?? ConfigError(message)
        }
        return ServingAccount(name: name, uid: uid, gid: gid)
    }

    private func eventsDirective(_ d: ConfigDirective) throws(ConfigError) {
        try checkDuplicate(d, in: &eventsSeen)
        switch d.name {
        case "worker_connections":
            guard let n = ConfigValues.number(d.args[0]) else { throw d.error("invalid number \"\(d.args[0])\"") }
            main.workerConnections = n
        case "use":
            guard ["epoll", "poll", "select"].contains(d.args[0]) else {
                throw d.error("invalid event type \"\(d.args[0])\"")
            }
        case "multi_accept": main.multiAccept = try ConfigValues.flag(d)
        default: try genericSlot(d, level: nil)
        }
    }

    /// `error_log file [level...]`.
    func errorLog(_ d: ConfigDirective) throws(ConfigError) -> ErrorLogTarget {
        var syslog: SyslogTarget? = nil
        // nginx keeps a `memory:` log only in builds with --with-debug, which -V does not claim.
        if d.args[0].hasPrefix("memory:") { throw d.error("nginx was built without debug support") }
        if d.args[0].hasPrefix("syslog:") {
            syslog = try syslogTarget(String(d.args[0].dropFirst(7)), d)
        }
        let path = d.args[0] == "stderr" || syslog != nil ? d.args[0] : fullPath(d.args[0])
        let debugFlags: Set<String> = [
            "debug_core", "debug_alloc", "debug_mutex", "debug_event", "debug_http", "debug_mail", "debug_stream",
        ]
        var level = LogLevel.error
        var levelSet = false
        var flags: Set<String> = []
        for name in d.args.dropFirst() {
            if let l = LogLevel.allCases.first(where: { $0.name == name }) {
                if levelSet { throw d.error("duplicate log level \"\(name)\"") }
                level = l
                levelSet = true
            } else if debugFlags.contains(name) {
                if !flags.insert(name).inserted { throw d.error("duplicate log level \"\(name)\"") }
                level = .debug
            } else {
                throw d.error("invalid log level \"\(name)\"")
            }
        }
        return ErrorLogTarget(path: path, level: level, syslog: syslog)
    }

    /// The generic slots of the directive table (nginx's ngx_conf_set_*_slot).
    func genericSlot(_ d: ConfigDirective, level: ConfigLevel?) throws(ConfigError) {
        guard let spec = DirectiveTable.byName[d.name] else { throw d.error("unknown directive \"\(d.name)\"") }
        switch spec.slot {
        case .locationFlag(let kp):
            let v = try ConfigValues.flag(d)
            level?.setters.append { $0[keyPath: kp] = v }
        case .locationMsec(let kp):
            let v = try ConfigValues.msec(d)
            level?.setters.append { $0[keyPath: kp] = v }
        case .locationSize(let kp):
            let v = try ConfigValues.size(d)
            level?.setters.append { $0[keyPath: kp] = v }
        case .locationNumber(let kp):
            let v = try ConfigValues.num(d)
            level?.setters.append { $0[keyPath: kp] = v }
        case .serverFlag(let kp):
            let v = try ConfigValues.flag(d)
            level?.serverSetters.append { $0[keyPath: kp] = v }
        case .serverMsec(let kp):
            let v = try ConfigValues.msec(d)
            level?.serverSetters.append { $0[keyPath: kp] = v }
        case .serverSize(let kp):
            let v = try ConfigValues.size(d)
            level?.serverSetters.append { $0[keyPath: kp] = v }
        case .ignored(let check):
            if !ignoredSeen.contains(d.name) {
                ignoredSeen.insert(d.name)
                ignoredLines.append("\"\(d.name)\" is accepted without effect in \(d.file):\(d.line)")
            }
            switch check {
            case .none: break
            case .flag: _ = try ConfigValues.flag(d)
            case .size: _ = try ConfigValues.size(d)
            case .time: _ = try ConfigValues.msec(d)
            case .number: _ = try ConfigValues.num(d)
            }
        case .custom:
            throw d.error("unknown directive \"\(d.name)\"")
        }
    }
}
