// The route explainer behind `swiftginx -x 'GET http://host:port/path?query'`: it runs
// one request through the same phase engine that serves requests — server choice,
// server rewrites, location matching, the location's rewrite and `if` steps,
// auth_request, try_files, index, the static file handler, error pages — on a
// connection object with no socket, with a RouteTrace that records every decision.
// Content handlers that would talk to the network (proxy_pass, uwsgi_pass) describe
// themselves instead; files are looked at for real. The answer the request would get
// (status and Location) is read back from its ResponseWriter.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

public enum RouteExplainer {
    /// A report for `request` ("METHOD URL" or just a URL; a path alone uses the first
    /// listen address and its default server).
    public static func explain(_ request: String, config: RuntimeConfig, prefix: String = "") -> String {
        var out: [String] = []
        let parts = request.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let method = parts.count > 1 ? parts[0] : "GET"
        let url = parts.last ?? "/"
        var host = ""
        var port: Int? = nil
        var target = url
        if let schemeEnd = url.firstRange(of: "://") {
            let rest = url[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" }
            target = String(rest.dropFirst(authority.count))
            if target.isEmpty { target = "/" }
            if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
                host = String(authority[..<colon])
                port = Int(authority[authority.index(after: colon)...])
            } else {
                host = String(authority)
            }
            if port == nil { port = url.hasPrefix("https") ? 443 : 80 }
        }
        host = host.lowercased()
        out.append("request: \(method) \(url)")
        guard let group = listenGroup(config, host: host, port: port) else {
            out.append("listen: nothing listens on port \(port.map(String.init) ?? "?"); the connection is refused")
            return out.joined(separator: "\n")
        }
        out.append("listen: \(group.address) (\(group.servers.count) server(s) on it)")
        var head = "\(method) \(target) HTTP/1.1\r\n"
        if !host.isEmpty { head += "Host: \(host)\r\n" }
        head += "\r\n"
        do {
            let run = try Run(config: config, group: group, prefix: prefix)
            out += run.explain(Array(head.utf8), host: host)
        } catch {
            out.append("cannot explain: \(error)")
        }
        return out.joined(separator: "\n")
    }

    private static func listenGroup(_ config: RuntimeConfig, host: String, port: Int?) -> ListenGroup? {
        guard let port else { return config.listenGroups.first }
        let onPort = config.listenGroups.filter { $0.address.port == port }
        return onPort.first { $0.address.host == host } ?? onPort.first { $0.address.host == "0.0.0.0" }
            ?? onPort.first { $0.address.host == "::" } ?? onPort.first
    }

    /// Why the server was chosen, in nginx's order of server_name matching.
    static func reason(_ server: VirtualServer, group: ListenGroup, host: String) -> String {
        var h = host
        if h.hasSuffix(".") { h.removeLast() }
        if h.isEmpty { return "no Host: the default server of \(group.address)" }
        if server.serverNames.contains(h) { return "exact server_name" }
        if let w = server.serverNames.first(where: { $0.hasPrefix("*.") || $0.hasPrefix(".") }),
            h.hasSuffix(w.hasPrefix("*") ? String(w.dropFirst()) : w) || "." + h == w
        {
            return "leading wildcard \(w)"
        }
        if let w = server.serverNames.first(where: { $0.hasSuffix(".*") }), h.hasPrefix(String(w.dropLast())) {
            return "trailing wildcard \(w)"
        }
        if let r = server.serverNames.first(where: { $0.hasPrefix("~") }), server !== group.defaultServer {
            return "regular expression \(r)"
        }
        return "no server_name matches \"\(h)\": the default server of \(group.address)"
    }

    /// A worker and a socketless connection to run one request on.
    private struct Run {
        let worker: Worker
        let connection: HTTP1Connection
        let group: ListenGroup

        init(config: RuntimeConfig, group: ListenGroup, prefix: String) throws(SystemError) {
            // The explainer reads no cache directory (and creates none).
            let generation = Generation(
                number: 0, config: config, listeners: [[]], accessLogFiles: [:], loadCaches: false)
            let state = ServerState(
                generation: generation, errorLog: ErrorLog(targets: []), logFiles: LogFiles(), prefix: prefix)
            worker = try Worker(index: 0, state: state, generation: generation)
            let listener = WorkerListener(fd: -1, group: group)
            connection = HTTP1Connection(
                fd: -1, peer: SocketAddress(host: "127.0.0.1", port: 0)!, worker: worker, listener: listener, slot: 0,
                slotGeneration: 0, number: 1)
            connection.attachRequest()
            self.group = group
        }

        func explain(_ head: [UInt8], host: String) -> [String] {
            let c = connection
            let request = c.request
            c.input.append(head)
            guard case .complete = request.parser.parse(c.input.readable, into: &request.head) else {
                return ["the request cannot be parsed: 400"]
            }
            let trace = RouteTrace()
            request.trace = trace
            request.headBase = 0
            request.connectionRequests = 1
            c.writer.beginResponse()
            request.begin(group: group)
            var out: [String] = []
            if let server = request.server {
                let names = server.serverNames.map { $0.isEmpty ? "\"\"" : $0 }.joined(separator: " ")
                out.append("server: server_name \(names) — \(RouteExplainer.reason(server, group: group, host: host))")
            }
            out += trace.lines
            out += answer(request)
            c.writer.releaseFile()
            request.releaseContent()
            return out
        }

        /// The status line and Location of what the request wrote, if anything.
        private func answer(_ request: Request) -> [String] {
            let w = request.writer
            guard w.responseHeadLength > 0 else {
                return request.status == 444 ? ["answer: 444, the connection is closed without a response"] : []
            }
            let head = Array(
                UnsafeRawBufferPointer(start: w.output.base + w.responseStart, count: w.responseHeadLength))
            let text = String(decoding: head, as: UTF8.self)
            let statusLine = text.split(separator: "\r\n").first.map(String.init) ?? ""
            var lines = ["answer: " + statusLine.dropFirst("HTTP/1.1 ".count)]
            if let location = ResponseHeadScan.value(of: Array("location".utf8), in: head) {
                lines.append("  Location: \(String(decoding: location, as: UTF8.self))")
            }
            return lines
        }
    }
}
