// The compiled form of what proxies: `upstream {}` blocks with their servers and
// keep-alive settings, the target of a `proxy_pass` / `uwsgi_pass`, and the per-location
// settings of the proxy and uwsgi modules (timeouts, buffering, headers, retries).
// Addresses are resolved while compiling (nginx resolves hostnames at startup too).

import SwiftginxRouting
import SwiftginxUpstream

/// Where one upstream server listens.
public enum PeerAddress: Sendable, Hashable {
    /// Numeric host ("127.0.0.1", "::1") and port.
    case inet(host: String, port: Int)
    /// A unix-domain socket path.
    case unix(String)

    /// nginx's spelling in logs and `$upstream_addr`: "127.0.0.1:8000", "[::1]:80", "unix:/p".
    public var description: String {
        switch self {
        case .inet(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:" + path
        }
    }
}

/// A `server` line of an `upstream` block (one per resolved address).
public struct UpstreamServer: Sendable {
    public var address: PeerAddress
    /// The address as written on the `server` line ("app.local:8000"): the consistent
    /// hash ring is built from it, as nginx builds it.
    public var name: String = ""
    public var weight: Int = 1
    public var maxFails: Int = 1
    /// Milliseconds.
    public var failTimeout: Int = 10_000
    public var maxConns: Int = 0
    public var backup: Bool = false
    public var down: Bool = false
    /// `slow_start` in milliseconds (0 = off).
    public var slowStart: Int = 0
    /// `server name resolve`: the name whose addresses the resolver keeps current (the
    /// server is then a template for them, with `address` unused).
    public var resolveName: String? = nil
    /// `service=`: the SRV name asked instead ("_http._tcp.example.net"); the records'
    /// targets and ports are the peers (the lowest priority, the others as backups).
    public var service: String? = nil
    public init(address: PeerAddress) { self.address = address }
}

/// The resolver of an upstream group with `resolve` servers: its own `resolver` or the
/// http level's.
public struct UpstreamResolve: Sendable {
    public let resolver: ResolverConfig
    public let timeout: Int

    public init(resolver: ResolverConfig, timeout: Int) {
        self.resolver = resolver
        self.timeout = timeout
    }
}

/// An `upstream` block, or the implicit one-server group nginx makes for
/// `proxy_pass http://127.0.0.1:8000`.
public final class UpstreamGroup: Sendable {
    public let name: String
    public let servers: [UpstreamServer]
    /// `keepalive N` (0 = no cached connections).
    public let keepalive: Int
    /// `keepalive_timeout` (ms), `keepalive_requests`, `keepalive_time` (ms).
    public let keepaliveTimeout: Int
    public let keepaliveRequests: Int
    public let keepaliveTime: Int
    /// False for the group nginx makes from an address written in proxy_pass.
    public let isExplicit: Bool
    /// Index among all groups of the configuration (for per-worker state tables).
    public let index: Int
    /// `least_conn`, `ip_hash`, `hash`, `random` (round robin when none).
    public let method: BalancingMethod
    /// The key of `hash KEY`.
    public let hashKey: ComplexValue?
    /// `server name resolve` lines: templates whose addresses come from the resolver
    /// at run time (the group's peers are then `servers` plus those addresses).
    public let resolvable: [UpstreamServer]
    /// The group has `resolve` servers: its peers change at run time.
    public var isDynamic: Bool { !resolvable.isEmpty }
    /// The group's series in the `metrics` counters (-1: not counted); set once by the
    /// server when it takes the configuration.
    nonisolated(unsafe) public var metricsID = -1

    public init(
        name: String, servers: [UpstreamServer], keepalive: Int = 0, keepaliveTimeout: Int = 60_000,
        keepaliveRequests: Int = 1000, keepaliveTime: Int = 3_600_000, isExplicit: Bool, index: Int,
        method: BalancingMethod = .roundRobin, hashKey: ComplexValue? = nil, resolvable: [UpstreamServer] = []
    ) {
        self.resolvable = resolvable
        self.method = method
        self.hashKey = hashKey
        self.name = name
        self.servers = servers
        self.keepalive = keepalive
        self.keepaliveTimeout = keepaliveTimeout
        self.keepaliveRequests = keepaliveRequests
        self.keepaliveTime = keepaliveTime
        self.isExplicit = isExplicit
        self.index = index
    }
}

public enum UpstreamProtocol: Sendable {
    case http, uwsgi, fastcgi, scgi

    /// The directive prefix of the module ("proxy_", "uwsgi_", "fastcgi_", "scgi_").
    public var directivePrefix: String {
        switch self {
        case .http: "proxy_"
        case .uwsgi: "uwsgi_"
        case .fastcgi: "fastcgi_"
        case .scgi: "scgi_"
        }
    }
}

/// A compiled `proxy_pass` / `uwsgi_pass` (a class: LocationSettings copies stay cheap).
public final class UpstreamPass: Sendable {
    public let proto: UpstreamProtocol
    /// The group, when known at configuration time.
    public let group: UpstreamGroup?
    /// A target with variables, evaluated per request (it must name an upstream block
    /// or a numeric address: there is no resolver).
    public let dynamic: ComplexValue?
    /// The URI part of `proxy_pass http://host/uri` (nil when absent).
    public let uri: [UInt8]?
    /// `$proxy_host`: "host:port" as written (port omitted when 80), the upstream name,
    /// or "localhost" for a unix socket.
    public let proxyHost: String
    /// `$proxy_port`.
    public let proxyPort: String
    /// "http://127.0.0.1:8000" as written, for proxy_redirect default and logs.
    public let schemeAndHost: String
    /// `proxy_pass https://...`: TLS to the upstream.
    public let ssl: Bool

    public init(
        proto: UpstreamProtocol, group: UpstreamGroup?, dynamic: ComplexValue?, uri: [UInt8]?, proxyHost: String,
        proxyPort: String, schemeAndHost: String, ssl: Bool = false
    ) {
        self.ssl = ssl
        self.proto = proto
        self.group = group
        self.dynamic = dynamic
        self.uri = uri
        self.proxyHost = proxyHost
        self.proxyPort = proxyPort
        self.schemeAndHost = schemeAndHost
    }
}

/// `proxy_next_upstream` conditions.
public struct NextUpstream: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let error = NextUpstream(rawValue: 1 << 0)
    public static let timeout = NextUpstream(rawValue: 1 << 1)
    public static let invalidHeader = NextUpstream(rawValue: 1 << 2)
    public static let http500 = NextUpstream(rawValue: 1 << 3)
    public static let http502 = NextUpstream(rawValue: 1 << 4)
    public static let http503 = NextUpstream(rawValue: 1 << 5)
    public static let http504 = NextUpstream(rawValue: 1 << 6)
    public static let http403 = NextUpstream(rawValue: 1 << 7)
    public static let http404 = NextUpstream(rawValue: 1 << 8)
    public static let http429 = NextUpstream(rawValue: 1 << 9)
    public static let nonIdempotent = NextUpstream(rawValue: 1 << 10)

    /// The first status condition's bit (UpstreamStatusConditions' order).
    static let firstStatusBit = 3

    public static let byName: [String: NextUpstream] = UpstreamStatusConditions.names(firstBit: firstStatusBit)
        .mapValues { NextUpstream(rawValue: $0) }
        .merging([
            "error": .error, "timeout": .timeout, "invalid_header": .invalidHeader, "non_idempotent": .nonIdempotent,
        ]) { a, _ in a }

    /// The condition a response status stands for (nil when no condition names it).
    @inline(__always) public static func status(_ code: Int) -> NextUpstream? {
        UpstreamStatusConditions.position(code).map { NextUpstream(rawValue: 1 << UInt16(firstStatusBit + $0)) }
    }
}

/// `proxy_redirect` rules.
public enum ProxyRedirect: Sendable {
    case off
    /// `default`: the proxy_pass URL is replaced by the location's prefix.
    case `default`
    case rules([ProxyRedirectRule])
}

public struct ProxyRedirectRule: Sendable {
    /// A literal prefix (nil for `default` in a list, resolved per location).
    public let from: ComplexValue?
    public let regex: Regex?
    public let to: ComplexValue
    public init(from: ComplexValue?, regex: Regex?, to: ComplexValue) {
        self.from = from
        self.regex = regex
        self.to = to
    }
}

/// A `proxy_set_header` or `uwsgi_param`.
public struct UpstreamParam: Sendable {
    public let name: String
    /// `name` as bytes (what a uwsgi, FastCGI or SCGI request carries).
    public let nameBytes: [UInt8]
    /// Lowercased `name` as bytes, for comparisons with client headers.
    public let lowercasedName: [UInt8]
    public let value: ComplexValue
    /// `uwsgi_param ... if_not_empty`; for `proxy_set_header` an empty value always removes.
    public let ifNotEmpty: Bool
    /// A `proxy_set_header` whose value has no variables: its whole line ("Name: value\r\n",
    /// empty when the value is, as the field is then not sent), made once here.
    public let staticLine: [UInt8]?
    /// The name is Host / Connection (any case), and, for Connection, the value is the
    /// constant `close`: what the proxy's request head checks for each line.
    public let isHost: Bool
    public let isConnection: Bool
    public let isStaticClose: Bool
    public init(name: String, value: ComplexValue, ifNotEmpty: Bool) {
        self.name = name
        self.nameBytes = Array(name.utf8)
        self.lowercasedName = Array(name.lowercased().utf8)
        self.value = value
        self.ifNotEmpty = ifNotEmpty
        let lower = name.lowercased()
        isHost = lower == "host"
        isConnection = lower == "connection"
        if value.isStatic {
            let bytes = value.staticBytes
            staticLine = bytes.isEmpty ? [] : nameBytes + Array(": ".utf8) + bytes + [13, 10]
            isStaticClose = isConnection && String(decoding: bytes, as: UTF8.self).lowercased() == "close"
        } else {
            staticLine = nil
            isStaticClose = false
        }
    }
}

/// Settings of the proxy module (and, with the `uwsgi_` prefix, of the uwsgi module)
/// for one location, after inheritance.
public struct UpstreamSettings: Sendable {
    /// Milliseconds.
    public var connectTimeout: Int = 60_000
    public var sendTimeout: Int = 60_000
    public var readTimeout: Int = 60_000
    public var buffering: Bool = true
    public var requestBuffering: Bool = true
    /// `proxy_buffer_size`: the largest response head (one page by default).
    public var bufferSize: Int = 4096
    /// `proxy_buffers number size`: memory for a buffered response.
    public var buffers: (count: Int, size: Int) = (8, 4096)
    public var busyBuffersSize: Int = 8192
    /// Bytes of a buffered response that may go to a temporary file (0 = none).
    public var maxTempFileSize: Int64 = 1 << 30
    /// Lowercased response header names not passed to the client, beyond the defaults.
    public var hideHeaders: Set<String> = []
    /// Lowercased default-hidden names that are passed anyway (`proxy_pass_header`).
    public var passHeaders: Set<String> = []
    /// `proxy_ignore_headers` (lowercased): X-Accel-* fields that are not acted upon.
    public var ignoreHeaders: Set<String> = []
    public var nextUpstream: NextUpstream = [.error, .timeout]
    /// 0 = unlimited.
    public var nextUpstreamTries: Int = 0
    /// Milliseconds, 0 = unlimited.
    public var nextUpstreamTimeout: Int = 0
    public var interceptErrors: Bool = false
    /// `proxy_ignore_client_abort`: a client that closes does not end the upstream request
    /// (its answer is read to the end and dropped, so the upstream finishes its work).
    public var ignoreClientAbort: Bool = false
    public var passRequestHeaders: Bool = true
    public var passRequestBody: Bool = true
    /// `proxy_set_header` / `uwsgi_param` lines of the nearest level that has any.
    public var params: [UpstreamParam] = []
    /// `proxy_http_version 1.1` (false = 1.0, nginx's default).
    public var http11: Bool = false
    /// `proxy_http_version 2`: HTTP/2 to the upstream (http11 is set too).
    public var http2: Bool = false
    /// `proxy_pass_trailers`: an HTTP/2 upstream's trailer fields go to a chunked client answer.
    public var passTrailers: Bool = false
    /// `proxy_method`.
    public var method: ComplexValue? = nil
    public var redirect: ProxyRedirect = .default
    /// `proxy_cookie_domain` / `proxy_cookie_path` / `proxy_cookie_flags`; empty = off.
    public var cookieDomains: [CookieRewrite] = []
    public var cookiePaths: [CookieRewrite] = []
    public var cookieFlags: [CookieFlagRule] = []
    /// `proxy_set_body`: the body sent instead of the client's (which is read and dropped).
    public var setBody: ComplexValue? = nil
    /// `proxy_bind` / `uwsgi_bind` (nil: off).
    public var bind: UpstreamBind? = nil
    /// `proxy_ssl_*`: TLS to the upstream.
    public var upstreamSSL = UpstreamSSLSettings()
    /// `uwsgi_modifier1` / `uwsgi_modifier2`.
    public var modifier1: UInt8 = 0
    public var modifier2: UInt8 = 0
    /// `fastcgi_index`, `fastcgi_split_path_info`, `fastcgi_keep_conn`, `fastcgi_catch_stderr`.
    public var fastcgi = FastCGISettings()
    /// Names the module hides besides `defaultHidden` ("status" for FastCGI and SCGI).
    public var protocolHidden: Set<String> = []
    /// `proxy_cache*` / `uwsgi_cache*` (CacheSettings.swift).
    public var cache = UpstreamCacheSettings()
    public init() {}

    /// The settings a CGI-style module (FastCGI, SCGI) starts from: its `Status` field is
    /// hidden from the client, as nginx's fastcgi and scgi modules hide it.
    public static func cgi() -> UpstreamSettings {
        var s = UpstreamSettings()
        s.protocolHidden = ["status"]
        s.updateHidden()
        return s
    }

    /// Lowercased names not passed to the client: nginx's defaults minus `passHeaders`
    /// plus `hideHeaders` (kept in step by `updateHidden()`).
    public var hidden: [[UInt8]] = UpstreamSettings.defaultHidden.sorted().map { Array($0.utf8) }
    /// Bit n set when some hidden name is n bytes long (63: 63 or more): a field of
    /// another length is not compared with them at all.
    public var hiddenLengths: UInt64 = UpstreamSettings.lengthMask(UpstreamSettings.defaultHidden)
    /// Whether `Server` / `Date` are among `hidden` (then the client gets swiftginx's own),
    /// decided once here rather than per response.
    public private(set) var hidesServer = true
    public private(set) var hidesDate = true

    mutating func updateHidden() {
        let names = UpstreamSettings.defaultHidden.union(protocolHidden).subtracting(passHeaders).union(hideHeaders)
        hidden = names.sorted().map { Array($0.utf8) }
        hiddenLengths = Self.lengthMask(names)
        hidesServer = names.contains("server")
        hidesDate = names.contains("date")
    }

    static func lengthMask(_ names: Set<String>) -> UInt64 {
        names.reduce(0) { $0 | 1 << UInt64(min(63, $1.utf8.count)) }
    }

    /// nginx's defaults hidden from the client (besides hop-by-hop fields).
    public static let defaultHidden: Set<String> = [
        "date", "server", "x-pad", "x-accel-expires", "x-accel-redirect", "x-accel-limit-rate",
        "x-accel-buffering", "x-accel-charset",
    ]
}

/// `proxy_bind address [transparent]`: the local address of upstream connections
/// ("addr" or "addr:port", variables allowed; an empty value binds nothing).
public struct UpstreamBind: Sendable {
    public let address: ComplexValue
    public let transparent: Bool
    public init(address: ComplexValue, transparent: Bool) {
        self.address = address
        self.transparent = transparent
    }

    /// "127.0.0.1", "127.0.0.1:8000", "[::1]:8000", "::1" split into host and port (0
    /// when absent); nil when it is not an address and port.
    public static func split(_ text: String) -> (host: String, port: Int)? {
        var host = text
        var port = 0
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()), p >= 0, p < 65536 else { return nil }
                port = p
            }
        } else if let colon = text.firstIndex(of: ":"), text.lastIndex(of: ":") == colon {
            host = String(text[..<colon])
            guard let p = Int(text[text.index(after: colon)...]), p >= 0, p < 65536 else { return nil }
            port = p
        }
        return isIPLiteral(host) ? (host, port) : nil
    }

    /// A dotted IPv4 address or an IPv6 literal (nginx binds addresses, not names).
    static func isIPLiteral(_ host: String) -> Bool {
        if host.contains(":") {
            return host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } && host.count >= 2
        }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { p in p.count <= 3 && Int(p).map { $0 <= 255 } == true }
    }
}

/// An active health check (`health_check` in a location that proxies to an upstream,
/// NGINX Plus's syntax).
public struct HealthCheck: Sendable {
    /// Milliseconds.
    public var interval: Int = 5_000
    public var jitter: Int = 0
    public var fails: Int = 1
    public var passes: Int = 1
    public var uri: String = "/"
    public var port: Int? = nil
    public var match: HealthMatch? = nil
    /// New peers start unhealthy until a check passes.
    public var mandatory: Bool = false
    public var persistent: Bool = false
    /// The location's protocol, timeouts and Host header ($proxy_host).
    public var proto: UpstreamProtocol = .http
    public var connectTimeout: Int = 60_000
    public var readTimeout: Int = 60_000
    public var host: String = ""
    public init() {}
}

/// A `match` block: what a passing answer looks like.
public struct HealthMatch: Sendable {
    public var name: String
    /// `status` lines: each a list of codes and ranges, possibly negated.
    public var statuses: [(ranges: [ClosedRange<Int>], negated: Bool)] = []
    public var headers: [HeaderCondition] = []
    /// `body ~ "re"` / `body !~ "re"`.
    public var body: [(Regex, negated: Bool)] = []
    public init(name: String) { self.name = name }
}

/// `header Name`, `header ! Name`, `header Name = v`, `!= v`, `~ re`, `!~ re`.
public enum HeaderCondition: Sendable {
    case present(String, negated: Bool)
    case equals(String, String, negated: Bool)
    case matches(String, Regex, negated: Bool)
}

/// Copy-on-write storage for a large settings value inside LocationSettings: copying the
/// location's settings (done per request on the static path) then retains one box
/// instead of every array and set inside the value.
public struct CopyOnWrite<T: Sendable>: @unchecked Sendable {
    final class Box: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }
    private var box: Box

    public init(_ value: T) { box = Box(value) }

    /// Both hold the same storage (so assigning one to the other would change nothing).
    public func isSameStorage(as other: CopyOnWrite<T>) -> Bool { box === other.box }

    /// Read in place (no copy of the value); written with copy-on-write.
    public var value: T {
        _read { yield box.value }
        set {
            if isKnownUniquelyReferenced(&box) {
                box.value = newValue
            } else {
                box = Box(newValue)
            }
        }
    }
}
