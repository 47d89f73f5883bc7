// worker_shutdown_timeout: nginx's old worker processes close every connection still
// open that long after a reload or a graceful stop (idle ones, slow downloads,
// upgraded tunnels). Here the workers are threads that stay across reloads, so each
// connection remembers the generation it was accepted under, and a reload whose old
// configuration sets the timeout schedules the closing of the connections older than
// the new generation; a graceful stop schedules all of them. Without the directive,
// connections end in their own time, as in nginx.

extension Worker {
    /// The earliest retirement deadline (Int64.max when none).
    var nextRetirement: Int64 {
        var t = Int64.max
        for r in retirements where r.at < t { t = r.at }
        return t
    }

    func scheduleRetirement(before generationNumber: Int, after ms: Int) {
        retirements.append((generationNumber, now + Int64(ms)))
    }

    /// Closes the connections whose deadline has passed.
    func retireConnections() {
        var before = 0
        retirements.removeAll { r in
            guard r.at <= now else { return false }
            before = max(before, r.before)
            return true
        }
        guard before > 0 else { return }
        for case let c? in connections where c.acceptedGeneration < before {
            c.logDebugShutdownTimeout()
            c.close()
        }
    }
}

extension HTTP1Connection {
    /// nginx logs this at debug level only.
    func logDebugShutdownTimeout() {
        let log = worker.state.errorLog
        guard log.enabled(.debug) else { return }
        log.log(.debug, "*\(number) shutdown timeout")
    }
}
