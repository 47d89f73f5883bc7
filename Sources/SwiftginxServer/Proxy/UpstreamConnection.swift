// Connections to upstream servers, owned by the worker: a slot table with generation
// tags (epoll tokens tagged 3), and the per-worker keep-alive cache of idle
// connections (`upstream { keepalive N; }`). An idle cached connection is watched for
// readability: the server closing it (or sending anything unasked) removes it from the
// cache at once; `keepalive_timeout` and `keepalive_time` are enforced by a sweep
// once a second. Reads and writes go through the connection's Transport (plain or TLS).

import Glibc
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxTLS

final class UpstreamConnection {
    let transport = Transport()
    var fd: Int32 {
        get { transport.fd }
        set { transport.fd = newValue }
    }
    var slot: Int32 = 0
    var slotGeneration: UInt32 = 0
    /// The proxy exchange using it (nil while cached idle).
    var owner: ProxyExchange? = nil
    /// Or the `ssl_ocsp` request of a client connection using it.
    var ocspFetch: ClientOCSPFetch? = nil
    /// What it is connected to: the group (by identity) and the peer index.
    var group: UpstreamGroup? = nil
    var peer = 0
    var address: PeerAddress = .unix("")
    /// Requests completed on it, when it was opened and when it became idle (ms).
    var requests = 0
    var openedAt: Int64 = 0
    var idleSince: Int64 = 0
    var connected = false
    /// False after a read would block, until epoll reports the socket readable again
    /// (edge-triggered: that report always follows new data), so no read is wasted.
    var readReady = true
    /// epoll reported the upstream's FIN (or a hangup): reads go on to the end.
    var hungUp = false
    /// TLS to an https upstream, and whether its handshake finished.
    var tls: TLSConnection? {
        get { transport.tls }
        set { transport.tls = newValue }
    }
    var handshakeDone = false
    /// `proxy_http_version 2`: the HTTP/2 session on this connection (UpstreamHTTP2.swift).
    var http2: UpstreamHTTP2? = nil
}

/// Events after which a socket must be read (data, end of stream, error).
let readableEvents: EpollEvents = [.readable, .readHangup, .hangup, .error]
/// The peer closed (its side): what a client connection watched by a proxy looks for.
let hangupEvents: EpollEvents = [.readHangup, .hangup]

extension Worker {
    /// A new upstream connection record in a free slot, registered with epoll.
    func registerUpstream(fd: Int32, group: UpstreamGroup, peer: Int, address: PeerAddress) throws(SystemError)
        -> UpstreamConnection
    {
        let slot: Int32
        if let s = upstreamFreeSlots.popLast() {
            slot = s
        } else {
            slot = Int32(upstreams.count)
            upstreams.append(nil)
            upstreamGenerations.append(0)
        }
        upstreamGenerations[Int(slot)] &+= 1
        let u = UpstreamConnection()
        u.fd = fd
        u.slot = slot
        u.slotGeneration = upstreamGenerations[Int(slot)] & 0x3FFF_FFFF
        u.group = group
        u.peer = peer
        u.address = address
        u.openedAt = now
        u.readReady = true
        u.transport.reset(fd: fd)
        u.handshakeDone = false
        upstreams[Int(slot)] = u
        do {
            try epoll.add(
                fd, [.readable, .writable, .readHangup, .edgeTriggered],
                token: Token.upstream(slot: slot, generation: u.slotGeneration))
        } catch {
            upstreams[Int(slot)] = nil
            upstreamFreeSlots.append(slot)
            Socket.close(fd)
            throw error
        }
        return u
    }

    /// Closes an upstream connection and frees its slot.
    func closeUpstream(_ u: UpstreamConnection) {
        guard u.fd >= 0 else { return }
        if let tls = u.tls {
            tls.shutdown()
            u.transport.tls = nil
        }
        Socket.close(u.fd)
        u.fd = -1
        u.owner = nil
        upstreams[Int(u.slot)] = nil
        upstreamFreeSlots.append(u.slot)
    }

    /// An event on an upstream socket: its owner drives the request; an idle cached
    /// connection that becomes readable was closed (or misbehaves) and is dropped.
    func upstreamEvent(slot: Int, generation: UInt32, events: EpollEvents) {
        guard slot < upstreams.count, let u = upstreams[slot], u.slotGeneration == generation else { return }
        if !events.isDisjoint(with: readableEvents) { u.readReady = true }
        if !events.isDisjoint(with: hangupEvents) { u.hungUp = true }
        if let x = u.owner {
            x.onUpstreamEvent()
            return
        }
        if let f = u.ocspFetch {
            f.onEvent()
            return
        }
        if u.tls != nil {
            // TLS may send records while idle (a session ticket): only an end counts.
            switch try? Socket.peek(u.fd, into: scratch.base, count: 1) {
            case .wouldBlock?: return
            case .processed(let n)? where n > 0: return
            default: break
            }
            removeIdle(u)
            closeUpstream(u)
            return
        }
        switch try? Socket.read(u.fd, scratch.base, 1) {
        case .wouldBlock?: return
        default:
            removeIdle(u)
            closeUpstream(u)
        }
    }

    /// Caches a connection whose response was cleanly framed; false when the cache
    /// does not take it (the caller closes it).
    func cacheUpstream(_ u: UpstreamConnection) -> Bool {
        guard let g = u.group, g.keepalive > 0, !stopping else { return false }
        if u.requests >= g.keepaliveRequests || now - u.openedAt >= Int64(g.keepaliveTime) { return false }
        guard g.index >= 0 else { return false }
        u.owner = nil
        u.idleSince = now
        // One list per group, by the group's index (an array: no hashing, no copies).
        while idleUpstreams.count <= g.index { idleUpstreams.append([]) }
        if idleUpstreams[g.index].count >= g.keepalive {
            if inEventTurn {
                // Kept a moment: a request of this turn or the next may take it
                // (Proxy/UpstreamConnectWait.swift).
                if !idleOverflow { idleOverflowAt = now }
                idleOverflow = true
            } else {
                // The least recently used one makes room (nginx's LRU cache).
                closeUpstream(idleUpstreams[g.index].removeFirst())
            }
        }
        idleUpstreams[g.index].append(u)
        return true
    }

    /// The most recently cached idle connection to `peer` of `group`, if any.
    func takeIdleUpstream(group: UpstreamGroup, peer: Int) -> UpstreamConnection? {
        let gi = group.index
        guard gi >= 0, gi < idleUpstreams.count,
            let i = idleUpstreams[gi].lastIndex(where: { $0.peer == peer && $0.group === group })
        else { return nil }
        // The most recent is the usual one: removeLast moves nothing (remove(at:) ~60 instructions).
        if i == idleUpstreams[gi].count &- 1 { return idleUpstreams[gi].removeLast() }
        return idleUpstreams[gi].remove(at: i)
    }

    private func removeIdle(_ u: UpstreamConnection) {
        guard let g = u.group, g.index >= 0, g.index < idleUpstreams.count else { return }
        idleUpstreams[g.index].removeAll { $0 === u }
    }

    /// Closes idle connections past `keepalive_timeout` (once a second). `keepalive_time`
    /// is checked when a request ends, as nginx does: an idle connection past it still
    /// serves one more request.
    func expireIdleUpstreams() {
        let current = generation.config
        for gi in idleUpstreams.indices where !idleUpstreams[gi].isEmpty {
            idleUpstreams[gi].removeAll { u in
                // A reload retires the old generation's groups: their connections go.
                guard let g = u.group, gi < current.upstreams.count, current.upstreams[gi] === g,
                    !stopping, now - u.idleSince < Int64(g.keepaliveTimeout)
                else {
                    closeUpstream(u)
                    return true
                }
                return false
            }
        }
    }
}

extension UpstreamConnection {
    /// Reads through the connection's transport (plain or TLS).
    @inline(__always) func read(_ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        try transport.read(buf, count)
    }

    /// After a read of an HTTP answer that gave `got` of `asked` bytes: when it left the
    /// socket empty (a short read; TLS: told by its socket BIO), `readReady` is cleared as
    /// after a read that would block. The next read waits for epoll, which reports new
    /// bytes or the FIN (edge-triggered), so the read that would block is not made; a FIN
    /// already reported is read to the end.
    @inline(__always) func noteRead(asked: Int, got: Int) {
        if !hungUp && transport.drained(asked: asked, got: got) { readReady = false }
    }

    /// Writes through the connection's transport; `more` says more bytes follow at once.
    @inline(__always) func write(_ buf: UnsafeRawPointer, _ count: Int, more: Bool = false) throws(SystemError)
        -> IOResult<Int>
    {
        try transport.write(buf, count, more: more)
    }

    /// Sends a file region (TLS: through `bounce`).
    func sendfile(_ file: Int32, offset: inout Int64, count: Int, bounce: ByteBuffer) throws(SystemError)
        -> IOResult<Int>
    {
        try transport.sendfile(file, offset: &offset, count: count, bounce: bounce)
    }
}
