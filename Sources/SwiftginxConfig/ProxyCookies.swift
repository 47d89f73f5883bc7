// The Set-Cookie rewriting rules of the proxy module — `proxy_cookie_domain`,
// `proxy_cookie_path` and `proxy_cookie_flags` — as compiled values, and their
// directive handlers. nginx's rules: a domain pattern matches the whole Domain value
// case-insensitively, a leading dot skipped (and dropped from the pattern and the
// replacement as written); a path pattern is a case-sensitive prefix; a `~` pattern is
// a regex over the whole value (`~` caseless for domains, `~*` caseless for paths),
// its captures usable in the replacement. `proxy_cookie_flags` names a cookie (text
// with variables compared caselessly, or a caseless `~` regex) and its flags
// (`secure`, `httponly`, `samesite=strict|lax|none` and their `no...` forms).

import SwiftginxRouting

/// One `proxy_cookie_domain` or `proxy_cookie_path` rule.
public struct CookieRewrite: Sendable {
    public enum Pattern: Sendable {
        /// A domain matched whole (caseless), or a path matched as a prefix.
        case text(ComplexValue)
        case regex(Regex)
    }
    public let pattern: Pattern
    public let replacement: ComplexValue
}

/// One `proxy_cookie_flags` rule.
public struct CookieFlagRule: Sendable {
    public enum Cookie: Sendable {
        case name(ComplexValue)
        case regex(Regex)
    }
    public let cookie: Cookie
    /// The flags as written (each may hold variables; evaluated per response).
    public let flags: [ComplexValue]
}

/// What a `proxy_cookie_flags` rule asks for, after evaluation.
public struct CookieFlags: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let secure = CookieFlags(rawValue: 1 << 0)
    public static let noSecure = CookieFlags(rawValue: 1 << 1)
    public static let httpOnly = CookieFlags(rawValue: 1 << 2)
    public static let noHttpOnly = CookieFlags(rawValue: 1 << 3)
    public static let sameSiteStrict = CookieFlags(rawValue: 1 << 4)
    public static let sameSiteLax = CookieFlags(rawValue: 1 << 5)
    public static let sameSiteNone = CookieFlags(rawValue: 1 << 6)
    public static let noSameSite = CookieFlags(rawValue: 1 << 7)

    /// The flag a (lowercased) word names, as nginx spells them.
    public static func named(_ lowercased: String) -> CookieFlags? {
        switch lowercased {
        case "secure": .secure
        case "nosecure": .noSecure
        case "httponly": .httpOnly
        case "nohttponly": .noHttpOnly
        case "samesite=strict": .sameSiteStrict
        case "samesite=lax": .sameSiteLax
        case "samesite=none": .sameSiteNone
        case "nosamesite": .noSameSite
        default: nil
        }
    }
}

/// `proxy_cookie_*` of one level while it is read: nil = not set here (inherited),
/// an empty list = `off`.
struct CookieLevelRules {
    var domains: [CookieRewrite]? = nil
    var paths: [CookieRewrite]? = nil
    var flags: [CookieFlagRule]? = nil
    /// `off` was written for domains / paths / flags (a rule after it is a duplicate).
    var off: (domains: Bool, paths: Bool, flags: Bool) = (false, false, false)
}

extension ConfigCompiler {
    /// `proxy_cookie_domain`, `proxy_cookie_path`, `proxy_cookie_flags`.
    func cookieDirective(_ d: ConfigDirective, kind: String, rules: inout CookieLevelRules) throws(ConfigError) {
        let isOff: Bool
        switch kind {
        case "domain": isOff = rules.off.domains
        case "path": isOff = rules.off.paths
        default: isOff = rules.off.flags
        }
        if isOff { throw d.directiveError("is duplicate") }
        if d.args.count == 1 {
            guard d.args[0] == "off" else { throw d.error("invalid parameter \"\(d.args[0])\"") }
            switch kind {
            case "domain":
                if rules.domains != nil { throw d.directiveError("is duplicate") }
                rules.domains = []
                rules.off.domains = true
            case "path":
                if rules.paths != nil { throw d.directiveError("is duplicate") }
                rules.paths = []
                rules.off.paths = true
            default:
                if rules.flags != nil { throw d.directiveError("is duplicate") }
                rules.flags = []
                rules.off.flags = true
            }
            return
        }
        if kind == "flags" {
            rules.flags = (rules.flags ?? []) + [try cookieFlagRule(d)]
            return
        }
        var from = d.args[0]
        var to = d.args[1]
        let pattern: CookieRewrite.Pattern
        if from.hasPrefix("~") {
            from.removeFirst()
            var caseless = kind == "domain"
            if kind == "path" && from.hasPrefix("*") {
                from.removeFirst()
                caseless = true
            }
            pattern = .regex(try compileRegex(from, caseless: caseless, d))
        } else {
            if kind == "domain" {
                if from.hasPrefix(".") { from.removeFirst() }
                if to.hasPrefix(".") { to.removeFirst() }
            }
            pattern = .text(try value(from, d))
        }
        let rule = CookieRewrite(pattern: pattern, replacement: try value(to, d))
        if kind == "domain" {
            rules.domains = (rules.domains ?? []) + [rule]
        } else {
            rules.paths = (rules.paths ?? []) + [rule]
        }
    }

    private func cookieFlagRule(_ d: ConfigDirective) throws(ConfigError) -> CookieFlagRule {
        let cookie: CookieFlagRule.Cookie
        if d.args[0].hasPrefix("~") {
            cookie = .regex(try compileRegex(String(d.args[0].dropFirst()), caseless: true, d))
        } else {
            cookie = .name(try value(d.args[0], d))
        }
        var flags: [ComplexValue] = []
        for a in d.args.dropFirst() {
            // An unknown flag is skipped when the rule applies (nginx logs it at debug).
            flags.append(try value(a, d))
        }
        return CookieFlagRule(cookie: cookie, flags: flags)
    }

    private func compileRegex(_ source: String, caseless: Bool, _ d: ConfigDirective) throws(ConfigError) -> Regex {
        do { return try Regex(source, caseless: caseless) } catch { throw d.error(error.message) }
    }
}
