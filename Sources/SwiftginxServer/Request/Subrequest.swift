// Subrequests: an internal Request whose answer goes to its parent instead of the
// client — its status and headers, and its body, which stays in its writer's memory
// (auth_request drops it; an SSI include takes it, Handlers/SSIFilter+Support.swift) —
// as nginx's ngx_http_subrequest. The parent's phase handler starts one and suspends;
// the subrequest runs its own phases from the server's rewrite phase (location
// matching, rewrites, content: a static file, a proxy exchange, ...) on the same
// connection; when it has answered, the parent resumes at the step after the one that
// started it. A concurrent subrequest (an SSI page's include) does not stop its parent:
// several run side by side (Subrequest+Concurrent.swift). Nesting is limited as in
// nginx (50 levels: "subrequests cycle").

import SwiftginxConfig
import SwiftginxHTTP

final class Subrequest {
    static let maxDepth = 50

    let request: Request
    /// The subrequest has answered (its status and head are final).
    var finished = false
    /// It answered with a stale cache entry and updates the entry in the background
    /// (proxy_cache_background_update); `bodyTaken`: its parent has its answer.
    var updating = false
    var bodyTaken = false

    init(request: Request) {
        self.request = request
    }

    /// The answer's status.
    var status: Int { request.status }

    /// A header of the answer, from the head it wrote (nil when absent; a subrequest's
    /// head is always kept, see Request.finishHead).
    func header(_ lowercasedName: String) -> [UInt8]? {
        ResponseHeadScan.value(of: Array(lowercasedName.utf8), in: request.writer.lastResponseHead)
    }
}

extension Request {

    /// Starts a subrequest for `uri` (with `args`); nil (and a 500 answered) past the
    /// nesting limit. The caller returns `.suspend` unless it has already finished.
    /// `concurrent`: the parent goes on while it runs (it joins `runningSubrequests`).
    func startSubrequest(uri: [UInt8], args: [UInt8]?, headerOnly: Bool, concurrent: Bool = false) -> Subrequest? {
        guard let server else { return nil }
        if depth + 1 >= Subrequest.maxDepth {
            logError("subrequests cycle while processing \"\(String(decoding: uri, as: UTF8.self))\"")
            ErrorPages.respond(self, 500)
            return nil
        }
        let child = Request(worker: worker, writer: ResponseWriter(worker: worker, capacity: 256), input: input)
        child.connection = connection
        child.headBase = headBase
        child.connectionRequests = connectionRequests
        child.shuttingDown = shuttingDown
        child.realAddress = realAddress
        child.realAddressText = realAddressText
        child.parent = self
        child.isSubrequest = true
        child.depth = depth + 1
        child.head = head
        child.trace = trace
        child.startMilliseconds = worker.clock.milliseconds
        child.server = server
        child.adopt(server.serverLevelLocation)
        child.isInternal = true
        child.keepAlive = keepAlive
        child.uri = uri
        child.headerOnlySubrequest = headerOnly
        if let args {
            child.args = args
            child.hasArgs = !args.isEmpty
        }
        let sub = Subrequest(request: child)
        if concurrent {
            runningSubrequests.append(sub)
        } else {
            subrequest = sub
        }
        // As nginx, an internal request starts at the server's rewrite phase.
        child.steps = server.stepBuffer
        child.stepIndex = 0
        child.runPhases()
        if !sub.finished && trace == nil { activate(.waitingForSubrequest) }
        return sub
    }

    /// Called by a subrequest when it answered (its head and body are complete), or
    /// on any event it handled: the parent goes on once it has finished.
    func subrequestProgressed(_ child: Request) {
        guard let sub = subrequest, sub.request === child else {
            if concurrentSubrequestsProgressed() { wakeDownstream() }
            return
        }
        guard sub.finished else { return }
        if subrequestEnded() { wakeDownstream() }
    }

    /// The subrequest finished: the parent resumes its phases. True when the parent's
    /// state changed (the connection goes on).
    func subrequestEnded() -> Bool {
        guard let sub = subrequest, sub.finished, case .waitingForSubrequest = activeContent else { return false }
        activeContent = .none
        // An SSI `include` goes on with the page instead of the phases.
        if let ssi = ssiFilter {
            ssi.subrequestEnded()
            keepWaitingForConcurrent(ssi)
            return true
        }
        resumePhases()
        return true
    }

    /// A subrequest's answer is complete.
    func subrequestAnswered() {
        guard let parent else { return }
        if let sub = parent.subrequest, sub.request === self {
            sub.finished = true
            return
        }
        for s in parent.runningSubrequests where s.request === self {
            // Answered once already: now its background update has ended too.
            if s.finished { s.updating = false }
            s.finished = true
            return
        }
    }
}

/// Finding fields in serialized response head bytes ("Name: value\r\n" lines).
enum ResponseHeadScan {
    /// The first value of the field (nil when absent).
    static func value(of lowercasedName: [UInt8], in head: [UInt8]) -> [UInt8]? {
        var found: [UInt8]? = nil
        head.withUnsafeBytes { bytes in
            forEachValue(of: lowercasedName, in: bytes, underscoresAsDashes: false) { value in
                if found == nil { found = Array(value) }
            }
        }
        return found
    }

    /// Calls `body` with every value of the field, in order. With `underscoresAsDashes`,
    /// an underscore in the head's field name matches a dash in `lowercasedName`.
    static func forEachValue(
        of lowercasedName: [UInt8], in head: UnsafeRawBufferPointer, underscoresAsDashes: Bool,
        _ body: (UnsafeRawBufferPointer) -> Void
    ) {
        forEachLine(in: head) { line, colon in
            guard let colon else { return }
            let name = head[line.lowerBound..<colon]
            let matches =
                underscoresAsDashes
                ? asciiCaseEqual(name.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : $0 }, lowercasedName)
                : asciiCaseEqual(name, lowercasedName)
            guard matches else { return }
            var v = colon + 1
            while v < line.upperBound && head[v] == 32 { v += 1 }
            body(UnsafeRawBufferPointer(rebasing: head[v..<line.upperBound]))
        }
    }

    /// Calls `body` with every CRLF-terminated line (its range without the CRLF) and the
    /// position of its first ':' (nil when it has none).
    static func forEachLine(in bytes: UnsafeRawBufferPointer, _ body: (Range<Int>, Int?) -> Void) {
        var lineStart = 0
        var i = 0
        while i + 1 < bytes.count {
            guard bytes[i] == 13 && bytes[i + 1] == 10 else {
                i += 1
                continue
            }
            body(lineStart..<i, bytes[lineStart..<i].firstIndex(of: UInt8(ascii: ":")))
            i += 2
            lineStart = i
        }
    }
}
