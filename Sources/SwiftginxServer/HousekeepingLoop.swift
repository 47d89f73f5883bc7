// The housekeeping thread: one event loop for the whole process, apart from the
// workers, that runs the current generation's active health checks (HealthChecker)
// and OCSP requests (OCSPStapler) side by side. It has its own epoll instance and a
// timer heap; every check and every OCSP request is a job in a slot, either idle until
// its next time or driving one SocketExchange (non-blocking connect, write, read) with
// its deadline. No job sleeps or blocks, so a peer that never answers delays no other
// peer. The master hands it each new generation (startup, reload) and the stop through
// an eventfd: the old generation's jobs end at once (their sockets closed, nothing
// logged) and the new ones start. The one call that may block this thread is the
// system resolver for an OCSP responder given by name (see OCSPStapler); it never
// blocks a worker.

import Glibc
import SwiftginxPosix
import SwiftginxUpstream
import Synchronization

/// What the housekeeping loop runs: one generation's checks and OCSP requests.
struct HousekeepingWork: Sendable {
    let generation: Generation
    let log: ErrorLog
}

final class HousekeepingLoop: Sendable {
    private struct Inbox {
        var work: HousekeepingWork?
        var changed = false
        var stopping = false
    }

    private let inbox = Mutex(Inbox())
    private let notifier: EventNotifier
    private let thread = Mutex<pthread_t?>(nil)

    init() throws(SystemError) {
        notifier = try EventNotifier()
    }

    /// Starts the loop thread (once).
    func start(log: ErrorLog) throws(SystemError) {
        let runner = try HousekeepingRunner(notifier: notifier, log: log)
        let box = UncheckedSendable(runner)
        let t = ProcessControl.startThread { [self] in box.value.run(self) }
        thread.withLock { $0 = t }
    }

    /// Replaces the work: the previous generation's jobs stop, these start.
    func replace(with work: HousekeepingWork) {
        inbox.withLock {
            $0.work = work
            $0.changed = true
        }
        notifier.notify()
    }

    /// Ends the loop and waits for its thread.
    func stop() {
        inbox.withLock { $0.stopping = true }
        notifier.notify()
        let t = thread.withLock { t in
            defer { t = nil }
            return t
        }
        if let t { ProcessControl.join(t) }
    }

    /// The news for the loop thread: stop, or new work (nil when unchanged).
    fileprivate func take() -> (stop: Bool, work: HousekeepingWork?) {
        inbox.withLock { box in
            if box.stopping { return (true, nil) }
            guard box.changed else { return (false, nil) }
            box.changed = false
            return (false, box.work)
        }
    }
}

/// A value handed to the loop thread, which alone uses it from then on.
private struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// What a job does next.
enum HousekeepingStep {
    /// Nothing until this monotonic time.
    case idle(until: Int64)
    /// Drive this exchange until it ends or its deadline passes.
    case exchange(SocketExchange)
}

/// A job of the loop: checking one peer, or keeping one certificate's staple fresh.
enum HousekeepingJob {
    case peer(PeerCheck)
    case staple(StapleRefresh)
    /// The cache manager of the generation's proxy_cache_path zones (Cache/CacheManager.swift).
    case cacheManager(CacheManager)

    func begin(now: Int64) -> HousekeepingStep {
        switch self {
        case .peer(let p): return p.begin(now: now)
        case .staple(let s): return s.begin(now: now)
        case .cacheManager(let m): return m.run(now: now)
        }
    }

    func finish(_ outcome: SocketExchange.Outcome, now: Int64) -> HousekeepingStep {
        switch self {
        case .peer(let p): return p.finish(outcome, now: now)
        case .staple(let s): return s.finish(outcome, now: now)
        case .cacheManager(let m): return m.run(now: now)
        }
    }
}

/// The loop itself; lives on the housekeeping thread only.
private final class HousekeepingRunner {
    private struct Slot {
        let job: HousekeepingJob
        var exchange: SocketExchange? = nil
        var interest: EpollEvents = []
        var deadline: Int64 = 0
        /// Bumped for every exchange, so events of a closed socket are dropped.
        var sequence: UInt32 = 0
    }

    private static let wakeToken = UInt64.max
    private let epoll: Epoll
    private let notifier: EventNotifier
    private let log: ErrorLog
    private var slots: [Slot] = []
    private var timers = TimerHeap()
    /// Counts installed generations; timer entries of an older one are dropped.
    private var epoch: UInt32 = 0
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 8)
    private let resolutions = ResolutionCache()

    init(notifier: EventNotifier, log: ErrorLog) throws(SystemError) {
        epoll = try Epoll(capacity: 256)
        self.notifier = notifier
        self.log = log
        try epoll.add(notifier.fd, .readable, token: Self.wakeToken)
    }

    deinit { scratch.deallocate() }

    func run(_ loop: HousekeepingLoop) {
        defer { clear() }
        while true {
            var now = Clock.monotonicMilliseconds()
            let timeout = timers.earliest.map { Int32(clamping: max(0, $0 - now)) } ?? -1
            let count = epoll.wait(timeout: timeout)
            now = Clock.monotonicMilliseconds()
            resolutions.forget()
            var woken = false
            for i in 0..<count {
                let token = epoll.token(at: i)
                if token == Self.wakeToken {
                    woken = true
                } else {
                    event(slot: Int(token & 0xFFFF_FFFF), sequence: UInt32(token >> 32), now: now)
                }
            }
            if woken {
                notifier.drain()
                let news = loop.take()
                if news.stop { return }
                if let work = news.work { install(work, now: now) }
            }
            while let entry = timers.popExpired(now: now) {
                let i = Int(entry.slot)
                guard entry.generation == epoch, slots.indices.contains(i), slots[i].deadline == entry.deadline
                else { continue }
                let step: HousekeepingStep
                if let exchange = slots[i].exchange {
                    let outcome = exchange.timedOut()
                    closeExchange(i)
                    step = slots[i].job.finish(outcome, now: now)
                } else {
                    step = slots[i].job.begin(now: now)
                }
                apply(step, to: i)
            }
        }
    }

    /// Readiness of slot `i`'s socket.
    private func event(slot i: Int, sequence: UInt32, now: Int64) {
        guard slots.indices.contains(i), slots[i].sequence == sequence, let exchange = slots[i].exchange else { return }
        guard let outcome = exchange.progress(now: now, scratch: scratch) else {
            if exchange.interest != slots[i].interest {
                slots[i].interest = exchange.interest
                try? epoll.modify(exchange.fd, exchange.interest, token: token(i))
            }
            setDeadline(exchange.deadline, of: i)
            return
        }
        closeExchange(i)
        apply(slots[i].job.finish(outcome, now: now), to: i)
    }

    private func apply(_ step: HousekeepingStep, to i: Int) {
        switch step {
        case .idle(let until):
            setDeadline(until, of: i)
        case .exchange(let exchange):
            slots[i].sequence &+= 1
            slots[i].exchange = exchange
            slots[i].interest = exchange.interest
            do {
                try epoll.add(exchange.fd, exchange.interest, token: token(i))
            } catch {
                // Cannot happen for a fresh socket; the deadline ends the exchange.
                log.log(.alert, "\(error) in the housekeeping loop")
            }
            setDeadline(exchange.deadline, of: i)
        }
    }

    private func setDeadline(_ deadline: Int64, of i: Int) {
        guard slots[i].deadline != deadline else { return }
        slots[i].deadline = deadline
        timers.push(TimerEntry(deadline: deadline, slot: Int32(i), generation: epoch))
    }

    private func token(_ i: Int) -> UInt64 { UInt64(slots[i].sequence) << 32 | UInt64(i) }

    /// Ends slot `i`'s exchange, if any: its socket leaves epoll and is closed.
    private func closeExchange(_ i: Int) {
        guard let exchange = slots[i].exchange else { return }
        epoll.remove(exchange.fd)
        Socket.close(exchange.fd)
        slots[i].exchange = nil
        slots[i].interest = []
    }

    /// Ends every job of the current generation.
    private func clear() {
        for i in slots.indices { closeExchange(i) }
        slots = []
        timers = TimerHeap()
    }

    /// Replaces the jobs with those of `work`, each due now.
    private func install(_ work: HousekeepingWork, now: Int64) {
        clear()
        epoch &+= 1
        var rng = SplitMix64(seed: UInt64(bitPattern: Clock.wallMilliseconds()))
        let jobs =
            HealthChecker.jobs(work.generation, log: work.log, seed: rng.next())
            + OCSPStapler.jobs(work.generation, log: work.log, resolutions: resolutions)
            + CacheManager.jobs(work.generation)
        slots = jobs.map { Slot(job: $0, deadline: Int64.min) }
        for i in slots.indices { setDeadline(now, of: i) }
    }
}

/// Name resolutions shared by the OCSP requests that start in the same turn of the
/// loop (a certificate's RSA and ECDSA staples, several certificates of one CA).
final class ResolutionCache {
    private var answers: [String: Result<[SocketAddress], ResolutionError>] = [:]

    func resolve(host: String, port: Int) -> Result<[SocketAddress], ResolutionError> {
        let key = "\(host) \(port)"
        if let known = answers[key] { return known }
        let answer = SocketAddress.resolve(host: host, port: port)
        answers[key] = answer
        return answer
    }

    func forget() { if !answers.isEmpty { answers = [:] } }
}
