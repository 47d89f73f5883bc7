// `proxy_cookie_domain`, `proxy_cookie_path` and `proxy_cookie_flags` applied to one
// upstream Set-Cookie value, as nginx applies them: the value is split into
// `name=value` and its attributes; the first matching domain rule rewrites the Domain
// attribute, the first matching path rule the Path attribute, the first rule naming
// the cookie sets or removes Secure, HttpOnly and SameSite. When something changed, the
// cookie is written again as "name=value; Attr=value; Flag" (nginx's spelling);
// otherwise the upstream's bytes pass unchanged. Only responses of locations with such
// rules come here.

import SwiftginxConfig
import SwiftginxRouting

enum CookieRewriter {
    /// One `key[=value]` piece of a cookie; a nil key is a removed attribute.
    private struct Attribute {
        var key: [UInt8]?
        var value: [UInt8]?
    }

    /// The rewritten Set-Cookie value, or nil when no rule applied.
    static func rewrite(_ raw: UnsafeRawBufferPointer, settings: UpstreamSettings, request: Request) -> [UInt8]? {
        var attrs = parse(raw)
        guard attrs.first?.value != nil else { return nil }
        var changed = false
        for i in attrs.indices.dropFirst() {
            guard let key = attrs[i].key, let value = attrs[i].value else { continue }
            if !settings.cookieDomains.isEmpty, asciiCaseEqual(key, "domain") {
                if let v = apply(settings.cookieDomains, to: value, domain: true, request: request) {
                    attrs[i].value = v
                    changed = true
                }
            }
            if !settings.cookiePaths.isEmpty, asciiCaseEqual(key, "path") {
                if let v = apply(settings.cookiePaths, to: value, domain: false, request: request) {
                    attrs[i].value = v
                    changed = true
                }
            }
        }
        if !settings.cookieFlags.isEmpty, applyFlags(settings.cookieFlags, to: &attrs, request: request) {
            changed = true
        }
        guard changed else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count + 32)
        var first = true
        for a in attrs {
            guard let key = a.key else { continue }
            if !first { out += [UInt8(ascii: ";"), 32] }
            first = false
            out += key
            if let v = a.value {
                out.append(UInt8(ascii: "="))
                out += v
            }
        }
        return out
    }

    /// Splits at ';', trimming spaces around names and values (nginx's parser).
    private static func parse(_ raw: UnsafeRawBufferPointer) -> [Attribute] {
        var attrs: [Attribute] = []
        var start = 0
        let end = raw.count
        while true {
            var last = start
            while last < end && raw[last] != UInt8(ascii: ";") { last += 1 }
            var s = start
            while s < last && raw[s] == 32 { s += 1 }
            var p = s
            while p < last && raw[p] != UInt8(ascii: "=") { p += 1 }
            var nameEnd = p
            while nameEnd > s && raw[nameEnd - 1] == 32 { nameEnd -= 1 }
            var value: [UInt8]? = nil
            if p < last {
                var v = p + 1
                while v < last && raw[v] == 32 { v += 1 }
                var ve = last
                while ve > v && raw[ve - 1] == 32 { ve -= 1 }
                value = Array(raw[v..<ve])
            }
            attrs.append(Attribute(key: Array(raw[s..<nameEnd]), value: value))
            if last >= end { break }
            start = last + 1
        }
        return attrs
    }

    /// The first rule that matches `value`, applied.
    private static func apply(_ rules: [CookieRewrite], to value: [UInt8], domain: Bool, request: Request)
        -> [UInt8]?
    {
        for rule in rules {
            switch rule.pattern {
            case .regex(let regex):
                guard let caps = value.withUnsafeBytes({ regex.match($0) }) else { continue }
                return withCaptures(regex, value, caps, request) { request.evaluate(rule.replacement) }
            case .text(let cv):
                let pattern = request.evaluate(cv)
                if domain {
                    // A leading dot of the cookie's domain is skipped and kept.
                    let skip = value.first == UInt8(ascii: ".") ? 1 : 0
                    guard value.count - skip == pattern.count,
                        asciiCaseEqual(value[skip...], pattern)
                    else { continue }
                    return Array(value[..<skip]) + request.evaluate(rule.replacement)
                }
                guard value.starts(with: pattern) else { continue }
                return request.evaluate(rule.replacement) + value[pattern.count...]
            }
        }
        return nil
    }

    /// `proxy_cookie_flags`: the first rule naming the cookie; true when it changed it.
    private static func applyFlags(_ rules: [CookieFlagRule], to attrs: inout [Attribute], request: Request) -> Bool {
        guard let name = attrs[0].key else { return false }
        var matched: CookieFlagRule? = nil
        for rule in rules {
            switch rule.cookie {
            case .regex(let regex):
                if name.withUnsafeBytes({ regex.matches($0) }) { matched = rule }
            case .name(let cv):
                if asciiCaseEqual(name, request.evaluate(cv)) { matched = rule }
            }
            if matched != nil { break }
        }
        guard let rule = matched else { return false }
        var flags: CookieFlags = []
        for cv in rule.flags {
            let word = request.evaluate(cv)
            if word.isEmpty { continue }
            if let f = CookieFlags.named(String(decoding: word, as: UTF8.self).lowercased()) { flags.insert(f) }
        }
        if flags.isEmpty { return false }
        edit(&attrs, flags)
        return true
    }

    /// Sets or removes the flags (nginx's ngx_http_proxy_edit_cookie_flags order: an
    /// attribute already there is kept or replaced in place, a missing one appended).
    private static func edit(_ attrs: inout [Attribute], _ wanted: CookieFlags) {
        var flags = wanted
        for i in attrs.indices.dropFirst() {
            guard let key = attrs[i].key else { continue }
            if asciiCaseEqual(key, "secure") {
                if flags.contains(.secure) {
                    flags.remove(.secure)
                } else if flags.contains(.noSecure) {
                    attrs[i].key = nil
                }
            } else if asciiCaseEqual(key, "httponly") {
                if flags.contains(.httpOnly) {
                    flags.remove(.httpOnly)
                } else if flags.contains(.noHttpOnly) {
                    attrs[i].key = nil
                }
            } else if asciiCaseEqual(key, "samesite") {
                let value = attrs[i].value ?? []
                var handled = false
                for (flag, text) in [
                    (CookieFlags.sameSiteStrict, "Strict"), (.sameSiteLax, "Lax"), (.sameSiteNone, "None"),
                ] where flags.contains(flag) {
                    flags.remove(flag)
                    if !asciiCaseEqual(value, text) {
                        attrs[i] = Attribute(key: Array("SameSite".utf8), value: Array(text.utf8))
                    }
                    handled = true
                    break
                }
                if !handled && flags.contains(.noSameSite) { attrs[i].key = nil }
            }
        }
        if flags.contains(.secure) { attrs.append(Attribute(key: Array("Secure".utf8), value: nil)) }
        if flags.contains(.httpOnly) { attrs.append(Attribute(key: Array("HttpOnly".utf8), value: nil)) }
        let sameSite: String? =
            flags.contains(.sameSiteStrict)
            ? "Strict" : flags.contains(.sameSiteLax) ? "Lax" : flags.contains(.sameSiteNone) ? "None" : nil
        if let sameSite { attrs.append(Attribute(key: Array("SameSite".utf8), value: Array(sameSite.utf8))) }
    }

    /// Runs `body` with the regex's captures as the request's `$1`…, then restores them.
    private static func withCaptures(
        _ regex: Regex, _ subject: [UInt8], _ caps: [Range<Int>], _ request: Request, _ body: () -> [UInt8]
    ) -> [UInt8] {
        let saved = (request.captureRegex, request.captureSubject, request.captures)
        request.captureRegex = regex
        request.captureSubject = subject
        request.captures = caps
        let out = body()
        (request.captureRegex, request.captureSubject, request.captures) = saved
        return out
    }

    /// Caseless on both sides (the pattern may hold capitals too).
    private static func asciiCaseEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where lower(x) != lower(y) { return false }
        return true
    }

    private static func asciiCaseEqual<A: Collection<UInt8>>(_ a: A, _ b: String) -> Bool {
        asciiCaseEqual(a, b.utf8)
    }

    @inline(__always) private static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c | 0x20 : c }
}
