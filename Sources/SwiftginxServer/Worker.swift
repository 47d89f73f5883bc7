// One worker thread: its epoll loop, its listening sockets (one SO_REUSEPORT
// socket per listen address per worker), its connections in a slot table, its
// timers, its cached Date header and its access-log buffers. Nothing here is
// shared with another worker; the master talks to it through the eventfd.

import Glibc
import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxTLS

/// What an epoll token points at: the top two bits say which table.
enum Token {
    static let notifier: UInt64 = 0
    static let listenerTag: UInt64 = 1 << 62
    static let connectionTag: UInt64 = 2 << 62
    static let upstreamTag: UInt64 = 3 << 62

    @inline(__always) static func connection(slot: Int32, generation: UInt32) -> UInt64 {
        connectionTag | (UInt64(generation & 0x3FFF_FFFF) << 32) | UInt64(UInt32(bitPattern: slot))
    }

    @inline(__always) static func upstream(slot: Int32, generation: UInt32) -> UInt64 {
        upstreamTag | (UInt64(generation & 0x3FFF_FFFF) << 32) | UInt64(UInt32(bitPattern: slot))
    }
}

final class WorkerListener {
    let fd: Int32
    var group: ListenGroup
    var registered = false
    /// A wildcard socket whose port also carries specific addresses that are not bound.
    var needsLocalLookup = false
    init(fd: Int32, group: ListenGroup) {
        self.fd = fd
        self.group = group
    }
}

public final class Worker: @unchecked Sendable {
    let index: Int
    let state: ServerState
    let epoll: Epoll
    let notifier: EventNotifier
    var generation: Generation
    var listeners: [WorkerListener] = []
    var connections: [HTTP1Connection?] = []
    var freeSlots: [Int32] = []
    /// Closed connection objects kept for reuse.
    var pool: [HTTP1Connection] = []
    /// Requests with their buffers and parsers, lent to connections while they read and
    /// answer (HTTP1Connection+Idle.swift); `idleRequest` is what an idle connection
    /// holds instead, never begun.
    /// Idle connections that keep their request (at most `maxIdleRequestsKept`).
    var idleRequestsKept = 0
    static let maxIdleRequestsKept = 32
    private var requestPool: Request? = nil
    private var requestPoolCount = 0
    private(set) var idleRequest: Request! = nil
    var activeConnections = 0
    /// This worker's stub_status counters (it is their only writer).
    let stats = ConnectionStats()
    /// `metrics` counters of this worker's requests.
    let metrics = WorkerMetrics()
    var slotGenerations: [UInt32] = []
    var timers = TimerHeap()
    var acceptPaused = false
    var stopping = false
    /// worker_shutdown_timeout deadlines: at `at`, connections accepted under a
    /// generation older than `before` are closed (a reload or a graceful stop).
    var retirements: [(before: Int, at: Int64)] = []
    /// Monotonic milliseconds at the start of this loop turn (to the millisecond, as
    /// nginx's ngx_current_msec: limit_req accounts with it).
    var now: Int64 = 0
    let clock = WorkerClock()
    /// DNS for `resolver` (made when a request first needs it).
    var resolver: WorkerResolver {
        if let r = resolverStorage { return r }
        let r = WorkerResolver(worker: self)
        resolverStorage = r
        resolverUsed = true
        return r
    }
    private var resolverStorage: WorkerResolver? = nil
    private var resolverUsed = false
    /// When the first worker next looks at the `resolve` upstreams' answers.
    private var nextUpstreamResolve: Int64 = 0
    let accessLog: AccessLogWriter
    /// Scratch space for discarding request bodies and building values.
    let scratch = ByteBuffer(capacity: 16384)
    /// Client TLS contexts for https upstreams by location, and sessions to resume.
    var upstreamTLSContexts: [ObjectIdentifier: (Location, TLSContext)] = [:]
    var upstreamSessions: [String: TLSSession] = [:]
    /// File bytes on their way into SSL_write (TLS without kTLS).
    lazy var tlsBuffer = ByteBuffer(capacity: 65536)
    var workerConnections: Int
    /// Connections taken per listener event: one (`multi_accept off`, nginx's default),
    /// or all that wait, up to 64 (`multi_accept on`).
    var acceptBatch: Int
    var flushRequestsSeen = 0
    /// Monotonic ms of the last once-a-second housekeeping in `turn`.
    private var lastFlush: Int64 = 0
    let files = OpenFileCache()
    /// Cache entries this worker answered from lately, kept open (Cache/CacheOpenEntries.swift).
    let cacheEntries = CacheOpenEntries()
    /// True while `evaluate` is filling `scratch` (nested evaluations use their own buffer).
    var evaluating = false
    private var errorPages: [Int: [UInt8]?] = [:]
    private var boundaryCounter = 0
    private var encoders: [String: StreamingEncoder] = [:]
    /// Upstream connections in a slot table of their own, and the idle keep-alive cache.
    var upstreams: [UpstreamConnection?] = []
    var upstreamFreeSlots: [Int32] = []
    var upstreamGenerations: [UInt32] = []
    /// Idle cached connections per upstream group (by `UpstreamGroup.index`), oldest first.
    var idleUpstreams: [[UpstreamConnection]] = []
    /// Connects waiting for the end of the loop turn, and whether the idle cache may
    /// hold more than `keepalive` until then (Proxy/UpstreamConnectWait.swift).
    var connectWaiters: [ProxyExchange] = []
    var inEventTurn = false
    var idleOverflow = false
    var idleOverflowAt: Int64 = 0

    init(index: Int, state: ServerState, generation: Generation) throws(SystemError) {
        self.index = index
        self.state = state
        self.generation = generation
        epoll = try Epoll(capacity: 512)
        notifier = try EventNotifier()
        accessLog = AccessLogWriter()
        workerConnections = generation.config.main.workerConnections
        acceptBatch = generation.config.main.multiAccept ? 64 : 1
        now = Clock.preciseMonotonicMilliseconds()
        try epoll.add(notifier.fd, .readable, token: Token.notifier)
        applyListeners(generation.listeners[index])
        state.register(stats)
        state.register(metrics)
        idleRequest = Request(
            worker: self, writer: ResponseWriter(worker: self, capacity: 16), input: ByteBuffer(capacity: 16))
    }

    /// Wakes the worker to look at the shared state (new generation, stop).
    public func wake() { notifier.notify() }

    // MARK: loop

    func run() {
        lastFlush = Clock.monotonicMilliseconds()
        while true {
            turn(maxWait: accessLog.maxWait(now: now, limit: 1000))
            if stopping {
                if state.stopMode == .fast || activeConnections == 0 { break }
            }
        }
        for case let c? in connections { c.close() }
        for case let u? in upstreams { closeUpstream(u) }
        accessLog.flushAll()
        accessLog.cache.closeAll()
    }

    /// One turn of the loop: wait for events (at most `maxWait` ms, less when a timer
    /// is due), dispatch them, fire due timers, and once a second flush the access
    /// logs and expire cached files and idle upstream connections.
    /// Listeners with connections to accept in this loop turn (see `turn`).
    private var acceptReady: [Int] = []

    func turn(maxWait: Int32) {
        let timeout: Int32
        var t = min(timers.earliest ?? .max, nextRetirement)
        if resolverUsed, let due = resolver.nextTimeout() { t = min(t, now + Int64(due)) }
        if index == 0 && !generation.dynamicUpstreams.isEmpty { t = min(t, nextUpstreamResolve) }
        if idleOverflow { t = min(t, idleOverflowAt + Self.idleOverflowMilliseconds) }
        if t != .max {
            timeout = Int32(clamping: max(0, min(t - now, Int64(maxWait))))
        } else {
            timeout = maxWait
        }
        let n = epoll.wait(timeout: timeout)
        now = Clock.preciseMonotonicMilliseconds()
        clock.update(monotonic: now)
        files.turn &+= 1
        inEventTurn = true
        for i in 0..<n {
            let token = epoll.token(at: i)
            switch token >> 62 {
            case 2:
                let slot = Int(UInt32(truncatingIfNeeded: token))
                let gen = UInt32((token >> 32) & 0x3FFF_FFFF)
                if slot < connections.count, let c = connections[slot], c.slotGeneration == gen {
                    c.onEvent(epoll.events(at: i))
                }
            case 3:
                upstreamEvent(
                    slot: Int(UInt32(truncatingIfNeeded: token)), generation: UInt32((token >> 32) & 0x3FFF_FFFF),
                    events: epoll.events(at: i))
            case 1:
                // Accepted after the rest of the batch: a connection that closed (a client
                // that hung up while its request waited) releases what it held first, as
                // nginx's new connections wait for their own read event.
                let li = Int(UInt32(truncatingIfNeeded: token))
                if li < listeners.count { acceptReady.append(li) }
            default:
                if token != Token.notifier {
                    resolver.onEvent(token: token, events: epoll.events(at: i))
                    continue
                }
                notifier.drain()
                checkShared()
            }
        }
        if resolverUsed && resolver.pending > 0 { resolver.processTimeouts() }
        if index == 0 && !generation.dynamicUpstreams.isEmpty && now >= nextUpstreamResolve {
            var next = now + 1000
            for d in generation.dynamicUpstreams.values { next = min(next, d.refresh(with: resolver, now: now)) }
            nextUpstreamResolve = max(next, now + 10)
        }
        if !acceptReady.isEmpty {
            for li in acceptReady { accept(listeners[li]) }
            acceptReady.removeAll(keepingCapacity: true)
        }
        if !retirements.isEmpty { retireConnections() }
        expireTimers()
        inEventTurn = false
        if !connectWaiters.isEmpty || idleOverflow { serveConnectWaiters() }
        accessLog.flushDue(now: now)
        if now - lastFlush >= 1000 {
            accessLog.flushAll()
            files.expire(now: now)
            expireIdleUpstreams()
            lastFlush = now
        }
    }

    private func expireTimers() {
        while let e = timers.popExpired(now: now) {
            let slot = Int(e.slot)
            // (An entry an earlier deadline overtook is stale: skipped.)
            guard slot < connections.count, let c = connections[slot], c.slotGeneration == e.generation,
                c.queuedDeadline == e.deadline
            else { continue }
            c.queuedDeadline = 0
            if c.deadline == e.deadline {
                c.onTimeout()
            } else if c.deadline > e.deadline {
                // The deadline moved later since this entry was queued: queued again.
                c.queuedDeadline = c.deadline
                timers.push(TimerEntry(deadline: c.deadline, slot: c.slot, generation: c.slotGeneration))
            }
        }
    }

    /// Reacts to the master: a new configuration generation, or a stop.
    private func checkShared() {
        let flushes = state.flushRequests.load(ordering: .acquiring)
        if flushes != flushRequestsSeen {
            accessLog.flushAll()
            flushRequestsSeen = flushes
            state.flushAcks.add(1, ordering: .releasing)
        }
        let mode = state.stopMode
        if mode != .running {
            beginStop()
            return
        }
        let g = state.generation
        if g.number != generation.number {
            // The old configuration's worker_shutdown_timeout bounds its connections.
            if let t = generation.config.main.workerShutdownTimeout { scheduleRetirement(before: g.number, after: t) }
            generation = g
            // HTTP/2 connections get a GOAWAY: their open streams finish, new ones go to
            // new connections (and the new configuration), as nginx does.
            for case let c? in connections where c.state == .http2 { c.http2?.closeGracefully() }
            workerConnections = g.config.main.workerConnections
            acceptBatch = g.config.main.multiAccept ? 64 : 1
            nextUpstreamResolve = 0
            applyListeners(g.listeners[index])
        }
    }

    private func beginStop() {
        guard !stopping else { return }
        stopping = true
        if let t = generation.config.main.workerShutdownTimeout { scheduleRetirement(before: .max, after: t) }
        for l in listeners where l.registered {
            epoll.remove(l.fd)
            l.registered = false
        }
        listeners = []
        for case let c? in connections { c.onShutdown() }
        expireIdleUpstreams()
    }

    /// Starts watching this generation's sockets; stops watching sockets it no longer has.
    private func applyListeners(_ specs: [ListenerSpec]) {
        var byFD: [Int32: WorkerListener] = [:]
        for l in listeners { byFD[l.fd] = l }
        var next: [WorkerListener] = []
        for s in specs {
            if let l = byFD.removeValue(forKey: s.fd) {
                l.group = s.group
                next.append(l)
            } else {
                next.append(WorkerListener(fd: s.fd, group: s.group))
            }
        }
        let config = generation.config
        for l in next {
            let a = l.group.address
            l.needsLocalLookup =
                (a.host == "0.0.0.0" || a.host == "::")
                && config.listenGroups.contains { !$0.bindsOwnSocket && $0.address.port == a.port }
        }
        for (_, old) in byFD where old.registered { epoll.remove(old.fd) }
        for l in listeners where l.registered { epoll.remove(l.fd) }
        for l in listeners { l.registered = false }
        listeners = next
        if !acceptPaused { registerListeners() }
    }

    private func registerListeners() {
        for (i, l) in listeners.enumerated() where !l.registered {
            do {
                try epoll.add(l.fd, .readable, token: Token.listenerTag | UInt64(i))
                l.registered = true
            } catch {
                state.errorLog.log(.alert, "\(error) while adding a listening socket")
            }
        }
    }

    // MARK: connections

    private func accept(_ listener: WorkerListener) {
        var peer = sockaddr_storage()
        var accepted = 0
        // One at a time by default, as nginx: the listener is level-triggered, so the
        // next connection waits for the next turn of the loop, after the events that
        // came with it — a client that hung up while its request waited releases its
        // limit_conn slot before a connection made after that is served.
        while accepted < acceptBatch {
            if activeConnections >= workerConnections {
                state.errorLog.log(.alert, "\(workerConnections) worker_connections are not enough")
                pauseAccepting()
                return
            }
            let fd: Int32
            do {
                switch try Socket.accept(listener.fd, peer: &peer) {
                case .wouldBlock: return
                case .processed(let f): fd = f
                }
            } catch {
                // EMFILE, ENFILE, ECONNABORTED...: log and let the next event retry.
                if error.errno != ECONNABORTED {
                    state.errorLog.log(.alert, "\(error)")
                    pauseAccepting()
                }
                return
            }
            accepted += 1
            adopt(fd: fd, peer: SocketAddress(storage: peer), listener: listener)
        }
    }

    /// Serves an accepted socket: a connection object (pooled) in a free slot. The
    /// socket is read at once, and registered with epoll only if the connection
    /// outlives that: a request that is there already (a `deferred` listener's always
    /// is) costs no epoll_ctl at all with Connection: close. (Without `deferred`, wrk's
    /// requests over loopback mostly arrive just after the accept: that read finds
    /// nothing, and the worker waits for the request — see the README's benchmarks.) Adding a socket that is already readable or
    /// writable reports it at once, so nothing is missed in between.
    @discardableResult
    func adopt(fd: Int32, peer: SocketAddress, listener: WorkerListener) -> HTTP1Connection {
        let slot: Int32
        if let s = freeSlots.popLast() {
            slot = s
        } else {
            slot = Int32(connections.count)
            connections.append(nil)
            slotGenerations.append(0)
        }
        slotGenerations[Int(slot)] &+= 1
        let gen = slotGenerations[Int(slot)] & 0x3FFF_FFFF
        let c: HTTP1Connection
        if let pooled = pool.popLast() {
            c = pooled
            c.reuse(
                fd: fd, peer: peer, listener: listener, slot: slot, slotGeneration: gen,
                number: state.nextConnectionNumber())
        } else {
            c = HTTP1Connection(
                fd: fd, peer: peer, worker: self, listener: listener, slot: slot, slotGeneration: gen,
                number: state.nextConnectionNumber())
        }
        connections[Int(slot)] = c
        c.acceptedGeneration = generation.number
        c.acceptedAt = now
        activeConnections += 1
        stats.bump(stats.accepted)
        c.start()
        if c.state == .closed { return c }
        do {
            try epoll.add(
                fd, [.readable, .writable, .readHangup, .edgeTriggered],
                token: Token.connection(slot: slot, generation: gen))
        } catch {
            state.errorLog.log(.alert, "\(error)")
            c.close()
        }
        return c
    }

    private func pauseAccepting() {
        guard !acceptPaused else { return }
        acceptPaused = true
        for l in listeners where l.registered {
            epoll.remove(l.fd)
            l.registered = false
        }
    }

    /// Called by a connection when it has closed its socket.
    func connectionClosed(_ c: HTTP1Connection) {
        connections[Int(c.slot)] = nil
        freeSlots.append(c.slot)
        activeConnections -= 1
        stats.bump(stats.closed)
        if pool.count < 256 && !stopping { pool.append(c) }
        if acceptPaused && !stopping && activeConnections < workerConnections {
            acceptPaused = false
            registerListeners()
        }
    }

    /// A request with its buffers from the pool (a list through `Request.nextFree`).
    @inline(__always) func takeRequest() -> Request? {
        guard let r = requestPool else { return nil }
        requestPool = r.nextFree
        r.nextFree = nil
        requestPoolCount -= 1
        return r
    }

    /// A request an idle or reused connection gave back (at most 128 wait; others are freed).
    @inline(__always) func returnRequest(_ r: Request) {
        if requestPoolCount < 128 {
            r.nextFree = requestPool
            requestPool = r
            requestPoolCount += 1
        } else {
            r.releaseContent()
        }
    }

    /// A pooled encoder for `coding` at `level`, reset and ready for a new stream.
    func encoder(_ coding: ContentCoding, level: Int) throws(CompressionError) -> StreamingEncoder {
        let key = "\(coding.rawValue)/\(level)"
        if let e = encoders[key] {
            try e.reset()
            return e
        }
        let e = try StreamingEncoder(coding: coding, level: level)
        encoders[key] = e
        return e
    }

    /// A multipart boundary: twenty digits (nginx prints its 64-bit counter the same way).
    func nextBoundary() -> String {
        boundaryCounter += 1
        let digits = String(boundaryCounter * 16 + index)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// nginx's built-in page for a status, built once per worker.
    func errorPage(_ status: Int, serverTokens: ServerTokens) -> [UInt8]? {
        let key = status * 4 + Int(serverTokens.rawValue)
        if let cached = errorPages[key] { return cached }
        let body = HTTPStatus.errorPageBody(status, signature: ServerVersion.signature(serverTokens))
        errorPages[key] = body
        return body
    }

    /// A connection's deadline. One heap entry per connection at most: a later deadline
    /// (the usual move: a request's timeout, then keep-alive's) waits behind the entry
    /// already queued, which queues the connection again when it surfaces early
    /// (`expireTimers`); only an earlier one is pushed. Per request that saved a push
    /// and, with every stale entry gone, kept the heap as small as the connection count.
    @inline(__always) func schedule(_ c: HTTP1Connection, after ms: Int) {
        let d = now + Int64(ms)
        if c.deadline == d { return }
        c.deadline = d
        if c.queuedDeadline != 0 && c.queuedDeadline <= d { return }
        c.queuedDeadline = d
        timers.push(TimerEntry(deadline: d, slot: c.slot, generation: c.slotGeneration))
    }
}
