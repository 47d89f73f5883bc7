// Subrequests that run side by side, as nginx starts all of an SSI page's includes at
// once: each is a Request of its own in the parent's `runningSubrequests`, driven by its
// own upstream socket events; client events reach each of them through the parent's
// `resume`. Timers: a subrequest keeps its own deadline (`ownDeadline`) and the
// connection's one timer is armed for the earliest of them, so each include waiting on
// a cache lock or an upstream times out on its own timer, not after the one before it.
// A finished one is handed to the page's SSI filter, which puts its body in its place
// in the page (document order, whatever the order they finish in).
//
// A concurrent subrequest may answer with a stale cache entry and update it in the
// background (proxy_cache_background_update, as nginx's background subrequest): its
// parent takes the stale answer at once and the subrequest stays in the list until the
// update ends. The page is sent meanwhile (`sendAnswerWhileUpdating`); the request
// ends (log, keep-alive) when the last update has, as nginx keeps the main request.

extension Request {

    /// A subrequest arms its own timer: the parent's (and so the connection's) timer
    /// goes to the earliest deadline of its subrequests.
    func scheduleSubrequestTimer(_ ms: Int) {
        ownDeadline = worker.now + Int64(timeout(ms))
        parent?.rearmSubrequestTimers()
    }

    /// Arms the timer for the earliest deadline of this request's subrequests.
    func rearmSubrequestTimers() {
        var earliest = Int64.max
        // The main request's own: a streamed SSI page's send_timeout (SSIFilter+Stream.swift).
        if !isSubrequest && ownDeadline > 0 { earliest = ownDeadline }
        if let s = subrequest, !s.finished, s.request.ownDeadline > 0 {
            earliest = min(earliest, s.request.ownDeadline)
        }
        for s in runningSubrequests where (!s.finished || s.updating) && s.request.ownDeadline > 0 {
            earliest = min(earliest, s.request.ownDeadline)
        }
        guard earliest != .max else { return }
        if isSubrequest {
            ownDeadline = earliest
            parent?.rearmSubrequestTimers()
            return
        }
        let ms = Int(max(0, earliest - worker.now))
        if let stream {
            stream.schedule(after: timeout(ms))
        } else {
            worker.schedule(connection, after: timeout(ms))
        }
    }

    /// The timer fired while subrequests run: those whose deadline has come get their
    /// timeout; the timer is armed again for the others.
    func subrequestTimersFired() {
        let now = worker.now
        if !isSubrequest && ownDeadline > 0 && ownDeadline <= now {
            ownDeadline = 0
            ssiFilter?.streamTimedOut()
            if ssiFilter == nil { return }
        }
        if let s = subrequest, !s.finished { Self.fireIfDue(s.request, now) }
        if !runningSubrequests.isEmpty {
            let list = runningSubrequests
            for s in list where !s.finished || s.updating { Self.fireIfDue(s.request, now) }
        }
        rearmSubrequestTimers()
    }

    private static func fireIfDue(_ child: Request, _ now: Int64) {
        guard child.ownDeadline > 0, child.ownDeadline <= now else { return }
        child.ownDeadline = 0
        child.onTimeout()
    }

    /// A client event (or a timeout) while concurrent subrequests run: each goes on as
    /// far as it can, then the finished ones are taken. True when the parent's state
    /// changed (its answer is complete).
    func resumeConcurrentSubrequests() -> Bool {
        let list = runningSubrequests
        for s in list where !s.finished || s.updating { _ = s.request.resume() }
        if let sub = subrequest, sub.request.resume(), subrequestEnded() { return true }
        if concurrentSubrequestsProgressed() { return true }
        guard let ssi = ssiFilter else { return false }
        if ssi.stream != nil {
            // A streamed page: the socket may take more now.
            ssi.pumpStream()
            return ssiFilter !== ssi
        }
        if ssi.isComplete { sendAnswerWhileUpdating() }
        return false
    }

    /// The finished concurrent subrequests go to the page's SSI filter, in any order (it
    /// puts each body in its place). True when the page is complete.
    func concurrentSubrequestsProgressed() -> Bool {
        guard case .waitingForSubrequest = activeContent, let ssi = ssiFilter else { return false }
        // Background updates that ended are let go.
        for s in runningSubrequests where s.bodyTaken && !s.updating { SSISubrequest.release(self, s) }
        if ssi.isComplete {
            // The page was sent while updates ran: the request ends with the last one.
            guard runningSubrequests.isEmpty else { return false }
            ssiFilter = nil
            activeContent = .none
            flushResponse()
            return true
        }
        var took = false
        for s in runningSubrequests where s.finished && !s.bodyTaken {
            if !took {
                activeContent = .none
                took = true
            }
            // Taken out of the list (or kept, marked taken, while it updates).
            ssi.includeAnswered(s)
        }
        guard took else { return false }
        keepWaitingForConcurrent(ssi)
        return ssiFilter !== ssi
    }

    /// After the filter went on: while the request keeps it (includes to wait for, a
    /// page being streamed, background updates), the request waits.
    func keepWaitingForConcurrent(_ ssi: SSIFilter) {
        guard ssiFilter === ssi, case .none = activeContent else { return }
        activeContent = .waitingForSubrequest
    }

    /// The connection closed: every running subrequest stops.
    func abandonConcurrentSubrequests() {
        let list = runningSubrequests
        runningSubrequests.removeAll()
        for s in list {
            s.request.abandon()
            s.request.writer.releaseFile()
            s.request.releaseContent()
        }
    }

    // MARK: background updates

    /// Whether this subrequest may answer with a stale entry while it updates it in the
    /// background: a concurrent one (an SSI include) of the main request, over HTTP/1.x
    /// (an HTTP/2 stream's page could not be sent before its request ends).
    var mayUpdateInBackground: Bool {
        guard let parent, !parent.isSubrequest, parent.stream == nil, !headerOnlySubrequest else { return false }
        return parent.runningSubrequests.contains { $0.request === self }
    }

    /// The subrequest's answer (a stale entry) is complete and its parent may take it,
    /// but it goes on updating the entry.
    func answeredBeforeUpdate() {
        guard let parent else { return }
        for s in parent.runningSubrequests where s.request === self {
            s.finished = true
            s.updating = true
            return
        }
    }

    /// An include still updates a cache entry.
    var hasUpdatingSubrequests: Bool {
        for s in runningSubrequests where s.updating { return true }
        return false
    }

    /// The answer is complete but background updates still run: what the writer holds
    /// goes to the client now (what the socket does not take goes with the end of the
    /// request), and the request waits for the updates.
    func sendAnswerWhileUpdating() {
        if case .waitingForSubrequest = activeContent {} else { activate(.waitingForSubrequest) }
        let out = output
        do {
            while out.readableCount > 0 {
                switch try writeClient(out.base + out.readerIndex, out.readableCount) {
                case .wouldBlock: return
                case .processed(let n): out.readerIndex += n
                }
            }
            out.clear()
            writer.responseStart = 0
        } catch {
            // The connection finds the error again when it sends the rest.
            return
        }
    }
}
