// OCSP stapling's fetcher (`ssl_stapling on`): one background thread per
// configuration generation asks the responders for the OCSP status of every
// certificate that staples, and stores each good answer in its OCSPStaple, where the
// workers' status callback finds it. Handshakes never wait for it. Unlike nginx, which
// asks on the first handshake that wants a staple (so that handshake goes without),
// the first requests start with the generation, at startup and on every reload.
// Refreshes follow nginx: a good response is asked again 5 minutes before its
// nextUpdate but at most an hour later and at least 5 minutes later; a failure is
// retried after 5 minutes while the last good response is stapled until it expires.
// Failures are logged as nginx logs them, e.g. `certificate status "revoked" in the
// OCSP response while requesting certificate status, responder: ocsp.example.com,
// peer: 192.0.2.1:80, certificate: "/etc/ssl/cert.pem"`. A reload stops the old
// generation's thread (within a tenth of a second, or when a name resolution ends).

import Glibc
import SwiftginxPosix
import SwiftginxTLS
import Synchronization

final class OCSPStapler: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let staples: [OCSPStaple]
    private let log: ErrorLog

    init(tls: TLSContexts, log: ErrorLog) {
        staples = tls.all.flatMap { $0.staples.filter { $0.responder != nil } }
        self.log = log
    }

    /// Starts the thread (detached: it ends by itself once stopped), if anything staples.
    func start() {
        guard !staples.isEmpty else { return }
        let thread = ProcessControl.startThread { [self] in self.run() }
        pthread_detach(thread)
    }

    /// Asks the thread to end.
    func stop() { stopped.store(true, ordering: .releasing) }

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func run() {
        // Monotonic milliseconds at which each staple is asked again.
        var due = [Int64](repeating: 0, count: staples.count)
        while !isStopped {
            for (i, staple) in staples.enumerated() where due[i] <= Clock.monotonicMilliseconds() {
                if isStopped { return }
                due[i] = Clock.monotonicMilliseconds() + Int64(refresh(staple)) * 1000
            }
            while !isStopped, let next = due.min(), next > Clock.monotonicMilliseconds() {
                usleep(useconds_t(min(next - Clock.monotonicMilliseconds(), 100) * 1000))
            }
        }
    }

    /// One request for `staple`; returns the seconds until the next one.
    private func refresh(_ staple: OCSPStaple) -> Int {
        guard let responder = staple.responder else { return Int(Int32.max) }
        let context = { (peer: String?) -> String in
            " while requesting certificate status, responder: \(responder.host)"
                + (peer.map { ", peer: \($0)" } ?? "") + ", certificate: \"\(staple.name)\""
        }
        let request: [UInt8]
        switch staple.requestDER() {
        case .failure(let e):
            log.log(.crit, e.message + context(nil))
            return 300
        case .success(let der): request = der
        }
        let exchange = OCSPExchange(
            responder: responder, target: staple.requestTarget(request), isStopped: { [self] in self.isStopped })
        guard let answer = exchange.run(report: { log.log(.error, $0 + context($1)) }) else { return 300 }
        switch staple.check(answer.body) {
        case .failure(let e):
            log.log(.error, e.message + context(answer.peer))
            return 300
        case .success(let validUntil):
            staple.store(answer.body, validUntil: validUntil)
            let now = Int(time(nil))
            let refreshAt = max(min(validUntil - 300, now + 3600), now + 300)
            return refreshAt - now
        }
    }
}
