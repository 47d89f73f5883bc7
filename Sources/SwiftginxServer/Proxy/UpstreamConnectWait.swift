// Upstream connects that wait for the end of the worker's loop turn, and a keep-alive
// cache that may run over its size for a moment, so that a connection freed at about
// the same time serves a new request instead of being closed while another connects.
//
// Under many concurrent requests (an HTTP/2 client with 10 streams on each of 50
// connections is 500 at once) the `keepalive N` cache empties and fills in bursts:
// answers end (their connections go back to the cache, whose overflow nginx closes at
// once) while new requests find the cache empty (and connect): most requests then pay
// a connect and a close. So:
//
// - during a turn, a request that finds no idle connection to its peer waits (its try
//   is set up, its peer chosen) until the turn's events are handled; then it takes a
//   cached connection (most recent first) or connects. A connect is never later than
//   the end of the event batch it was asked in.
// - a connection coming back to a full cache during a turn is kept beyond N while it
//   has been idle less than `idleOverflowMilliseconds` (the loop wakes up for it);
//   the least recently used ones beyond N are closed then, as nginx's cache closes
//   them at once. Under load a connection is wanted again well within that moment
//   (the client's next request), so the cache churns no more.
//
// Only groups with `keepalive` take part; without it every request connects at once.

import SwiftginxConfig

extension Worker {
    /// How long the idle cache may hold more than `keepalive` connections.
    static let idleOverflowMilliseconds: Int64 = 10

    /// Whether `exchange`'s connect waits for the end of the turn (its peer is chosen
    /// and no idle connection to it is cached now).
    func deferConnect(_ exchange: ProxyExchange, group: UpstreamGroup) -> Bool {
        guard inEventTurn, group.keepalive > 0, group.index >= 0 else { return false }
        exchange.connectDeferred = true
        connectWaiters.append(exchange)
        return true
    }

    /// The end of a turn: waiting requests take cached connections or connect; an
    /// overflowing cache goes back to its `keepalive` size once its moment is over.
    func serveConnectWaiters() {
        while !connectWaiters.isEmpty {
            let batch = connectWaiters
            connectWaiters.removeAll(keepingCapacity: true)
            for x in batch where x.connectDeferred {
                x.connectDeferred = false
                // Ended meanwhile (the client went away): nothing to connect.
                guard x.phase == .connecting, x.upstream == nil, let group = x.group else { continue }
                if let u = takeIdleUpstream(group: group, peer: x.peer) {
                    x.useIdleUpstream(u)
                } else {
                    x.openUpstream(group)
                }
                if x.drive() { x.request.wakeDownstream() }
            }
        }
        if idleOverflow && (now - idleOverflowAt >= Self.idleOverflowMilliseconds || stopping) {
            trimIdleUpstreams()
        }
    }

    /// Closes the least recently used idle connections beyond each group's `keepalive`
    /// that have been idle `idleOverflowMilliseconds` (all of them when stopping).
    func trimIdleUpstreams() {
        idleOverflow = false
        for gi in idleUpstreams.indices {
            guard let keep = idleUpstreams[gi].first?.group?.keepalive else { continue }
            while idleUpstreams[gi].count > keep {
                let u = idleUpstreams[gi][0]
                if !stopping && now - u.idleSince < Self.idleOverflowMilliseconds {
                    // The next one due: the loop wakes up for it.
                    if !idleOverflow || u.idleSince < idleOverflowAt { idleOverflowAt = u.idleSince }
                    idleOverflow = true
                    break
                }
                closeUpstream(idleUpstreams[gi].removeFirst())
            }
        }
    }
}
