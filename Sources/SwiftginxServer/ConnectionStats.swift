// The connection and request counters behind stub_status and `$connections_*`.
// Each worker owns one `ConnectionStats` and is its only writer: a count goes up with
// a relaxed load and store (a plain add on x86, no locked instruction and no cache
// line shared between workers), and a reader on any thread sums every worker's
// counters. Only monotonic counts are kept on the hot path; the states are derived:
// writing = requests begun − requests ended, waiting = active − reading − writing.

import Synchronization

final class ConnectionStats: Sendable {
    /// Connections accepted (nginx's `accepts`; every one is also `handled`: a worker
    /// stops accepting at worker_connections instead of accepting and dropping).
    let accepted = Atomic<Int>(0)
    let closed = Atomic<Int>(0)
    /// Requests begun (a complete or rejected head): nginx's `requests`.
    let requests = Atomic<Int>(0)
    /// Requests whose connection has left the writing states (sending, active,
    /// discarding the body, lingering).
    let finished = Atomic<Int>(0)
    /// Connections reading a head (part of one has arrived) or in the TLS handshake.
    let reading = Atomic<Int>(0)
    /// Keeps two workers' counters off one cache line.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)

    init() {}

    /// Owner-only increments: a relaxed load and store, not a read-modify-write.
    @inline(__always) func bump(_ counter: borrowing Atomic<Int>, by n: Int = 1) {
        counter.store(counter.load(ordering: .relaxed) &+ n, ordering: .relaxed)
    }
}

/// The sum over every worker, as stub_status shows it.
struct ConnectionCounts {
    var active = 0
    var accepts = 0
    var handled = 0
    var requests = 0
    var reading = 0
    var writing = 0
    var waiting = 0

    init(_ all: [ConnectionStats]) {
        var closed = 0
        var finished = 0
        for s in all {
            // Read in the reverse of the order they are written (closed before
            // accepted, finished before requests): counts never go negative.
            closed &+= s.closed.load(ordering: .relaxed)
            finished &+= s.finished.load(ordering: .relaxed)
            reading &+= s.reading.load(ordering: .relaxed)
            requests &+= s.requests.load(ordering: .relaxed)
            accepts &+= s.accepted.load(ordering: .relaxed)
        }
        handled = accepts
        active = max(0, accepts &- closed)
        reading = max(0, min(reading, active))
        writing = max(0, min(requests &- finished, active - reading))
        waiting = active - reading - writing
    }
}
