// OCSP stapling's fetcher (`ssl_stapling on`), run by the housekeeping loop: every
// certificate that staples is a StapleRefresh job that asks its responder for the
// certificate's OCSP status (an OCSPExchange) and stores each good answer in its
// OCSPStaple, where the workers' status callback finds it. The requests of several
// certificates run at the same time; handshakes never wait for them. Unlike nginx,
// which asks on the first handshake that wants a staple (so that handshake goes
// without), the first requests start with the generation, at startup and on every
// reload. Refreshes follow nginx: a good response is asked again 5 minutes before its
// nextUpdate but at most an hour later and at least 5 minutes later; a failure is
// retried after 5 minutes while the last good response is stapled until it expires.
// Failures are logged as nginx logs them, e.g. `certificate status "revoked" in the
// OCSP response while requesting certificate status, responder: ocsp.example.com,
// peer: 192.0.2.1:80, certificate: "/etc/ssl/cert.pem"`. A reload ends the old
// generation's requests at once (their sockets closed, nothing logged).

import SwiftginxPosix
import SwiftginxTLS

enum OCSPStapler {
    /// One job per certificate of `generation` that asks a responder.
    static func jobs(_ generation: Generation, log: ErrorLog, resolutions: ResolutionCache) -> [HousekeepingJob] {
        generation.tls.all.flatMap { $0.staples.filter { $0.responder != nil } }.map {
            .staple(StapleRefresh(staple: $0, log: log, resolutions: resolutions))
        }
    }
}

/// Keeps one certificate's staple fresh; lives on the housekeeping loop.
final class StapleRefresh {
    private let staple: OCSPStaple
    private let log: ErrorLog
    private let resolutions: ResolutionCache
    private var exchange: OCSPExchange? = nil

    init(staple: OCSPStaple, log: ErrorLog, resolutions: ResolutionCache) {
        self.staple = staple
        self.log = log
        self.resolutions = resolutions
    }

    /// Starts a request for the staple.
    func begin(now: Int64) -> HousekeepingStep {
        guard let responder = staple.responder else { return again(in: Int(Int32.max)) }
        let request: [UInt8]
        switch staple.requestDER() {
        case .failure(let e):
            log.log(.crit, e.message + context(responder, nil))
            return again(in: 300)
        case .success(let der): request = der
        }
        let exchange = OCSPExchange(
            responder: responder, target: staple.requestTarget(request),
            report: { [log, staple] message, peer in
                log.log(.error, message + StapleRefresh.context(responder, staple, peer))
            })
        self.exchange = exchange
        return step(exchange.start(resolutions: resolutions, now: now))
    }

    /// The request's socket exchange ended.
    func finish(_ outcome: SocketExchange.Outcome, now: Int64) -> HousekeepingStep {
        guard let exchange else { return again(in: 300) }
        return step(exchange.finish(outcome, now: now))
    }

    private func step(_ progress: OCSPExchange.Progress) -> HousekeepingStep {
        switch progress {
        case .exchange(let e): return .exchange(e)
        case .done(let answer):
            exchange = nil
            return again(in: conclude(answer))
        }
    }

    /// Checks and stores a responder's answer; returns the seconds until the next request.
    private func conclude(_ answer: (body: [UInt8], peer: String)?) -> Int {
        guard let answer, let responder = staple.responder else { return 300 }
        switch staple.check(answer.body) {
        case .failure(let e):
            log.log(.error, e.message + context(responder, answer.peer))
            return 300
        case .success(let validUntil):
            staple.store(answer.body, validUntil: validUntil)
            let now = Int(Clock.wallMilliseconds() / 1000)
            let refreshAt = max(min(validUntil - 300, now + 3600), now + 300)
            return refreshAt - now
        }
    }

    private func again(in seconds: Int) -> HousekeepingStep {
        .idle(until: Clock.monotonicMilliseconds() + Int64(seconds) * 1000)
    }

    private func context(_ responder: OCSPResponder, _ peer: String?) -> String {
        StapleRefresh.context(responder, staple, peer)
    }

    /// The end of nginx's log lines about a request.
    static func context(_ responder: OCSPResponder, _ staple: OCSPStaple, _ peer: String?) -> String {
        " while requesting certificate status, responder: \(responder.host)"
            + (peer.map { ", peer: \($0)" } ?? "") + ", certificate: \"\(staple.name)\""
    }
}
