// The trace sink of the route explainer (`swiftginx -x`): when a request carries one,
// the phase engine and the handlers note every decision in it — the phase steps,
// rewrite and `if` steps, each location considered, try_files candidates, index
// redirects — and a content handler that would talk to the network (proxy_pass,
// uwsgi_pass) describes itself instead. Serving never has one: each note is a
// `trace?.` call that costs one nil test.

import SwiftginxConfig
import SwiftginxUpstream

final class RouteTrace {
    private(set) var lines: [String] = []
    /// Indentation of the next lines (inside a location).
    var depth = 0

    func note(_ line: String) {
        lines.append(String(repeating: "  ", count: depth) + line)
    }

    func step(_ step: PhaseStep) {
        switch step {
        case .findConfig, .staticFiles, .pass, .upstreamStatus, .stubStatus, .metrics: break
        case .serverRewrite: note("phase server rewrite: the server's rewrite directives")
        case .internalOnly: note("phase find config: internal location")
        case .bodySizeLimit: break
        case .rewrite: note("phase rewrite: the location's rewrite directives")
        case .tryFiles: note("phase precontent: try_files")
        case .authBasic: note("phase access: auth_basic")
        case .authRequest: note("phase access: auth_request")
        case .access: note("phase access: allow/deny")
        case .limitReq: note("phase preaccess: limit_req")
        case .limitConn: note("phase preaccess: limit_conn")
        case .realIP: note("phase post-read: realip")
        case .realIPLocation: note("phase preaccess: realip")
        case .postAccess: note("phase post-access: satisfy any")
        }
    }

    func enter(_ location: Location) {
        depth = 0
        note("location: " + (location.pattern.isEmpty ? "(server level)" : location.pattern))
        depth = 1
    }

    func locationSearch(_ lines: [String]) {
        depth = 0
        for l in lines { note("  " + l) }
    }

    /// An `if` condition as written.
    static func describe(_ c: IfCondition) -> String {
        switch c {
        case .value(let v): return v.source
        case .equals(let a, let b, let negated): return "\(a.source) \(negated ? "!=" : "=") \(b.source)"
        case .matches(let v, let regex, let negated):
            return "\(v.source) \(negated ? "!~" : "~") \(regex.pattern)"
        case .file(let v, let test, let negated):
            let flag: String
            switch test {
            case .file: flag = "-f"
            case .directory: flag = "-d"
            case .exists: flag = "-e"
            case .executable: flag = "-x"
            }
            return "\(negated ? "!" : "")\(flag) \(v.source)"
        }
    }

    /// What a proxied location would do: the upstream, its peers and balancing, and
    /// the URI sent (nothing is connected to).
    func proxy(_ pass: UpstreamPass, location: Location, uri: String) {
        let module = pass.proto.passDirective
        if let dynamic = pass.dynamic {
            note("handler: \(module) \(dynamic.source) (evaluated per request)")
            return
        }
        guard let group = pass.group else { return }
        var sent = uri
        if pass.proto == .http, let part = pass.uri {
            sent = String(decoding: part, as: UTF8.self) + uri.dropFirst(min(uri.count, location.prefix.count))
        }
        let scheme = pass.proto.scheme(tls: pass.ssl)
        note("handler: \(module) to \(scheme)\(group.name)" + (pass.proto == .http ? ", URI sent: \(sent)" : ""))
        note("upstream \"\(group.name)\": \(RouteTrace.methodName(group.method)), keepalive \(group.keepalive)")
        for server in group.servers {
            var flags: [String] = ["weight=\(server.weight)"]
            if server.backup { flags.append("backup") }
            if server.down { flags.append("down") }
            note("peer \(server.address.description) " + flags.joined(separator: " "))
        }
    }

    static func methodName(_ m: BalancingMethod) -> String {
        switch m {
        case .roundRobin: "round robin"
        case .leastConn: "least_conn"
        case .ipHash: "ip_hash"
        case .hash(let consistent): consistent ? "hash consistent" : "hash"
        case .random(let two): two ? "random two" : "random"
        }
    }
}
