// nginx's request phases and the handler list compiled for each server and location
// at configuration time, so that a request runs exactly the steps its location has
// and looks nothing up on the way (phases without work are not in the list). The
// Server module's phase engine (Request+Phases.swift) runs these steps; a new module
// adds a case here, a directive-table entry, and its handler in a file of its own.

import SwiftginxRouting

/// nginx's phases, in the order a request goes through them.
public enum HTTPPhase: Int, Sendable, Comparable {
    case postRead, serverRewrite, findConfig, rewrite, postRewrite, preaccess, access, postAccess, precontent
    case content, log

    public static func < (a: HTTPPhase, b: HTTPPhase) -> Bool { a.rawValue < b.rawValue }

    /// nginx's name for the phase (NGX_HTTP_..._PHASE), for traces.
    public var name: String {
        switch self {
        case .postRead: "post-read"
        case .serverRewrite: "server rewrite"
        case .findConfig: "find config"
        case .rewrite: "rewrite"
        case .postRewrite: "post-rewrite"
        case .preaccess: "preaccess"
        case .access: "access"
        case .postAccess: "post-access"
        case .precontent: "precontent"
        case .content: "content"
        case .log: "log"
        }
    }
}

/// One handler of a compiled phase list. Steps carry no data: each handler reads its
/// directives from the location (or server) it runs in, as nginx's phase handlers read
/// their module's configuration, so a step is one byte to copy and to switch on.
public enum PhaseStep: UInt8, Sendable {
    /// The realip module with the server's settings (post-read).
    case realIP
    /// The realip module with the location's settings (preaccess), when the server's
    /// did not already apply.
    case realIPLocation
    /// Server level: rewrite, set, if, return before location matching.
    case serverRewrite
    /// Location matching (and the internal-redirect cycle limit, auto-redirects).
    case findConfig
    /// `internal`: external requests get 404 (checked in nginx's find-config phase).
    case internalOnly
    /// `client_max_body_size` against the announced Content-Length (413).
    case bodySizeLimit
    /// The location's rewrite module steps.
    case rewrite
    /// `limit_req` (preaccess, before limit_conn as in nginx): request rate per key.
    case limitReq
    /// `limit_conn` (preaccess): requests in progress per key, per zone.
    case limitConn
    /// `allow` / `deny` (access): the first rule that covers the client decides.
    case access
    /// `auth_basic` (access): the Basic credentials checked against a password file.
    case authBasic
    /// `auth_request` (access): a subrequest's 2xx allows, 401/403 deny, others 500.
    case authRequest
    /// With `satisfy any`, after the access phase: the denial kept, if no module allowed.
    case postAccess
    /// `try_files` (precontent): the first existing candidate, else the fallback.
    case tryFiles
    /// Content handlers.
    case upstreamStatus
    /// `stub_status`: nginx's connection and request counts as text.
    case stubStatus
    /// `metrics`: the Prometheus exposition.
    case metrics
    case pass
    case staticFiles

    public var phase: HTTPPhase {
        switch self {
        case .realIP: .postRead
        case .realIPLocation, .limitReq, .limitConn: .preaccess
        case .serverRewrite: .serverRewrite
        case .findConfig, .internalOnly, .bodySizeLimit: .findConfig
        case .rewrite: .rewrite
        case .access, .authBasic, .authRequest: .access
        case .postAccess: .postAccess
        case .tryFiles: .precontent
        case .upstreamStatus, .stubStatus, .metrics, .pass, .staticFiles: .content
        }
    }
}

extension PhaseStep {
    /// A copy of `steps` in memory owned by the caller (deallocated in its deinit).
    static func buffer(_ steps: [PhaseStep]) -> UnsafeBufferPointer<PhaseStep> {
        let b = UnsafeMutableBufferPointer<PhaseStep>.allocate(capacity: max(steps.count, 1))
        _ = b.initialize(from: steps)
        return UnsafeBufferPointer(start: b.baseAddress, count: steps.count)
    }
}

extension VirtualServer {
    /// The steps every request on this server starts with.
    static func compileSteps(serverRewrites: [RewriteStep], realIP: Bool) -> [PhaseStep] {
        (realIP ? [.realIP] : []) + (serverRewrites.isEmpty ? [.findConfig] : [.serverRewrite, .findConfig])
    }
}

extension Location {
    /// The steps a request runs once this location is chosen, in phase order.
    static func compileSteps(_ s: LocationSettings) -> [PhaseStep] {
        var steps: [PhaseStep] = []
        if s.isInternal { steps.append(.internalOnly) }
        if s.clientMaxBodySize > 0 { steps.append(.bodySizeLimit) }
        if !s.rewrites.isEmpty { steps.append(.rewrite) }
        if !s.realIPFrom.isEmpty { steps.append(.realIPLocation) }
        if !s.limitReq.rules.isEmpty { steps.append(.limitReq) }
        if !s.limitConns.isEmpty { steps.append(.limitConn) }
        // nginx runs the access phase's handlers in this order: allow/deny, auth_basic,
        // auth_request.
        let accessSteps = steps.count
        if !s.accessRules.isEmpty { steps.append(.access) }
        if s.authBasic != nil && s.authBasicUserFile != nil { steps.append(.authBasic) }
        if s.authRequest != nil { steps.append(.authRequest) }
        if s.satisfyAny && steps.count > accessSteps { steps.append(.postAccess) }
        if s.metrics {
            steps.append(.metrics)
        } else if s.stubStatus {
            steps.append(.stubStatus)
        } else if s.upstreamStatus {
            steps.append(.upstreamStatus)
        } else if s.pass != nil {
            steps.append(.pass)
        } else {
            if s.tryFiles != nil { steps.append(.tryFiles) }
            steps.append(.staticFiles)
        }
        return steps
    }
}

/// One `auth_request_set`: a variable set from the auth subrequest's answer.
public struct AuthRequestSet: Sendable {
    public let name: String
    public let value: ComplexValue
    public init(name: String, value: ComplexValue) {
        self.name = name
        self.value = value
    }
}

/// `limit_except METHOD ... { ... }` of a location: the methods it lets through (GET
/// brings HEAD), and the location (the block's settings over the location's) that
/// requests with any other method run with.
public final class LimitExcept: Sendable {
    public let methods: Set<String>
    public let location: Location

    public init(methods: Set<String>, location: Location) {
        self.methods = methods
        self.location = location
    }

    /// Whether a request with this method (as sent) is let through unchanged.
    public func allows(_ method: UnsafeRawBufferPointer) -> Bool {
        methods.contains(String(decoding: method, as: UTF8.self))
    }
}
