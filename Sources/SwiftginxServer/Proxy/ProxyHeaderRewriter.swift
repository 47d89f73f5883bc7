// The rewriting of upstream response fields that name the upstream: `proxy_redirect`
// on Location and Refresh (the proxy_pass URL back to the location's prefix by
// default, or the configured rules, with regex captures); Set-Cookie's rules are in
// CookieRewriter.swift. Pure functions of the field value, the settings and the
// request (whose variables the replacements evaluate); used while the client's head is
// written (UpstreamResponse+ClientHead.swift).

import SwiftginxConfig
import SwiftginxRouting

enum ProxyHeaderRewriter {
    /// `proxy_redirect` on a Location value, or on the URL part of a Refresh value.
    static func redirect(
        _ value: [UInt8], isRefresh: Bool, mode: ProxyRedirect, pass: UpstreamPass?, request: Request
    ) -> [UInt8] {
        // Refresh: "5; url=http://..." — the URL part is rewritten.
        var prefix: [UInt8] = []
        var url = value
        if isRefresh {
            guard let r = findURL(in: value) else { return value }
            prefix = Array(value[..<r])
            url = Array(value[r...])
        }
        switch mode {
        case .off:
            return value
        case .default:
            guard let pass = pass, pass.dynamic == nil, let location = request.location else { return value }
            let from: [UInt8]
            let to: [UInt8]
            if let uri = pass.uri {
                from = Array(pass.schemeAndHost.utf8) + uri
                to = Array(location.prefix.utf8)
            } else {
                from = Array((pass.schemeAndHost + "/").utf8)
                to = Array("/".utf8)
            }
            if url.starts(with: from) { return prefix + to + url[from.count...] }
            return value
        case .rules(let rules):
            for rule in rules {
                if let regex = rule.regex {
                    let caps = url.withUnsafeBytes { regex.match($0) }
                    guard let caps else { continue }
                    let saved = (request.captureRegex, request.captureSubject, request.captures)
                    request.captureRegex = regex
                    request.captureSubject = url
                    request.captures = caps
                    let replaced = request.evaluate(rule.to)
                    (request.captureRegex, request.captureSubject, request.captures) = saved
                    return prefix + replaced
                }
                guard let fromValue = rule.from else { continue }
                let from = request.evaluate(fromValue)
                if url.starts(with: from) { return prefix + request.evaluate(rule.to) + url[from.count...] }
            }
            return value
        }
    }

    private static func findURL(in value: [UInt8]) -> Int? {
        let lower = value.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        let needle = Array("url=".utf8)
        guard lower.count >= needle.count else { return nil }
        for i in 0...(lower.count - needle.count) where Array(lower[i..<(i + needle.count)]) == needle {
            return i + needle.count
        }
        return nil
    }
}
