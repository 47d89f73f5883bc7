// Handlers of the cache directives: `proxy_cache_path` / `uwsgi_cache_path` (http
// level: a zone on disk) and a location's `proxy_cache*` / `uwsgi_cache*`,
// `proxy_no_cache`; their declarations are `DirectiveTable.cacheSpecs`. A zone named by
// `proxy_cache` may be declared later in the file: names are resolved once the whole
// http block is read (`resolveCacheZones`), with nginx's messages.

import SwiftginxRouting

extension DirectiveTable {
    /// The cache directives of one upstream module ("proxy_", "uwsgi_", "fastcgi_", "scgi_").
    static func cacheSpecs(prefix p: String) -> [DirectiveSpec] {
        var specs = [
            DirectiveSpec(p + "cache_path", .http, .twoOrMore, repeatable: true),
            DirectiveSpec(p + "cache", .httpAll, .take([1])),
            DirectiveSpec(p + "cache_key", .httpAll, .take([1])),
            DirectiveSpec(p + "cache_valid", .httpAll, .oneOrMore, repeatable: true),
            DirectiveSpec(p + "cache_min_uses", .httpAll, .take([1])),
            DirectiveSpec(p + "cache_methods", .httpAll, .oneOrMore),
            DirectiveSpec(p + "cache_bypass", .httpAll, .oneOrMore, repeatable: true),
            DirectiveSpec(p + "no_cache", .httpAll, .oneOrMore, repeatable: true),
            DirectiveSpec(p + "cache_use_stale", .httpAll, .oneOrMore),
            DirectiveSpec(p + "cache_lock", .httpAll, .flag),
            DirectiveSpec(p + "cache_lock_timeout", .httpAll, .take([1])),
            DirectiveSpec(p + "cache_lock_age", .httpAll, .take([1])),
            DirectiveSpec(p + "cache_revalidate", .httpAll, .flag),
            DirectiveSpec(p + "cache_background_update", .httpAll, .flag),
            DirectiveSpec(p + "cache_max_range_offset", .httpAll, .take([1])),
            DirectiveSpec(p + "force_ranges", .httpAll, .flag),
            DirectiveSpec(p + "cache_purge", .httpAll, .oneOrMore, repeatable: true),
        ]
        if p == "proxy_" { specs.append(DirectiveSpec("proxy_cache_convert_head", .httpAll, .flag)) }
        return specs
    }
}

/// A level's identity for list directives (a level's first line replaces the parent's list).
private func levelID(_ level: ConfigLevel) -> Int { ObjectIdentifier(level).hashValue | 1 }

extension ConfigCompiler {
    /// Handles `name` (the directive without its module prefix) when it is a cache
    /// directive; false otherwise.
    func cacheDirective(
        _ d: ConfigDirective, name: String, level: ConfigLevel,
        set: (@escaping (inout UpstreamCacheSettings) -> Void) -> Void
    ) throws(ConfigError) -> Bool {
        switch name {
        case "cache_path": try cachePath(d)
        case "cache":
            if d.args[0] == "off" {
                set {
                    $0.zone = nil
                    $0.zoneValue = nil
                    $0.path = nil
                }
            } else if d.args[0].contains("$") {
                let v = try value(d.args[0], d)
                set {
                    $0.zone = nil
                    $0.zoneValue = v
                }
            } else {
                let zone = d.args[0]
                cacheZoneUses.append((d, zone))
                set {
                    $0.zone = zone
                    $0.zoneValue = nil
                }
            }
        case "cache_key":
            let v = try value(d.args[0], d)
            set { $0.key = v }
        case "cache_valid":
            var codes: [Int] = []
            for a in d.args.dropLast() {
                if a == "any" {
                    codes.append(0)
                } else if let n = ConfigValues.number(a), n >= 100 && n <= 599 {
                    codes.append(n)
                } else {
                    throw d.error("invalid status \"\(a)\"")
                }
            }
            if codes.isEmpty { codes = [200, 301, 302] }
            guard let t = ConfigValues.time(d.args[d.args.count - 1], isSeconds: true) else {
                throw d.error("invalid time value \"\(d.args[d.args.count - 1])\"")
            }
            let id = levelID(level)
            let entries = codes.map { CacheValid(status: $0, seconds: t) }
            set {
                if $0.validLevel != id {
                    $0.valid = []
                    $0.validLevel = id
                }
                $0.valid += entries
            }
        case "cache_min_uses":
            let v = try ConfigValues.num(d)
            set { $0.minUses = max(1, v) }
        case "cache_methods":
            var methods: Set<String> = ["GET", "HEAD"]
            for a in d.args {
                let m = a.uppercased()
                let known = [
                    "GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "OPTIONS",
                    "PROPFIND", "PROPPATCH", "LOCK", "UNLOCK", "PATCH", "TRACE",
                ]
                guard known.contains(m) else { throw d.error("invalid value \"\(a)\"") }
                methods.insert(m)
            }
            set { $0.methods = methods }
        case "cache_purge":
            var values: [ComplexValue] = []
            for a in d.args { values.append(try value(a, d)) }
            let id = levelID(level)
            set {
                if $0.purgeLevel != id {
                    $0.purge = []
                    $0.purgeLevel = id
                }
                $0.purge += values
            }
        case "cache_bypass", "no_cache":
            var values: [ComplexValue] = []
            for a in d.args { values.append(try value(a, d)) }
            let id = levelID(level)
            let bypass = name == "cache_bypass"
            set {
                if bypass {
                    if $0.bypassLevel != id {
                        $0.bypass = []
                        $0.bypassLevel = id
                    }
                    $0.bypass += values
                } else {
                    if $0.noCacheLevel != id {
                        $0.noCache = []
                        $0.noCacheLevel = id
                    }
                    $0.noCache += values
                }
            }
        case "cache_use_stale":
            var v: CacheUseStale = []
            for a in d.args {
                if a == "off" {
                    guard d.args.count == 1 else { throw d.error("invalid value \"\(a)\"") }
                    continue
                }
                guard let c = CacheUseStale.byName[a] else { throw d.error("invalid value \"\(a)\"") }
                v.insert(c)
            }
            set { $0.useStale = v }
        case "cache_lock":
            let v = try ConfigValues.flag(d)
            set { $0.lock = v }
        case "cache_lock_timeout":
            let v = try ConfigValues.msec(d)
            set { $0.lockTimeout = v }
        case "cache_lock_age":
            let v = try ConfigValues.msec(d)
            set { $0.lockAge = v }
        case "cache_revalidate":
            let v = try ConfigValues.flag(d)
            set { $0.revalidate = v }
        case "cache_background_update":
            let v = try ConfigValues.flag(d)
            set { $0.backgroundUpdate = v }
        case "force_ranges":
            let v = try ConfigValues.flag(d)
            set { $0.forceRanges = v }
        case "cache_convert_head":
            let v = try ConfigValues.flag(d)
            set { $0.convertHead = v }
        case "cache_max_range_offset":
            guard let v = ConfigValues.size(d.args[0], allowGiga: true) else { throw d.directiveError("invalid value") }
            set { $0.maxRangeOffset = Int64(v) }
        default:
            return false
        }
        return true
    }

    /// `proxy_cache_path path [levels=] [use_temp_path=] keys_zone=name:size [inactive=]
    /// [max_size=] [min_free=] [manager_*=] [loader_*=] [purger*=]`.
    private func cachePath(_ d: ConfigDirective) throws(ConfigError) {
        var c = CachePathConfig(name: "", size: 0, path: fullPath(d.args[0]))
        while c.path.count > 1 && c.path.hasSuffix("/") { c.path.removeLast() }
        c.place = "\(d.file):\(d.line)"
        for a in d.args.dropFirst() {
            guard let eq = a.firstIndex(of: "=") else { throw d.error("invalid parameter \"\(a)\"") }
            let key = String(a[..<eq])
            let v = String(a[a.index(after: eq)...])
            switch key {
            case "levels":
                var levels: [Int] = []
                for part in v.split(separator: ":", omittingEmptySubsequences: false) {
                    guard let n = Int(part), n >= 1 && n <= 2, levels.count < 3 else {
                        throw d.error("invalid \"levels\" \"\(v)\"")
                    }
                    levels.append(n)
                }
                c.levels = levels
            case "use_temp_path":
                switch v {
                case "on": c.useTempPath = true
                case "off": c.useTempPath = false
                default: throw d.error("invalid use_temp_path value \"\(v)\", it must be \"on\" or \"off\"")
                }
            case "keys_zone":
                guard let colon = v.lastIndex(of: ":") else { throw d.error("invalid keys zone size \"\(a)\"") }
                c.name = String(v[..<colon])
                guard let size = ConfigValues.size(String(v[v.index(after: colon)...])), size >= 8192 else {
                    throw d.error("invalid keys zone size \"\(a)\"")
                }
                c.size = size
            case "inactive":
                guard let t = ConfigValues.time(v, isSeconds: true) else {
                    throw d.error("invalid inactive value \"\(a)\"")
                }
                c.inactive = t
            case "max_size", "min_free":
                guard let n = ConfigValues.size(v, allowGiga: true) else {
                    throw d.error("invalid \(key) value \"\(a)\"")
                }
                if key == "max_size" { c.maxSize = Int64(n) } else { c.minFree = Int64(n) }
            case "loader_files", "manager_files":
                guard let n = ConfigValues.number(v), n > 0 else { throw d.error("invalid \(key) value \"\(a)\"") }
                if key == "loader_files" { c.loaderFiles = n } else { c.managerFiles = n }
            case "loader_sleep", "loader_threshold", "manager_sleep", "manager_threshold":
                guard let t = ConfigValues.time(v, isSeconds: false) else {
                    throw d.error("invalid \(key) value \"\(a)\"")
                }
                switch key {
                case "loader_sleep": c.loaderSleep = t
                case "loader_threshold": c.loaderThreshold = t
                case "manager_sleep": c.managerSleep = t
                default: c.managerThreshold = t
                }
            case "purger", "purger_files", "purger_sleep", "purger_threshold":
                // NGINX Plus's purger: purges run at once here (proxy_cache_purge).
                break
            default:
                throw d.error("invalid parameter \"\(a)\"")
            }
        }
        if c.name.isEmpty { throw d.error("\"\(d.name)\" must have \"keys_zone\" parameter") }
        if cachePaths[c.name] != nil { throw d.error("duplicate zone \"\(c.name)\"") }
        if let other = cachePaths.values.first(where: { $0.path == c.path }) {
            throw d.error(
                "cache \"\(c.name)\" uses the \"\(c.path)\" cache path while previously it used by \"\(other.name)\"")
        }
        cachePaths[c.name] = c
    }

    /// uwsgi, FastCGI and SCGI have no default cache key: a location that caches must
    /// name one (nginx).
    func noteCacheKey(_ s: LocationSettings) {
        guard let proto = s.pass?.proto, cacheKeyMissing == nil else { return }
        let c: UpstreamCacheSettings
        switch proto {
        case .http: return
        case .uwsgi: c = s.uwsgi.cache
        case .fastcgi: c = s.fastcgi.cache
        case .scgi: c = s.scgi.cache
        }
        if c.enabled && c.key == nil { cacheKeyMissing = proto.directivePrefix }
    }

    /// Checks every `proxy_cache` zone name once the whole configuration is read.
    func resolveCacheZones() throws(ConfigError) {
        for (d, zone) in cacheZoneUses where cachePaths[zone] == nil {
            throw d.error("\"\(d.name)\" zone \"\(zone)\" is unknown")
        }
    }
}
