// Names resolved per request on a worker thread (`resolver`): the answer cache shared
// by every worker thread of a configuration generation (an answer is used for its
// records' TTL, or `valid=`), and per worker one DNS channel per set of servers and timeout,
// its sockets in the worker's epoll (token kind 0 with the channel's number above the
// descriptor; the event notifier is token 0) and its retries driven by the loop's
// timeout. Requests that ask for a name already being resolved on this worker wait for
// the same query. Nothing here blocks.

import Synchronization
import SwiftginxConfig
import SwiftginxPosix

/// Answers shared by the worker threads of one generation.
final class DNSCache: Sendable {
    struct Entry {
        let addresses: [SocketAddress]
        let expires: Int64
    }

    private let entries = Mutex<[String: Entry]>([:])

    func lookup(_ key: String, now: Int64) -> Entry? {
        entries.withLock { e in
            guard let hit = e[key] else { return nil }
            if hit.expires <= now {
                e[key] = nil
                return nil
            }
            return hit
        }
    }

    func store(_ key: String, _ entry: Entry) {
        entries.withLock { e in
            if e.count >= 4096 { e.removeAll(keepingCapacity: true) }
            e[key] = entry
        }
    }
}

final class WorkerResolver {
    /// Addresses, and until when (monotonic ms) they may be used.
    typealias Result = Swift.Result<DNSCache.Entry, DNSChannel.Failure>
    typealias Completion = (Result) -> Void

    unowned let worker: Worker
    /// Channels by servers and timeout, made on first use; `slots` gives their token number.
    private var channels: [String: DNSChannel] = [:]
    private var slots: [DNSChannel] = []
    private var waiting: [String: [Completion]] = [:]
    /// Sockets registered in the epoll, with the events asked for.
    private var watched: [Int32: EpollEvents] = [:]
    private(set) var pending = 0

    init(worker: Worker) { self.worker = worker }

    static func token(slot: Int, fd: Int32) -> UInt64 {
        (UInt64(slot + 1) << 32) | UInt64(UInt32(bitPattern: fd))
    }

    /// Resolves `name` with `config`'s servers; `completion` may run before this returns
    /// (a cached answer).
    func resolve(_ name: String, config: ResolverConfig, timeout: Int, completion: @escaping Completion) {
        let key = "\(config.servers)|\(config.ipv4 ? 4 : 0)\(config.ipv6 ? 6 : 0)|\(name.lowercased())"
        let cache = worker.generation.dnsCache
        if let hit = cache.lookup(key, now: worker.now) {
            completion(.success(hit))
            return
        }
        if waiting[key] != nil {
            waiting[key]!.append(completion)
            return
        }
        guard let channel = channel(for: config, timeout: timeout) else {
            completion(.failure(DNSChannel.Failure(code: 2)))
            return
        }
        waiting[key] = [completion]
        pending += 1
        channel.resolve(name, ipv4: config.ipv4, ipv6: config.ipv6) { [weak self] result in
            guard let self else { return }
            self.pending -= 1
            let waiters = self.waiting.removeValue(forKey: key) ?? []
            switch result {
            case .success(let answer):
                let seconds = config.valid ?? answer.ttl
                let entry = DNSCache.Entry(
                    addresses: answer.addresses, expires: self.worker.now + Int64(seconds) * 1000)
                if seconds > 0 { cache.store(key, entry) }
                for w in waiters { w(.success(entry)) }
            case .failure(let failure):
                for w in waiters { w(.failure(failure)) }
            }
        }
    }

    /// Asks for the SRV records of `name` (not cached: an upstream asks when they expire).
    func resolveService(
        _ name: String, config: ResolverConfig, timeout: Int, completion: @escaping DNSChannel.ServiceCompletion
    ) {
        guard let channel = channel(for: config, timeout: timeout) else {
            completion(.failure(DNSChannel.Failure(code: 2)))
            return
        }
        pending += 1
        channel.resolveService(name) { [weak self] result in
            self?.pending -= 1
            completion(result)
        }
    }

    private func channel(for config: ResolverConfig, timeout: Int) -> DNSChannel? {
        let name = "\(config.servers)|\(timeout)"
        if let c = channels[name] { return c }
        // nginx resends an unanswered query every 5 seconds until resolver_timeout.
        let tryTimeout = min(5000, max(1, timeout))
        guard
            let c = DNSChannel(
                servers: config.servers, tryTimeout: tryTimeout, tries: max(1, (timeout + tryTimeout - 1) / tryTimeout))
        else { return nil }
        let slot = slots.count
        slots.append(c)
        c.onSocketState = { [weak self] fd, readable, writable in
            self?.watch(fd, slot: slot, readable: readable, writable: writable)
        }
        channels[name] = c
        return c
    }

    private func watch(_ fd: Int32, slot: Int, readable: Bool, writable: Bool) {
        var events: EpollEvents = []
        if readable { events.insert(.readable) }
        if writable { events.insert(.writable) }
        let token = Self.token(slot: slot, fd: fd)
        if events.isEmpty {
            if watched.removeValue(forKey: fd) != nil { worker.epoll.remove(fd) }
        } else if watched[fd] == nil {
            watched[fd] = events
            try? worker.epoll.add(fd, events, token: token)
        } else {
            watched[fd] = events
            try? worker.epoll.modify(fd, events, token: token)
        }
    }

    /// An epoll event for a resolver socket (`token` as made by `token(slot:fd:)`).
    func onEvent(token: UInt64, events: EpollEvents) {
        let slot = Int(token >> 32) - 1
        guard slot >= 0 && slot < slots.count else { return }
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: token))
        let readable = !events.isDisjoint(with: [.readable, .hangup, .error])
        slots[slot].process(fd: fd, readable: readable, writable: events.contains(.writable))
    }

    /// Milliseconds until a channel has a retry or a timeout due (nil: nothing pending).
    func nextTimeout() -> Int? {
        guard pending > 0 else { return nil }
        var t: Int? = nil
        for c in slots { if let n = c.nextTimeout() { t = min(t ?? n, n) } }
        return t
    }

    /// Retries and timeouts that are due, on every channel with queries.
    func processTimeouts() {
        for c in slots where c.nextTimeout() != nil { c.processTimeouts() }
    }
}
