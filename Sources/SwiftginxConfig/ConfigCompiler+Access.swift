// The access and traffic-control modules' directives (nginx's access, auth_basic,
// auth_request, realip, limit_conn and stub_status modules, and limit_except): parsed
// into a level's settings as the rest of the http context is (ConfigCompiler+HTTP.swift),
// kept here so that each module's directives stand together.

import SwiftginxRouting

extension ConfigCompiler {
    /// Handles `d` if it belongs to one of these modules; false otherwise.
    func accessDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "limit_except":
            try limitExcept(d, level: level)
        case "allow", "deny":
            var warning: String? = nil
            guard let rule = AccessRule.parse(d.args[0], allow: d.name == "allow", warning: &warning) else {
                throw d.error("invalid parameter \"\(d.args[0])\"")
            }
            if let warning { warnings.append(ConfigError(warning, file: d.file, line: d.line).description) }
            level.accessRules = (level.accessRules ?? []) + [rule]
        case "set_real_ip_from":
            var warning: String? = nil
            var rules: [AccessRule] = []
            if let rule = AccessRule.parse(d.args[0], allow: true, warning: &warning) {
                rules = [rule]
            } else {
                // A host name: every address it resolves to, as nginx does.
                guard let addresses = environment.resolve(d.args[0]), !addresses.isEmpty else {
                    throw d.error("host not found in set_real_ip_from \"\(d.args[0])\"")
                }
                rules = addresses.compactMap { AccessRule.parse($0, allow: true, warning: &warning) }
            }
            if let warning { warnings.append(ConfigError(warning, file: d.file, line: d.line).description) }
            level.realIPFrom = (level.realIPFrom ?? []) + rules
        case "real_ip_header":
            let header: RealIPHeader
            switch d.args[0].lowercased() {
            case "x-real-ip": header = .xRealIP
            case "x-forwarded-for": header = .xForwardedFor
            case "proxy_protocol": header = .proxyProtocol
            default: header = .field(Array(d.args[0].lowercased().utf8))
            }
            level.setters.append { $0.realIPHeader = header }
        case "real_ip_recursive":
            let on = try ConfigValues.choice(d, ["on": true, "off": false])
            level.setters.append { $0.realIPRecursive = on }
        case "limit_conn_zone":
            guard let zoneArg = d.args.dropFirst().first(where: { $0.hasPrefix("zone=") }) else {
                throw d.error("no zone in \"limit_conn_zone\"")
            }
            let spec = zoneArg.dropFirst("zone=".count)
            guard let colon = spec.lastIndex(of: ":"), colon != spec.startIndex else {
                throw d.error("invalid zone size \"\(zoneArg)\"")
            }
            let name = String(spec[..<colon])
            guard let size = ConfigValues.size(String(spec[spec.index(after: colon)...])), size >= 8192 else {
                throw d.error("zone \"\(name)\" is too small")
            }
            for extra in d.args.dropFirst() where !extra.hasPrefix("zone=") {
                throw d.error("invalid parameter \"\(extra)\"")
            }
            if limitConnZones[name] != nil { throw d.error("duplicate zone \"\(name)\"") }
            limitConnZones[name] = LimitConnZoneConfig(name: name, key: try value(d.args[0], d), size: size)
        case "limit_conn":
            guard let n = Int(d.args[1]), n > 0 else {
                throw d.error("invalid number of connections \"\(d.args[1])\"")
            }
            limitConnUses.append(d)
            level.limitConns = (level.limitConns ?? []) + [LimitConnRule(zone: d.args[0], number: n)]
        case "limit_conn_status":
            guard let code = Int(d.args[0]), code >= 400 && code <= 599 else {
                throw d.error("value must be between 400 and 599")
            }
            level.setters.append { $0.limitConnStatus = code }
        case "limit_conn_log_level":
            let lvl = try ConfigValues.choice(
                d, ["info": LogLevel.info, "notice": .notice, "warn": .warn, "error": .error])
            level.setters.append { $0.limitConnLogLevel = lvl }
        case "limit_conn_dry_run":
            let on = try ConfigValues.choice(d, ["on": true, "off": false])
            level.setters.append { $0.limitConnDryRun = on }
        case "satisfy":
            let any = try ConfigValues.choice(d, ["all": false, "any": true])
            level.setters.append { $0.satisfyAny = any }
        case "auth_basic":
            // A literal "off" is off here; with variables it is decided per request.
            let realm = d.args[0] == "off" ? nil : try value(d.args[0], d)
            level.setters.append { $0.authBasic = realm }
        case "auth_basic_user_file":
            // Relative to the main configuration file's directory (nginx's conf prefix),
            // unless it starts with a variable (nginx then resolves it per request).
            let text = d.args[0]
            let dir = confPrefix ?? ConfigFiles.directory(of: d.file)
            let file = try value(text.hasPrefix("$") ? text : ConfigFiles.resolve(text, against: dir), d)
            let base = Array((dir.hasSuffix("/") ? dir : dir + "/").utf8)
            level.setters.append {
                $0.authBasicUserFile = file
                $0.authBasicUserFileBase = base
            }
        // nginx ignores the argument of the pre-1.7.5 form (`stub_status on;`).
        case "stub_status": level.stubStatus = true
        case "metrics":
            level.metrics = true
            metricsUsed = true
        case "auth_request":
            let uri = d.args[0] == "off" ? nil : try value(d.args[0], d)
            level.setters.append { $0.authRequest = uri }
        case "auth_request_set":
            let target = d.args[0]
            guard target.hasPrefix("$"), target.count > 1 else { throw d.error("invalid variable name \"\(target)\"") }
            let name = String(target.dropFirst()).lowercased()
            if Variable(name: name) != nil && !Variable.changeable.contains(name) {
                throw d.error("the duplicate \"\(name)\" variable")
            }
            if Variable(name: name) == nil { customVariables.insert(name) }
            let set = AuthRequestSet(name: name, value: try value(d.args[1], d))
            level.authRequestSet = (level.authRequestSet ?? []) + [set]
        default:
            return false
        }
        return true
    }

    /// nginx's methods for `limit_except` (GET allows HEAD too).
    static let limitableMethods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "MKCOL", "COPY", "MOVE", "OPTIONS", "PROPFIND", "PROPPATCH",
        "LOCK", "UNLOCK", "PATCH",
    ]

    /// `limit_except METHOD ... { ... }`: the block's directives (access, auth_basic,
    /// access_log) apply to requests whose method is not listed.
    private func limitExcept(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var methods: Set<String> = []
        for m in d.args {
            guard Self.limitableMethods.contains(m) else { throw d.error("invalid method \"\(m)\"") }
            methods.insert(m)
        }
        if methods.contains("GET") { methods.insert("HEAD") }
        let inner = ConfigLevel(.location)
        for c in d.block ?? [] {
            if c.name == "proxy_pass", !c.args.isEmpty, !c.args[0].contains("$"),
                (try? parseTarget(c.args[0], c, proto: .http))?.uri != nil
            {
                throw c.error(
                    "\"proxy_pass\" cannot have URI part in location given by regular expression, or inside "
                        + "named location, or inside \"if\" statement, or inside \"limit_except\" block")
            }
            try httpDirective(c, level: inner, server: nil, location: nil)
        }
        level.limitExcept = (methods, inner)
    }
}
