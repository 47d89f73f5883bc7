// Handlers of the http, server and location directives that need more than a generic
// slot: locations and their nesting rules, root/alias, index, return, error_page,
// add_header, expires, types, access_log/log_format and the open file cache. Messages
// are nginx's, each at the directive's file:line.

import SwiftginxRouting

extension ConfigCompiler {
    func httpDirective(
        _ d: ConfigDirective, level: ConfigLevel, server: ServerBuilder?, location: LocationBuilder?
    ) throws(ConfigError) {
        try checkDuplicate(d, in: &level.seen)
        switch d.name {
        case "server":
            let s = ServerBuilder(directive: d)
            servers.append(s)
            for c in d.block ?? [] { try httpDirective(c, level: s.level, server: s, location: nil) }
            if s.listens.isEmpty {
                // nginx: `listen *:80` when run as root, else `*:8000`.
                let port = environment.isSuperuser ? 80 : 8000
                try addListen(
                    ListenAddress(host: "0.0.0.0", port: port), options: ListenOptions(),
                    optionsSet: false, isDefault: false, server: s, directive: d)
            }
        case "location":
            guard let server else { throw d.directiveError("is not allowed here") }
            try addLocation(d, server: server, parent: location)
        case "types": try types(d, level: level)
        case "listen":
            guard let server else { throw d.directiveError("is not allowed here") }
            try listen(d, server: server)
        case "server_name":
            guard let server else { throw d.directiveError("is not allowed here") }
            try serverName(d, server: server)
        case "root", "alias": try root(d, level: level, location: location)
        case "index": try index(d, level: level)
        case "early_hints":
            var values: [ComplexValue] = []
            for a in d.args { values.append(try value(a, d)) }
            level.setters.append { $0.earlyHints = values }
        case "return": try returnDirective(d, level: level)
        case "error_page": try errorPage(d, level: level)
        case "add_header":
            if d.args.count == 3 && d.args[2] != "always" { throw d.error("invalid parameter \"\(d.args[2])\"") }
            let header = AddHeader(name: d.args[0], value: try value(d.args[1], d), always: d.args.count == 3)
            level.addHeaders = (level.addHeaders ?? []) + [header]
        case "expires": try expires(d, level: level)
        case "internal": level.setters.append { $0.isInternal = true }
        case "default_type":
            let type = d.args[0]
            level.setters.append { $0.defaultType = type }
        case "keepalive_timeout":
            let timeout = try ConfigValues.msec(d)
            let header = d.args.count == 2 ? try ConfigValues.sec(d, 1) : nil
            level.setters.append {
                $0.keepaliveTimeout = timeout
                $0.keepaliveHeaderTimeout = header
            }
        case "client_max_body_size":
            let size = Int64(try ConfigValues.size(d, allowGiga: true))
            level.setters.append { $0.clientMaxBodySize = size }
        case "large_client_header_buffers":
            guard let count = ConfigValues.number(d.args[0]), count > 0,
                let size = ConfigValues.size(d.args[1]), size > 0
            else { throw d.directiveError("invalid value") }
            level.serverSetters.append { $0.largeClientHeaderBuffers = (count, size) }
        case "server_tokens":
            let v = try ConfigValues.choice(d, ["on": ServerTokens.on, "off": .off, "build": .build])
            level.setters.append { $0.serverTokens = v }
        case "lingering_close":
            let v = try ConfigValues.choice(d, ["off": LingeringClose.off, "on": .on, "always": .always])
            level.setters.append { $0.lingeringClose = v }
        case "if_modified_since":
            let v = try ConfigValues.choice(d, ["off": IfModifiedSince.off, "exact": .exact, "before": .before])
            level.setters.append { $0.ifModifiedSince = v }
        case "max_ranges":
            let v = try ConfigValues.num(d)
            level.setters.append { $0.maxRanges = v }
        case "open_file_cache": try openFileCache(d, level: level)
        case "open_file_cache_valid":
            let v = try ConfigValues.sec(d)
            level.setters.append { $0.openFileCache.valid = v }
        case "open_file_cache_errors":
            let v = try ConfigValues.flag(d)
            level.setters.append { $0.openFileCache.errors = v }
        case "open_file_cache_min_uses":
            let v = try ConfigValues.num(d)
            level.setters.append { $0.openFileCache.minUses = v }
        case "try_files": try tryFiles(d, level: level)
        case "rewrite":
            let regex: Regex
            do { regex = try Regex(d.args[0]) } catch { throw d.error(error.message) }
            for name in regex.namedGroups.keys { namedCaptures.insert(name) }
            var flag = RewriteFlag.none
            if d.args.count == 3 {
                switch d.args[2] {
                case "last": flag = .last
                case "break": flag = .breakFlag
                case "redirect": flag = .redirect
                case "permanent": flag = .permanent
                default: throw d.error("invalid parameter \"\(d.args[2])\"")
                }
            }
            level.rewrites.append(.rewrite(regex, replacement: try value(d.args[1], d), flag: flag))
        case "set":
            let target = d.args[0]
            guard target.hasPrefix("$"), target.count > 1 else { throw d.error("invalid variable name \"\(target)\"") }
            let name = String(target.dropFirst()).lowercased()
            if Variable(name: name) != nil && !Variable.changeable.contains(name) && name != "limit_rate" {
                throw d.error("the duplicate \"\(name)\" variable")
            }
            if Variable(name: name) == nil { customVariables.insert(name) }
            level.rewrites.append(.set(name: name, value: try value(d.args[1], d)))
        case "break":
            level.rewrites.append(.breakProcessing)
        case "if":
            level.rewrites.append(try ifBlock(d, parent: level))
        case "autoindex_format":
            let v = try ConfigValues.choice(
                d, ["html": AutoindexFormat.html, "json": .json, "xml": .xml, "jsonp": .jsonp])
            level.setters.append { $0.autoindexFormat = v }
        case "gzip_static", "brotli_static", "zstd_static":
            let v = try ConfigValues.choice(d, ["off": StaticCompression.off, "on": .on, "always": .always])
            switch d.name {
            case "gzip_static": level.setters.append { $0.gzipStatic = v }
            case "brotli_static": level.setters.append { $0.brotliStatic = v }
            default: level.setters.append { $0.zstdStatic = v }
            }
        case "gzip", "brotli", "zstd":
            let on = try ConfigValues.flag(d)
            let key = Self.compressionKey(d.name)
            level.setters.append { $0[keyPath: key].enabled = on }
        case "gzip_types", "brotli_types", "zstd_types":
            let key = Self.compressionKey(String(d.name.prefix { $0 != "_" }))
            var types = Set(d.args)
            types.insert("text/html")
            let final = d.args.contains("*") ? Set(["*"]) : types
            level.setters.append { $0[keyPath: key].types = final }
        case "gzip_comp_level", "brotli_comp_level", "zstd_comp_level":
            let key = Self.compressionKey(String(d.name.prefix { $0 != "_" }))
            let range = d.name.hasPrefix("gzip") ? 1...9 : d.name.hasPrefix("brotli") ? 0...11 : 1...19
            guard let v = ConfigValues.number(d.args[0]), range.contains(v) else {
                throw d.error("value must be between \(range.lowerBound) and \(range.upperBound)")
            }
            level.setters.append { $0[keyPath: key].level = v }
        case "gzip_min_length", "brotli_min_length", "zstd_min_length":
            let key = Self.compressionKey(String(d.name.prefix { $0 != "_" }))
            let v = try ConfigValues.size(d)
            level.setters.append { $0[keyPath: key].minLength = v }
        case "gzip_http_version":
            let v = try ConfigValues.choice(d, ["1.0": false, "1.1": true])
            level.setters.append { $0.gzipHTTPVersion11 = v }
        case "gzip_proxied":
            let allowed: Set<String> = [
                "off", "expired", "no-cache", "no-store", "private", "no_last_modified", "no_etag", "auth", "any",
            ]
            for a in d.args where !allowed.contains(a) { throw d.error("invalid value \"\(a)\"") }
            let v = Set(d.args)
            level.setters.append { $0.gzipProxied = v }
        case "gzip_disable":
            var regexes: [Regex] = []
            var msie6 = false
            for a in d.args {
                if a == "msie6" {
                    msie6 = true
                    continue
                }
                do { regexes.append(try Regex(a, caseless: true)) } catch { throw d.error(error.message) }
            }
            let r = regexes
            let m = msie6
            level.setters.append {
                $0.gzipDisable = r
                $0.gzipDisableMSIE6 = m
            }
        case "charset":
            // A name, or a value with variables decided per request.
            let v: String? = d.args[0] == "off" ? nil : d.args[0]
            let variable = d.args[0].contains("$") ? try value(d.args[0], d) : nil
            if let v, variable == nil { charsetNames.insert(v) }
            level.setters.append {
                $0.charset = v
                $0.charsetVariable = variable
            }
        case "source_charset":
            let v: String? = d.args[0] == "off" ? nil : d.args[0]
            if let v { charsetNames.insert(v) }
            level.setters.append { $0.sourceCharset = v }
        case "override_charset":
            let on = try ConfigValues.flag(d)
            level.setters.append { $0.overrideCharset = on }
        case "charset_map": charsetMapBlocks.append(d)
        case "disable_symlinks":
            let mode = try ConfigValues.choice(
                d, ["off": DisableSymlinks.off, "on": .on, "if_not_owner": .ifNotOwner])
            var from: ComplexValue? = nil
            if d.args.count == 2 {
                guard d.args[1].hasPrefix("from="), mode != .off else {
                    throw d.error("invalid parameter \"\(d.args[1])\"")
                }
                from = try value(String(d.args[1].dropFirst(5)), d)
            }
            let f = from
            level.setters.append {
                $0.disableSymlinks = mode
                $0.disableSymlinksFrom = f
            }
        case "charset_types":
            let types: Set<String> = d.args == ["*"] ? ["*"] : Set(d.args)
            level.setters.append { $0.charsetTypes = types }
        case "map": try mapBlock(d)
        case "split_clients": try splitClients(d)
        case "geo": try geoBlock(d)
        case "upstream": try upstreamBlock(d)
        case "match": try matchBlock(d)
        case "health_check": try healthCheckDirective(d, level: level)
        case "upstream_status":
            level.setters.append { $0.upstreamStatus = true }
            // Its server zones come from the request counters.
            metricsUsed = true
        default:
            if try connectionDirective(d, level: level) { break }
            if try accessDirective(d, level: level) { break }
            if try requestDirective(d, level: level) { break }
            if try limitReqDirective(d, level: level) { break }
            if try resolverDirective(d, level: level) { break }
            if try logDirective(d, level: level) { break }
            if try sendRateDirective(d, level: level) { break }
            if try proxyDirective(d, level: level, location: location) { break }
            if try trailerDirective(d, level: level) { break }
            if try sslDirective(d, level: level) { break }
            if try http2Directive(d, level: level) { break }
            if try ssiDirective(d, level: level) { break }
            try genericSlot(d, level: level)
        }
    }

    // MARK: - location

    /// The kind and name of a `location` (modifier as a separate word or attached).
    func locationKind(_ d: ConfigDirective) throws(ConfigError) -> (LocationKind, String) {
        if d.args.count == 2 {
            let name = d.args[1]
            switch d.args[0] {
            case "=": return (.exact, name)
            case "~": return (.regex(caseless: false), name)
            case "~*": return (.regex(caseless: true), name)
            case "^~": return (.prefixNoRegex, name)
            default: throw d.error("invalid location modifier \"\(d.args[0])\"")
            }
        }
        let arg = d.args[0]
        if arg.hasPrefix("=") { return (.exact, String(arg.dropFirst())) }
        if arg.hasPrefix("~*") { return (.regex(caseless: true), String(arg.dropFirst(2))) }
        if arg.hasPrefix("~") { return (.regex(caseless: false), String(arg.dropFirst())) }
        if arg.hasPrefix("^~") { return (.prefixNoRegex, String(arg.dropFirst(2))) }
        if arg.hasPrefix("@") { return (.named, String(arg.dropFirst())) }
        return (.prefix, arg)
    }

    private func addLocation(_ d: ConfigDirective, server: ServerBuilder, parent: LocationBuilder?)
        throws(ConfigError)
    {
        let (kind, name) = try locationKind(d)
        var regex: Regex? = nil
        if case .regex(let caseless) = kind {
            do { regex = try Regex(name, caseless: caseless) } catch { throw d.error(error.message) }
        }
        let loc = LocationBuilder(directive: d, kind: kind, name: name, regex: regex)
        if let parent {
            if case .exact = parent.kind {
                throw d.error(
                    "location \"\(loc.displayName)\" cannot be inside the exact location \"\(parent.displayName)\"")
            }
            if case .named = parent.kind {
                throw d.error(
                    "location \"\(loc.displayName)\" cannot be inside the named location \"\(parent.displayName)\"")
            }
            if case .named = kind {
                throw d.error("named location \"\(loc.displayName)\" can be on the server level only")
            }
            if regex == nil && !name.hasPrefix(parent.name) {
                throw d.error("location \"\(loc.displayName)\" is outside location \"\(parent.displayName)\"")
            }
        }
        let siblings = parent?.children ?? server.locations
        if siblings.contains(where: { Self.sameSlot($0, loc) }) {
            throw d.error("duplicate location \"\(loc.displayName)\"")
        }
        if let parent { parent.children.append(loc) } else { server.locations.append(loc) }
        for c in d.block ?? [] { try httpDirective(c, level: loc.level, server: server, location: loc) }
    }

    /// Two locations nginx would call duplicates: same name, both exact or both prefix
    /// (plain or ^~). (nginx accepts a repeated named location; the first one is used.)
    private static func sameSlot(_ a: LocationBuilder, _ b: LocationBuilder) -> Bool {
        guard a.name == b.name else { return false }
        switch (a.kind, b.kind) {
        case (.exact, .exact): return true
        case (.prefix, .prefix), (.prefix, .prefixNoRegex), (.prefixNoRegex, .prefix),
            (.prefixNoRegex, .prefixNoRegex):
            return true
        default: return false
        }
    }

    // MARK: - root, alias, index

    private func root(_ d: ConfigDirective, level: ConfigLevel, location: LocationBuilder?) throws(ConfigError) {
        let isAlias = d.name == "alias"
        if let previous = level.rootDirective, previous != d.name {
            throw d.error("\"\(d.name)\" directive is duplicate, \"\(previous)\" directive was specified earlier")
        }
        level.rootDirective = d.name
        var text = d.args[0]
        for v in ["document_root", "realpath_root"] where text.contains("$" + v) {
            throw d.error("the $\(v) variable cannot be used in the \"\(d.name)\" directive")
        }
        if !isAlias && text.hasSuffix("/") { text.removeLast() }
        if !text.isEmpty && !text.hasPrefix("/") && !text.hasPrefix("$") { text = fullPath(text) }
        let v = try value(text, d)
        if isAlias {
            var prefixLength: Int? = nil
            if let location {
                switch location.kind {
                case .exact, .prefix, .prefixNoRegex: prefixLength = location.name.utf8.count
                default: break
                }
            }
            level.setters.append {
                $0.alias = v
                $0.aliasPrefixLength = prefixLength
            }
        } else {
            level.setters.append {
                $0.root = v
                $0.alias = nil
            }
        }
    }

    private func index(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var list = level.index ?? []
        for (i, name) in d.args.enumerated() {
            if name.isEmpty { throw d.error("index \"\" in \"index\" directive is invalid") }
            if name.hasPrefix("/") && i != d.args.count - 1 {
                warnings.append(
                    ConfigError(
                        "only the last index in \"index\" directive should be absolute", file: d.file,
                        line: d.line
                    ).description)
            }
            list.append(try value(name, d))
        }
        level.index = list
    }

    static func compressionKey(_ name: String) -> WritableKeyPath<LocationSettings, DynamicCompression> {
        switch name {
        case "gzip": \.gzip
        case "brotli": \.brotli
        default: \.zstd
        }
    }

    /// `if (condition) { ... }`: nginx's condition syntax; the block may hold rewrite,
    /// return, set and break (other directives inside `if` are not supported yet).
    private func ifBlock(_ d: ConfigDirective, parent: ConfigLevel) throws(ConfigError) -> RewriteStep {
        var args = d.args
        guard args.first?.hasPrefix("(") == true, args.last?.hasSuffix(")") == true else {
            throw d.error("invalid condition \"\(d.args.joined(separator: " "))\"")
        }
        args[0].removeFirst()
        args[args.count - 1].removeLast()
        args = args.filter { !$0.isEmpty }
        let condition: IfCondition
        switch args.count {
        case 1:
            guard args[0].hasPrefix("$") else { throw d.error("invalid condition \"\(args[0])\"") }
            condition = .value(try value(args[0], d))
        case 2:
            let tests: [String: (FileTest, Bool)] = [
                "-f": (.file, false), "!-f": (.file, true), "-d": (.directory, false), "!-d": (.directory, true),
                "-e": (.exists, false), "!-e": (.exists, true), "-x": (.executable, false), "!-x": (.executable, true),
            ]
            guard let (test, negated) = tests[args[0]] else { throw d.error("invalid condition \"\(args[0])\"") }
            condition = .file(try value(args[1], d), test: test, negated: negated)
        case 3:
            let subject = try value(args[0], d)
            switch args[1] {
            case "=", "!=":
                condition = .equals(subject, try value(args[2], d), negated: args[1] == "!=")
            case "~", "~*", "!~", "!~*":
                let regex: Regex
                do { regex = try Regex(args[2], caseless: args[1].hasSuffix("*")) } catch {
                    throw d.error(error.message)
                }
                for name in regex.namedGroups.keys { namedCaptures.insert(name) }
                condition = .matches(subject, regex, negated: args[1].hasPrefix("!"))
            default:
                throw d.error("unexpected \"\(args[1])\" in condition")
            }
        default:
            throw d.error("invalid condition \"\(d.args.joined(separator: " "))\"")
        }
        let inner = ConfigLevel(.location)
        var hasOthers = false
        for c in d.block ?? [] {
            switch c.name {
            case "rewrite", "return", "set", "break":
                try httpDirective(c, level: inner, server: nil, location: nil)
            default:
                // In a server block only the rewrite module's directives may be inside if.
                guard parent.kind == .location else { throw c.directiveError("is not allowed here") }
                if c.name == "proxy_pass", !c.args.isEmpty, !c.args[0].contains("$"),
                    (try? parseTarget(c.args[0], c, proto: .http))?.uri != nil
                {
                    throw c.error(
                        "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
                            + "named location, or inside \"if\" statement, or inside \"limit_except\" block")
                }
                try httpDirective(c, level: inner, server: nil, location: nil)
                hasOthers = true
            }
        }
        guard hasOthers else { return .ifBlock(condition, inner.rewrites, nil) }
        let box = IfLocation()
        parent.ifLevels.append((inner, box))
        return .ifBlock(condition, inner.rewrites, box)
    }

    /// `try_files file ... uri | =code | @name`.
    private func tryFiles(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var candidates: [ComplexValue] = []
        for a in d.args.dropLast() { candidates.append(try value(a, d)) }
        let last = d.args[d.args.count - 1]
        let fallback: TryFilesFallback
        if last.hasPrefix("=") {
            guard let code = Int(last.dropFirst()), code >= 0, code <= 999 else {
                throw d.error("invalid code \"\(last)\"")
            }
            fallback = .code(code)
        } else if last.hasPrefix("@") {
            fallback = .named(String(last.dropFirst()))
        } else {
            fallback = .uri(try value(last, d))
        }
        let t = TryFiles(candidates: candidates, fallback: fallback)
        level.setters.append { $0.tryFiles = t }
    }

    // MARK: - return, error_page, expires

    private func returnDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        let first = d.args[0]
        let action: ReturnAction
        if d.args.count == 1
            && (first.hasPrefix("http://") || first.hasPrefix("https://") || first.hasPrefix("$scheme"))
        {
            action = ReturnAction(code: 302, text: try value(first, d))
        } else {
            guard let code = ConfigValues.number(first), code <= 999 else {
                throw d.error("invalid return code \"\(first)\"")
            }
            action = ReturnAction(code: code, text: d.args.count == 2 ? try value(d.args[1], d) : nil)
        }
        // The first `return` of a level is the one the explainer reports; all run in order.
        if level.returnAction == nil { level.returnAction = action }
        level.rewrites.append(.returnAction(action))
    }

    private func errorPage(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        let a = d.args
        var codesEnd = a.count - 1
        var overrideStatus: Int? = nil
        var useTarget = false
        if a[a.count - 2].hasPrefix("=") {
            codesEnd = a.count - 2
            let spec = a[a.count - 2]
            if spec.count > 1 {
                guard let code = ConfigValues.number(String(spec.dropFirst())) else {
                    throw d.error("invalid value \"\(spec)\"")
                }
                overrideStatus = code
            } else {
                useTarget = true
            }
        }
        let uri = try value(a[a.count - 1], d)
        var pages = level.errorPages ?? [:]
        for text in a[0..<codesEnd] {
            guard let code = ConfigValues.number(text) else { throw d.error("invalid value \"\(text)\"") }
            guard (300...599).contains(code) else { throw d.error("value \"\(text)\" must be between 300 and 599") }
            if pages[code] == nil {
                pages[code] = ErrorPage(uri: uri, overrideStatus: overrideStatus, useTargetStatus: useTarget)
            }
        }
        level.errorPages = pages
    }

    private func expires(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var modified = false
        var text = d.args[0]
        if d.args.count == 2 {
            guard d.args[0] == "modified" else { throw d.directiveError("invalid value") }
            modified = true
            text = d.args[1]
        }
        let result: Expires
        if text.contains("$") {
            result = .variable(try value(text, d), modified: modified)
        } else {
            switch Expires.parse(text, modified: modified) {
            case .success(let e): result = e
            case .failure(let e): throw d.directiveError(e.message)
            }
        }
        level.setters.append { $0.expires = result }
    }

    // MARK: - types

    private func types(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var map = level.types ?? [:]
        for line in d.block ?? [] {
            let type = line.name
            for ext in line.args {
                let key = ext.lowercased()
                if let previous = map[key] {
                    warnings.append(
                        ConfigError(
                            "duplicate extension \"\(key)\", content type: \"\(type)\", "
                                + "previous content type: \"\(previous)\"", file: line.file, line: line.line
                        ).description)
                }
                map[key] = type
            }
        }
        level.types = map
    }

    // MARK: - logs and caches

    private func openFileCache(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var max: Int? = nil
        var inactive = 60
        var off = false
        for p in d.args {
            if p.hasPrefix("max=") {
                guard let n = ConfigValues.number(String(p.dropFirst(4))), n > 0 else {
                    throw d.error("invalid \"open_file_cache\" parameter \"\(p)\"")
                }
                max = n
            } else if p.hasPrefix("inactive=") {
                guard let t = ConfigValues.time(String(p.dropFirst(9)), isSeconds: true) else {
                    throw d.error("invalid \"open_file_cache\" parameter \"\(p)\"")
                }
                inactive = t
            } else if p == "off" {
                off = true
            } else {
                throw d.error("invalid \"open_file_cache\" parameter \"\(p)\"")
            }
        }
        if off {
            level.setters.append { $0.openFileCache.max = 0 }
            return
        }
        guard let max else { throw d.error("\"open_file_cache\" must have the \"max\" parameter") }
        level.setters.append {
            $0.openFileCache.max = max
            $0.openFileCache.inactive = inactive
        }
    }
}
