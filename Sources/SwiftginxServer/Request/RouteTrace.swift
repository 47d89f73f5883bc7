// The trace sink of the route explainer (`swiftginx -x`): when a request carries one,
// the phase engine and the handlers note every decision in it — the phase steps,
// rewrite and `if` steps, each location considered, try_files candidates, index
// redirects — and a content handler that would talk to the network (proxy_pass,
// uwsgi_pass) describes itself instead. Serving never has one: each note is a
// `trace?.` call that costs one nil test.

import SwiftginxConfig

final class RouteTrace {
    private(set) var lines: [String] = []
    /// Indentation of the next lines (inside a location).
    var depth = 0

    func note(_ line: String) {
        lines.append(String(repeating: "  ", count: depth) + line)
    }

    func step(_ step: PhaseStep) {
        switch step {
        case .findConfig, .staticFiles, .pass, .upstreamStatus: break
        case .serverRewrite: note("phase server rewrite: the server's rewrite directives")
        case .internalOnly: note("phase find config: internal location")
        case .bodySizeLimit: note("phase find config: client_max_body_size")
        case .rewrite: note("phase rewrite: the location's rewrite directives")
        case .tryFiles: note("phase precontent: try_files")
        case .authRequest: note("phase access: auth_request")
        }
    }

    func enter(_ location: Location) {
        depth = 0
        note("location: " + (location.pattern.isEmpty ? "(server level)" : location.pattern))
        depth = 1
    }

    func locationSearch(_ lines: [String]) {
        for l in lines { note(l) }
    }
}

extension Request {
    /// In the explainer, a content handler that would use the network stops here.
    func traceContent(_ what: String) -> StepResult {
        trace?.note("content: \(what)")
        return .done
    }
}
