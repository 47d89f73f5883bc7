// Per-request state of a connection, reset (keeping capacity) for every request:
// the chosen server and location, the normalized URI, the response's status and
// metadata, and the settings read from the location that the connection needs
// after the response (timeouts, keep-alive, lingering).

import SwiftginxConfig
import SwiftginxRouting

struct RequestState {
    var server: VirtualServer? = nil
    var location: Location? = nil
    var captures: [Range<Int>] = []
    /// The regex and the URI its captures index into (the URI may change afterwards).
    var captureRegex: Regex? = nil
    var captureSubject: [UInt8] = []
    /// Values of `set` variables.
    var customVariables: [String: [UInt8]] = [:]
    /// Nesting of map evaluations (a map whose source is a map).
    var mapDepth = 0
    /// Normalized, %-decoded path (`$uri`).
    var uri: [UInt8] = []
    /// Query string without '?' (`$args`), as bytes.
    var args: [UInt8] = []
    var hasArgs = false
    var status = 0
    /// Set when an error_page redirect answers with another status.
    var overrideStatus: Int? = nil
    var isInternal = false
    /// A rewrite changed the URI (proxy_pass then sends the changed URI whole).
    var uriChanged = false
    /// The client sent `Expect: 100-continue` with a body.
    var expectContinue = false
    var redirects = 0
    var errorPageUsed = false
    /// The method after an error_page redirect (GET unless HEAD).
    var headOnly = false
    var keepAlive = true
    var bodyPending = false
    var lingerAlways = false
    var aborted = false
    /// Wall-clock milliseconds when the head was complete.
    var startMilliseconds: Int64 = 0
    var keepaliveTimeout = 75_000
    var sendTimeout = 60_000
    var bodyTimeout = 60_000
    var lingering: LingeringClose = .on
    var lingeringTime = 30_000
    var lingeringTimeout = 5_000
    var tcpNodelay = true
    var contentType: [UInt8] = []
    /// Header lines an X-Accel-Redirect answer passes on to the redirected response,
    /// and its Content-Type (which replaces the file's type).
    var carriedHeaders: [UInt8] = []
    var carriedContentType: [UInt8]? = nil

    mutating func reset() {
        server = nil
        location = nil
        captures.removeAll(keepingCapacity: true)
        captureRegex = nil
        captureSubject.removeAll(keepingCapacity: true)
        if !customVariables.isEmpty { customVariables.removeAll(keepingCapacity: true) }
        uri.removeAll(keepingCapacity: true)
        args.removeAll(keepingCapacity: true)
        hasArgs = false
        status = 0
        overrideStatus = nil
        isInternal = false
        uriChanged = false
        expectContinue = false
        redirects = 0
        errorPageUsed = false
        headOnly = false
        keepAlive = true
        bodyPending = false
        lingerAlways = false
        aborted = false
        contentType.removeAll(keepingCapacity: true)
        if !carriedHeaders.isEmpty { carriedHeaders.removeAll(keepingCapacity: true) }
        carriedContentType = nil
    }

    /// Copies what the connection needs after the response from a location.
    mutating func adopt(_ s: LocationSettings) {
        keepaliveTimeout = s.keepaliveTimeout
        sendTimeout = s.sendTimeout
        bodyTimeout = s.clientBodyTimeout
        lingering = s.lingeringClose
        lingerAlways = s.lingeringClose == .always
        lingeringTime = s.lingeringTime
        lingeringTimeout = s.lingeringTimeout
        tcpNodelay = s.tcpNodelay
    }
}
