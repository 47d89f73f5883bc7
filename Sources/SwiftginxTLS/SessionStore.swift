// SessionStore: the sessions of an `ssl_session_cache shared:NAME:SIZE`, kept outside
// OpenSSL (serialized with i2d_SSL_SESSION) through the session-cache callbacks, so that
// one store serves every server naming the cache and outlives a configuration
// generation — a reload keeps every session resumable, as nginx's shared zone does.
// Worker threads add and look up sessions during handshakes under one lock; when full,
// the oldest session goes first (about 4000 sessions per megabyte, as nginx).

import COpenSSL
import CSwiftginxTLSShims
import Synchronization

public final class SessionStore: @unchecked Sendable {
    private struct Entry {
        var der: [UInt8]
        /// Seconds since the epoch after which the session is not resumed.
        var expires: Int64
        /// Which addition made it (an id may be removed and added again).
        var sequence: Int
    }

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        /// Additions in order, oldest at `head`; one whose entry was removed or replaced
        /// since is skipped when reached.
        var order: [(id: [UInt8], sequence: Int)] = []
        var head = 0
        var nextSequence = 0
    }

    /// The most sessions kept.
    public let capacity: Int
    private let state = Mutex(State())

    /// How many sessions `size` bytes hold, as in `shared:NAME:SIZE`.
    public static func capacity(forSize size: Int) -> Int { max(1, size / 256) }

    public init(size: Int) {
        capacity = Self.capacity(forSize: size)
    }

    public var count: Int { state.withLock { $0.entries.count } }

    /// Additions still listed in the order (bounded by twice the capacity).
    var tracked: Int { state.withLock { $0.order.count - $0.head } }

    /// Keeps `der` (an i2d_SSL_SESSION encoding) under `id` until `expires` (seconds
    /// since the epoch), dropping the oldest sessions beyond the capacity.
    func add(id: [UInt8], der: [UInt8], expires: Int64) {
        state.withLock { s in
            let sequence = s.nextSequence
            s.nextSequence += 1
            s.entries[id] = Entry(der: der, expires: expires, sequence: sequence)
            s.order.append((id, sequence))
            // Past the capacity, or with the order mostly made of removed sessions, the
            // oldest additions go.
            while (s.entries.count > capacity || s.order.count - s.head > 2 * capacity) && s.head < s.order.count {
                let oldest = s.order[s.head]
                s.head += 1
                if s.entries[oldest.id]?.sequence == oldest.sequence { s.entries[oldest.id] = nil }
            }
            if s.head > 1024 && s.head * 2 > s.order.count {
                s.order.removeFirst(s.head)
                s.head = 0
            }
        }
    }

    /// The encoding kept under `id`, unless it expired (then it is dropped).
    func find(id: [UInt8], now: Int64) -> [UInt8]? {
        state.withLock { s in
            guard let entry = s.entries[id] else { return nil }
            if entry.expires <= now {
                s.entries[id] = nil
                return nil
            }
            return entry.der
        }
    }

    func remove(id: [UInt8]) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }
}

/// The id of a session, as the store keys it.
private func sessionID(_ session: OpaquePointer) -> [UInt8]? {
    var length: UInt32 = 0
    guard let bytes = SSL_SESSION_get_id(session, &length), length > 0 else { return nil }
    return Array(UnsafeBufferPointer(start: bytes, count: Int(length)))
}

/// The store of the context the handshake started on (OpenSSL keeps using that
/// context's session cache after an SNI switch).
private func store(of ssl: OpaquePointer?) -> SessionStore? {
    connection(of: ssl)?.context.sessionStore
}

func newSessionCallback(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> Int32 {
    guard let session, let store = store(of: ssl), let id = sessionID(session) else { return 0 }
    let length = i2d_SSL_SESSION(session, nil)
    guard length > 0 else { return 0 }
    var der = [UInt8](repeating: 0, count: Int(length))
    let written = der.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
        return i2d_SSL_SESSION(session, &cursor)
    }
    guard written == length else { return 0 }
    let expires = Int64(SSL_SESSION_get_time(session)) + Int64(SSL_SESSION_get_timeout(session))
    store.add(id: id, der: der, expires: expires)
    return 0  // the session is not kept by us: OpenSSL frees it
}

func getSessionCallback(
    _ ssl: OpaquePointer?, _ id: UnsafePointer<UInt8>?, _ length: Int32, _ copy: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    copy?.pointee = 0  // the returned session is handed over
    guard let id, length > 0, let store = store(of: ssl),
        let der = store.find(id: Array(UnsafeBufferPointer(start: id, count: Int(length))), now: Int64(time(nil)))
    else { return nil }
    return der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
        var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
        return d2i_SSL_SESSION(nil, &cursor, buffer.count)
    }
}

func removeSessionCallback(_ ctx: OpaquePointer?, _ session: OpaquePointer?) {
    guard let ctx, let session, let pointer = SSL_CTX_get_ex_data(ctx, contextExIndex) else { return }
    let context = Unmanaged<TLSContext>.fromOpaque(pointer).takeUnretainedValue()
    if let id = sessionID(session) { context.sessionStore?.remove(id: id) }
}
