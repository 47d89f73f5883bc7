// TicketKeyRing: the session-ticket keys of one or more TLS contexts — the first key
// encrypts, all decrypt. Keys come from `ssl_session_ticket_key` files (fixed), or are
// random and rotated every `rotation` seconds with the two previous keys kept (nginx's
// automatic keys for a shared session cache). A ring of random keys is shared by every
// server naming the same `ssl_session_cache shared:NAME` and handed from one
// configuration generation to the next, as nginx keeps them in the shared zone: tickets
// issued before a reload still resume after it. Read by worker threads during
// handshakes, rotated by the master loop.

import Synchronization

public final class TicketKeyRing: @unchecked Sendable {
    private let store: Mutex<[TicketKey]>
    /// Seconds between automatic rotations (0: keys from files, never rotated).
    public let rotation: Int
    private let lastRotation = Atomic<Int64>(0)

    init(keys: [TicketKey], rotation: Int) {
        store = Mutex(keys)
        self.rotation = rotation
    }

    /// A ring of random keys rotated every `rotation` seconds.
    public convenience init(rotation: Int) throws(TLSError) {
        self.init(keys: [try TicketKey(random: ())], rotation: rotation)
    }

    var keys: [TicketKey] { store.withLock { $0 } }

    /// A new key encrypts from now on; the last two keep decrypting.
    public func rotate() {
        guard rotation > 0, let key = try? TicketKey(random: ()) else { return }
        store.withLock { keys in
            keys.insert(key, at: 0)
            if keys.count > 3 { keys.removeLast(keys.count - 3) }
        }
    }

    /// Rotates when `rotation` seconds have passed since the last rotation (`now` in
    /// monotonic milliseconds); the first call only starts the clock.
    public func rotateIfDue(now: Int64) {
        guard rotation > 0 else { return }
        let last = lastRotation.load(ordering: .relaxed)
        if last == 0 {
            lastRotation.store(now, ordering: .relaxed)
            return
        }
        if now - last >= Int64(rotation) * 1000 {
            lastRotation.store(now, ordering: .relaxed)
            rotate()
        }
    }
}
