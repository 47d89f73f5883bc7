// The FastCGI module's own directives (`fastcgi_index`, `fastcgi_split_path_info`,
// `fastcgi_keep_conn`; `fastcgi_catch_stderr` is a level array like `fastcgi_param`,
// in ConfigCompiler+Proxy.swift); the ones it shares with the proxy, uwsgi
// and scgi modules (`fastcgi_pass`, `fastcgi_param`, timeouts, buffering, retries,
// headers) go through the same handler as theirs (ConfigCompiler+Proxy.swift).

import SwiftginxRouting

extension UpstreamProtocol {
    /// The module a directive name belongs to, by its prefix (nil: none of them).
    static func ofDirective(_ name: String) -> UpstreamProtocol? {
        if name.hasPrefix("proxy_") { return .http }
        if name.hasPrefix("uwsgi_") { return .uwsgi }
        if name.hasPrefix("fastcgi_") { return .fastcgi }
        if name.hasPrefix("scgi_") { return .scgi }
        return nil
    }
}

extension ConfigCompiler {
    /// A setter for a FastCGI-only directive (`name` without "fastcgi_"); nil for the others.
    func fastcgiDirective(_ d: ConfigDirective, _ name: String) throws(ConfigError)
        -> ((inout UpstreamSettings) -> Void)?
    {
        switch name {
        case "index":
            let v = Array(d.args[0].utf8)
            return { $0.fastcgi.index = v }
        case "split_path_info":
            let re: Regex
            do { re = try Regex(d.args[0]) } catch { throw d.error(error.message) }
            guard re.captureCount == 2 else { throw d.error("pattern \"\(d.args[0])\" must have 2 captures") }
            return { $0.fastcgi.splitPathInfo = re }
        case "keep_conn":
            let v = try ConfigValues.flag(d)
            return { $0.fastcgi.keepConn = v }
        default:
            return nil
        }
    }
}

extension UpstreamProtocol {
    /// The scheme nginx shows in `upstream: "..."` log context and `-x` traces.
    public func scheme(tls: Bool) -> String {
        switch self {
        case .http: tls ? "https://" : "http://"
        case .uwsgi: tls ? "suwsgi://" : "uwsgi://"
        case .fastcgi: "fastcgi://"
        case .scgi: "scgi://"
        }
    }

    /// The module's `*_pass` directive name.
    public var passDirective: String { self == .http ? "proxy_pass" : directivePrefix + "pass" }
}
