// The phase engine: a request runs its server's compiled steps (server rewrite,
// find config), then those of the location found (find-config checks, rewrite,
// precontent, content) — nginx's phases, compiled per server and location at
// configuration time (SwiftginxConfig/Phases.swift). Each step's handler answers
// `.next` (go on), `.nextPhase` (skip the rest of this phase), `.findConfig` (the
// URI changed: search the locations again), `.done` (answered, or answering
// through an activated content handler) or `.suspend` (waiting for a subrequest or
// a timer; `resumePhases` continues at the same step). The route explainer runs
// this same engine with a trace sink (RouteTrace.swift).

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxRouting

extension Request {
    static let maxInternalRedirects = 10

    enum StepResult {
        case next, nextPhase, findConfig, done, suspend
    }

    /// A parsed head: set up the request and run its phases.
    func begin(group: ListenGroup) {
        reset(clearingURI: false)  // the path is normalized into `uri` below
        startMilliseconds = worker.clock.milliseconds
        let buf = headBytes
        let server = ServerSelection.select(self, buf, group)
        self.server = server
        adopt(server.serverLevelLocation)
        if stream != nil && !http2Allowed(server, group) { return }
        keepAlive = head.keepAlive
        // HTTP/2: a stream its head did not end has a body to read, even of length 0
        // (not a tunnel: its DATA frames are the tunnel's bytes).
        bodyPending = (head.contentLength ?? 0) > 0 || head.isChunked || stream?.hasOpenBody == true
        if head.expectContinue {
            // A proxy answers 100 Continue when it starts reading the body, as nginx does
            // (also for an empty body). The body is never read for static content: it is
            // not invited, and the connection closes after (a proxy undoes this).
            expectContinue = true
            if bodyPending {
                keepAlive = false
                bodyPending = false
            }
        }
        if head.isChunked, bodyPending, let e = bufferedChunkedBodyError() {
            // A malformed chunked body already here is refused before any answer, as nginx
            // refuses it when a handler first reads or discards it.
            logInfo(e.logMessage)
            keepAlive = false
            bodyPending = false
            ErrorPages.sendDefault(self, 400)
            return
        }
        let path = buf[head.path]
        guard path.first == UInt8(ascii: "/"),
            URINormalizer.normalize(
                UnsafeRawBufferPointer(rebasing: path), mergeSlashes: server.settings.mergeSlashes, into: &uri)
        else {
            trace?.note("the URI is invalid: 400")
            uri.removeAll(keepingCapacity: true)  // nginx has no $uri for a URI it refused
            logInfo("client sent invalid request")
            keepAlive = false
            ErrorPages.sendDefault(self, 400)
            return
        }
        if let q = head.query {
            hasArgs = true
            args.append(contentsOf: buf[q])
        }
        if let trace {
            trace.note(
                "uri: \(String(decoding: uri, as: UTF8.self))"
                    + (hasArgs ? " args: \(String(decoding: args, as: UTF8.self))" : ""))
        }
        if group.options.ssl && !ErrorPages.checkTLSRequest(self, server) { return }
        steps = server.stepBuffer
        stepIndex = 0
        runPhases()
    }

    /// Runs steps from the current position until one answers or suspends.
    func runPhases() {
        while stepIndex < steps.count {
            let step = steps[stepIndex]
            stepIndex += 1
            switch run(step) {
            case .next:
                continue
            case .nextPhase:
                let phase = step.phase
                while stepIndex < steps.count && steps[stepIndex].phase == phase { stepIndex += 1 }
            case .findConfig:
                redirects += 1
                isInternal = true
                findConfig()
                return
            case .done, .suspend:
                return
            }
        }
    }

    /// Continues after a suspended step.
    func resumePhases() {
        runPhases()
    }

    @inline(__always) private func run(_ step: PhaseStep) -> StepResult {
        trace?.step(step)
        switch step {
        case .serverRewrite:
            guard let server else { return .done }
            switch RewriteModule.run(self, server.serverRewrites, settings: server.defaultSettings) {
            case .handled: return .done
            case .proceed, .restart: return .next
            }
        case .findConfig:
            findConfig()
            return .done
        case .internalOnly:
            if isInternal { return .next }
            trace?.note("internal location, external request: 404")
            ErrorPages.respond(self, 404)
            return .done
        case .bodySizeLimit:
            guard let cl = head.contentLength, let location, cl > location.settings.clientMaxBodySize else {
                return .next
            }
            trace?.note("Content-Length \(cl) is over client_max_body_size: 413")
            logError("client intended to send too large body: \(cl) bytes")
            keepAlive = false
            bodyPending = true
            ErrorPages.respond(self, 413)
            return .done
        case .rewrite:
            guard let location else { return .done }
            switch RewriteModule.run(self, location.settings.rewrites, settings: location.settings) {
            case .handled:
                return .done
            case .restart:
                // A rewritten URI is an internal request that searches the locations again.
                return .findConfig
            case .proceed:
                if let current = self.location, current !== location {
                    // An `if` block switched the request to its pseudo-location: its
                    // steps after the rewrite phase run instead.
                    enterLocation(current, after: .rewrite)
                    if passLost {
                        // nginx: the proxy handler an earlier block set runs without an upstream.
                        logError("no upstream configuration")
                        ErrorPages.respond(self, 500)
                        return .done
                    }
                }
                return .next
            }
        case .realIP:
            guard let server else { return .next }
            return RealIPHandler.run(self, server.defaultSettings)
        case .realIPLocation:
            guard let location else { return .next }
            return RealIPHandler.run(self, location.settings)
        case .limitReq:
            return LimitReqHandler.run(self)
        case .limitConn:
            return LimitConnHandler.run(self)
        case .access:
            return AccessHandler.run(self)
        case .authBasic: return AuthBasicHandler.run(self)
        case .authRequest:
            guard let uri = location?.settings.authRequest else { return .next }
            return AuthRequestHandler.run(self, uri)
        case .postAccess:
            return postAccess()
        case .tryFiles:
            guard let t = location?.settings.tryFiles else { return .next }
            return TryFilesHandler.run(self, t)
        case .upstreamStatus:
            guard let location else { return .done }
            if let trace {
                trace.note("handler: upstream_status (JSON of every upstream and peer)")
                return .done
            }
            UpstreamStatusHandler.serve(self, settings: location.settings)
            return .done
        case .metrics:
            guard let location else { return .done }
            if let trace {
                trace.note("handler: metrics (Prometheus text exposition)")
                return .done
            }
            MetricsHandler.serve(self, settings: location.settings)
            return .done
        case .stubStatus:
            guard let location else { return .done }
            if let trace {
                trace.note("handler: stub_status (connection and request counts)")
                return .done
            }
            StubStatusHandler.serve(self, settings: location.settings)
            return .done
        case .pass:
            guard let location, let pass = location.settings.pass else { return .done }
            if let trace {
                trace.proxy(pass, location: location, uri: String(decoding: uri, as: UTF8.self))
                return .done
            }
            if head.headLength == 0 {
                if stream == nil {
                    // An error page of a refused HTTP/1 head has no request to pass on
                    // (the bytes after it cannot be told from a body): its status is
                    // answered with the built-in page.
                    let status = overrideStatus ?? 400
                    overrideStatus = nil
                    ErrorPages.sendDefault(self, status)
                    return .done
                }
                // A refused HTTP/2 stream's error page is proxied as nginx does: a GET of
                // the page's URI without the refused fields or the body (nginx skips it).
                bodyPending = false
            }
            if proxy == nil { proxy = ProxyExchange(request: self) }
            proxy.unsafelyUnwrapped.start(pass, location: location)
            return .done
        case .staticFiles:
            guard let location else { return .done }
            StaticFileHandler(request: self).serve(location)
            return .done
        }
    }

    /// Location matching for `uri` (nginx's find-config phase), then that location's steps.
    func findConfig() {
        guard let server else { return }
        if redirects > Request.maxInternalRedirects {
            logError(
                "rewrite or internal redirection cycle while internally redirecting to \"\(String(decoding: uri, as: UTF8.self))\""
            )
            trace?.note("rewrite or internal redirection cycle: 500")
            keepAlive = false
            overrideStatus = nil
            ErrorPages.sendDefault(self, 500)
            return
        }
        if !server.autoRedirects.isEmpty, server.autoRedirects.contains(String(decoding: uri, as: UTF8.self)) {
            // The location's name, escaped (nginx's escaped_name).
            var target = URIEscape.uri.escaped(uri) + [UInt8(ascii: "/")]
            if hasArgs { target += [UInt8(ascii: "?")] + args }
            trace?.note("a proxied prefix location ends in \"/\": 301 to the URI with the slash")
            ReturnHandler.redirect(self, 301, location: target, settings: server.defaultSettings)
            return
        }
        let match: LocationMatch<Location>?
        if let trace {
            let (m, lines) = server.locations.explain(String(decoding: uri, as: UTF8.self))
            trace.locationSearch(lines)
            match = m
        } else {
            match = uri.withUnsafeBytes { server.locations.match($0) }
        }
        guard let match else {
            // No location matches: nginx serves with the server level's settings.
            trace?.note("no location matches: the server level's settings")
            runLocation(server.serverLevelLocation, captures: [])
            return
        }
        if !match.captures.isEmpty {
            captureRegex = match.regex
            captureSubject = uri
        }
        runLocation(match.location, captures: match.captures)
    }

    /// Runs `location`'s steps (a matched, named or error_page location).
    func runLocation(_ location: Location, captures: [Range<Int>]) {
        if !captures.isEmpty { self.captures = captures }
        trace?.enter(location)
        enterLocation(location, after: nil)
        runPhases()
    }

    /// Makes `location` the request's location; its steps run from the first one of a
    /// phase after `phase` (all of them when nil).
    private func enterLocation(_ location: Location, after phase: HTTPPhase?) {
        if phase == nil, let limited = location.limitExcept {
            // limit_except: a method it does not list runs with the block's settings (a
            // subrequest is a GET, as nginx makes it).
            let allowed = isSubrequest ? limited.methods.contains("GET") : limited.allows(methodBytes)
            if !allowed {
                trace?.note("limit_except: the method is not listed, the block's settings apply")
                use(limited.location, after: nil)
                return
            }
        }
        use(location, after: phase)
    }

    @inline(__always) private func use(_ location: Location, after phase: HTTPPhase?) {
        self.location = location
        adopt(location)
        steps = location.stepBuffer
        stepIndex = 0
        if let phase {
            while stepIndex < steps.count && steps[stepIndex].phase <= phase { stepIndex += 1 }
        }
    }

    /// The request method as sent.
    var methodBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: headBytes[head.methodBytes]) }

    /// Restarts location matching with a new URI (index, error_page, try_files).
    /// A jump to a named location (error_page, try_files, X-Accel-Redirect), counted
    /// against the cycle limit as nginx counts it (a location that sends the request
    /// back to itself ends in a 500, not in an endless loop).
    func runNamedLocation(_ named: Location, name: String, captures: [Range<Int>]) {
        redirects += 1
        if redirects > Request.maxInternalRedirects {
            logError("rewrite or internal redirection cycle while redirect to named location \"@\(name)\"")
            keepAlive = false
            overrideStatus = nil
            ErrorPages.sendDefault(self, 500)
            return
        }
        isInternal = true
        runLocation(named, captures: captures)
    }

    func internalRedirect(to uri: [UInt8], args: [UInt8]?) {
        redirects += 1
        isInternal = true
        self.uri = uri
        if let args {
            self.args = args
            hasArgs = !args.isEmpty
        }
        trace?.note("internal redirect to \"\(String(decoding: uri, as: UTF8.self))\"")
        findConfig()
    }

    /// An internal redirect that starts again at the server's rewrite phase (nginx's
    /// ngx_http_internal_redirect, as X-Accel-Redirect uses it).
    func internalRedirectFromServer(to uri: [UInt8], args: [UInt8]) {
        guard let server else { return internalRedirect(to: uri, args: args) }
        redirects += 1
        isInternal = true
        uriChanged = true
        self.uri = uri
        self.args = args
        hasArgs = !args.isEmpty
        trace?.note("internal redirect to \"\(String(decoding: uri, as: UTF8.self))\"")
        location = nil
        steps = server.stepBuffer
        stepIndex = 0
        runPhases()
    }
}
