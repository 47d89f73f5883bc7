// Connections to upstream servers, owned by the worker: a slot table with generation
// tags (epoll tokens tagged 3), and the per-worker keep-alive cache of idle
// connections (`upstream { keepalive N; }`). An idle cached connection is watched for
// readability: the server closing it (or sending anything unasked) removes it from the
// cache at once; `keepalive_timeout` and `keepalive_time` are enforced by a sweep
// once a second.

import SwiftginxConfig
import SwiftginxPosix

final class UpstreamConnection {
    var fd: Int32 = -1
    var slot: Int32 = 0
    var slotGeneration: UInt32 = 0
    /// The client connection using it (nil while cached idle).
    var owner: ClientConnection? = nil
    /// What it is connected to: the group (by identity) and the peer index.
    var group: UpstreamGroup? = nil
    var peer = 0
    var address: PeerAddress = .unix("")
    /// Requests completed on it, when it was opened and when it became idle (ms).
    var requests = 0
    var openedAt: Int64 = 0
    var idleSince: Int64 = 0
    var connected = false
}

/// Key of the keep-alive cache: one list per upstream group (nginx caches per group,
/// least recently used first out).
struct PoolKey: Hashable {
    let group: ObjectIdentifier
}

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
        Socket.close(u.fd)
        u.fd = -1
        u.owner = nil
        upstreams[Int(u.slot)] = nil
        upstreamFreeSlots.append(u.slot)
    }

    /// An event on an upstream socket: its owner drives the request; an idle cached
    /// connection that becomes readable was closed (or misbehaves) and is dropped.
    func upstreamEvent(slot: Int, generation: UInt32) {
        guard slot < upstreams.count, let u = upstreams[slot], u.slotGeneration == generation else { return }
        if let c = u.owner {
            c.drive()
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
        let key = PoolKey(group: ObjectIdentifier(g))
        var list = idleUpstreams[key] ?? []
        if list.count >= g.keepalive {
            // The least recently used one makes room (nginx's LRU cache).
            let oldest = list.removeFirst()
            closeUpstream(oldest)
        }
        u.owner = nil
        u.idleSince = now
        list.append(u)
        idleUpstreams[key] = list
        return true
    }

    /// The most recently cached idle connection to `peer` of `group`, if any.
    func takeIdleUpstream(group: UpstreamGroup, peer: Int) -> UpstreamConnection? {
        let key = PoolKey(group: ObjectIdentifier(group))
        guard var list = idleUpstreams[key] else { return nil }
        guard let i = list.lastIndex(where: { $0.peer == peer }) else { return nil }
        let u = list.remove(at: i)
        idleUpstreams[key] = list
        return u
    }

    private func removeIdle(_ u: UpstreamConnection) {
        guard let g = u.group else { return }
        let key = PoolKey(group: ObjectIdentifier(g))
        idleUpstreams[key]?.removeAll { $0 === u }
    }

    /// Closes idle connections past `keepalive_timeout` or `keepalive_time` (once a second).
    func expireIdleUpstreams() {
        guard !idleUpstreams.isEmpty else { return }
        for (key, list) in idleUpstreams {
            var keep: [UpstreamConnection] = []
            for u in list {
                guard let g = u.group else { continue }
                if stopping || now - u.idleSince >= Int64(g.keepaliveTimeout)
                    || now - u.openedAt >= Int64(g.keepaliveTime)
                {
                    closeUpstream(u)
                } else {
                    keep.append(u)
                }
            }
            idleUpstreams[key] = keep.isEmpty ? nil : keep
        }
    }
}
