// TLSConnection: one SSL on a non-blocking socket. Every operation answers in three ways
// (done / wants I/O / failed) plus a clean close; the error queue is cleared before each
// OpenSSL call and drained into the TLSError after, on the calling thread.
// With early data (TLS 1.3 0-RTT) on, the server side reads through
// SSL_read_early_data until the client ends its early data: the handshake "finishes"
// as soon as an early byte arrives (as nginx's), requests are read and answered
// (SSL_write_early_data) while the handshake is still open, and the first read after
// the early data ends goes on with SSL_read, which completes the handshake.

import COpenSSL
import CSwiftginxTLSShims
import Glibc

/// An owned SSL*, freed in deinit. Used by one thread at a time.
public final class TLSConnection {
    public enum Result: Equatable {
        /// Bytes moved, or 0 for a finished handshake.
        case done(Int)
        case wantRead, wantWrite
        /// close_notify received, or EOF from the peer.
        case closed
        case failed(TLSError)
    }

    let ssl: OpaquePointer
    /// The context the connection was made with (its session cache and ticket keys).
    public let context: TLSContext
    /// The context SNI switched to (or `context`); kept alive while the SSL points at it.
    var activeContext: TLSContext
    public let isClient: Bool
    /// The server was chosen from the ClientHello's server name (the SNI callback then
    /// has nothing left to do).
    var serverNameChosen = false
    /// `ssl_ocsp`: the check of the client's chain (the server drives its requests), and
    /// whether it ended; `ocspFailure` is its verdict ("certificate revoked", ...).
    public var ocspCheck: ClientOCSPCheck? = nil
    public var ocspDone = false
    public var ocspFailure: String? = nil
    /// Called when the connection is freed (the server cancels what it started for it).
    public var onRelease: (() -> Void)? = nil
    /// The client's address (4 or 16 bytes; empty for a unix socket): certificates named
    /// by `geo` variables are chosen by it.
    public var clientAddress: [UInt8] = []
    /// Why a certificate named by variables could not be loaded during the handshake.
    public internal(set) var certificateError: TLSError? = nil
    /// After a fatal error no close_notify may be sent.
    private var failedFatally = false
    /// Server side with early data on: reads go through SSL_read_early_data (and writes
    /// through SSL_write_early_data) until the client's early data ends.
    private var readingEarlyData = false
    /// The first early byte, read by `handshake()` and handed out by the next `read`.
    private var earlyByte: UInt8? = nil
    /// Largest plaintext per SSL_write (`ssl_buffer_size`), when below 16 KiB.
    private let recordLimit: Int

    /// `serverName` given, or a client context → client mode (SNI sent, connect state);
    /// otherwise accept state. `session` resumes a session kept from an earlier connection.
    public init(context: TLSContext, fd: Int32, serverName: String? = nil, session: TLSSession? = nil)
        throws(TLSError)
    {
        ERR_clear_error()
        guard let ssl = SSL_new(context.ctx) else { throw TLSError.openSSL("SSL_new() failed") }
        let client = context.isClient || serverName != nil
        let name = serverName ?? (client ? context.defaultServerName : nil)
        do throws(TLSError) {
            // Kernel TLS needs OpenSSL's own socket BIO; otherwise the project's (reads and
            // writes without cancellation points, and it tells a short read).
            if swiftginx_SSL_get_options(ssl) & swiftginx_SSL_OP_ENABLE_KTLS != 0 {
                if SSL_set_fd(ssl, fd) != 1 { throw TLSError.openSSL("SSL_set_fd() failed") }
            } else if swiftginx_SSL_set_socket(ssl, fd) != 1 {
                throw TLSError.openSSL("BIO_new() failed")
            }
            if let name {
                if swiftginx_SSL_set_tlsext_host_name(ssl, name) != 1 {
                    throw TLSError.openSSL("SSL_set_tlsext_host_name(\"\(name)\") failed")
                }
                if context.clientVerify && SSL_set1_host(ssl, name) != 1 {
                    throw TLSError.openSSL("SSL_set1_host(\"\(name)\") failed")
                }
            }
            if let session, SSL_set_session(ssl, session.session) != 1 {
                throw TLSError.openSSL("SSL_set_session() failed")
            }
        } catch {
            SSL_free(ssl)
            throw error
        }
        self.ssl = ssl
        self.context = context
        self.activeContext = context
        self.isClient = client
        self.readingEarlyData = !client && context.earlyData
        self.recordLimit = context.recordLimit ?? Int(Int32.max)
        _ = SSL_set_ex_data(ssl, connectionExIndex, Unmanaged.passUnretained(self).toOpaque())
        if client {
            SSL_set_connect_state(ssl)
        } else {
            SSL_set_accept_state(ssl)
        }
        Self.errorQueueMayBeDirty()
    }

    deinit {
        onRelease?()
        SSL_free(ssl)
    }

    /// The `ssl_ocsp` check this connection's client chain needs, or nil (not asked for,
    /// no certificate, or one that failed verification).
    public func makeOCSPCheck() -> ClientOCSPCheck? {
        defer { Self.errorQueueMayBeDirty() }
        guard let settings = activeContext.clientOCSP, let ctx = SSL_get_SSL_CTX(ssl) else { return nil }
        return ClientOCSPCheck(ssl: ssl, ctx: ctx, settings: settings)
    }

    /// `.done` when requests can be read: the handshake finished, or (early data on) the
    /// first byte of early data arrived.
    public func handshake() -> Result {
        if readingEarlyData {
            var byte: UInt8 = 0
            switch readEarly(&byte, 1) {
            case .done?:
                earlyByte = byte
                return .done(0)
            case nil:
                break  // no early data (or it ended): the handshake goes on below
            case let other?:
                return other
            }
        }
        ERR_clear_error()
        errno = 0
        let rc = SSL_do_handshake(ssl)
        Self.errorQueueMayBeDirty()  // its callbacks (SNI, ALPN, tickets, OCSP) ran too
        if rc == 1 { return .done(0) }
        return result(rc, call: "SSL_do_handshake()")
    }

    public func read(_ buf: UnsafeMutableRawPointer, _ count: Int) -> Result {
        if count == 0 { return .done(0) }
        if let byte = earlyByte {
            earlyByte = nil
            buf.storeBytes(of: byte, as: UInt8.self)
            return .done(1)
        }
        if readingEarlyData, let r = readEarly(buf, count) { return r }
        clearErrorQueue()
        errno = 0
        let rc = SSL_read(ssl, buf, Int32(clamping: count))
        if rc > 0 { return .done(Int(rc)) }
        return result(rc, call: "SSL_read()")
    }

    /// SSL_read_early_data: `.done(n)` for early bytes, nil once the early data ended
    /// (or none was sent, or it was refused): reading then goes on with SSL_read.
    private func readEarly(_ buf: UnsafeMutableRawPointer, _ count: Int) -> Result? {
        defer { Self.errorQueueMayBeDirty() }
        while true {
            ERR_clear_error()
            errno = 0
            var n = 0
            switch SSL_read_early_data(ssl, buf, count, &n) {
            case SSL_READ_EARLY_DATA_SUCCESS:
                if n > 0 { return .done(n) }
            case SSL_READ_EARLY_DATA_FINISH:
                readingEarlyData = false
                return n > 0 ? .done(n) : nil
            default:
                return result(0, call: "SSL_read_early_data()")
            }
        }
    }

    /// Partial writes are on, and the buffer may move between retries of a write that
    /// wanted I/O (it must hold the same bytes).
    public func write(_ buf: UnsafeRawPointer, _ count: Int) -> Result {
        if count == 0 { return .done(0) }
        clearErrorQueue()
        errno = 0
        if readingEarlyData {
            var written = 0
            if SSL_write_early_data(ssl, buf, min(count, recordLimit), &written) == 1 { return .done(written) }
            return result(0, call: "SSL_write_early_data()")
        }
        let rc = SSL_write(ssl, buf, Int32(clamping: min(count, recordLimit)))
        if rc > 0 { return .done(Int(rc)) }
        return result(rc, call: "SSL_write()")
    }

    /// Whether the kernel encrypts what is sent (kTLS); meaningful after the handshake.
    public var kernelTLSSend: Bool {
        guard !readingEarlyData, let bio = SSL_get_wbio(ssl) else { return false }
        return swiftginx_BIO_get_ktls_send(bio) != 0
    }

    /// SSL_sendfile: only when kTLS send is on, otherwise `.failed` (use read + write).
    public func sendfile(_ fileFD: Int32, offset: Int64, count: Int) -> Result {
        guard kernelTLSSend else { return .failed(TLSError("SSL_sendfile() failed (kTLS send is off)")) }
        clearErrorQueue()
        errno = 0
        let sent = SSL_sendfile(ssl, fileFD, off_t(offset), count, 0)
        if sent >= 0 { return .done(Int(sent)) }
        return result(-1, call: "SSL_sendfile()")
    }

    /// Client side: the host name the server's certificate must match (checked by
    /// OpenSSL during verification, as nginx's proxy_ssl_verify with proxy_ssl_name).
    public func setVerifiedHostName(_ name: String) {
        defer { Self.errorQueueMayBeDirty() }
        _ = SSL_set1_host(ssl, name)
    }

    /// A certificate and key for this connection only (client side: an upstream
    /// certificate named by variables), an encrypted key tried with the context's
    /// passwords.
    public func useCertificate(
        _ certificate: String, key: String, cache: (any TLSFileSource)? = nil
    ) throws(TLSError) {
        defer { Self.errorQueueMayBeDirty() }
        try TLSContext.loadPair(
            into: .connection(ssl), certificate, key, passwords: context.passwords, cache: cache)
    }

    /// Empties OpenSSL's error queue before a call whose failure SSL_get_error reads from
    /// it. ERR_clear_error walks all sixteen slots of the thread's queue (~840
    /// instructions in OpenSSL 3) even when it is empty, and even ERR_peek_error costs
    /// ~200 (the thread's error state is looked up each time). A failed read or write
    /// leaves the queue empty (`result` drains it), so the queue is looked at only when
    /// a call that may leave errors behind ran on this thread since (`errorQueueMayBeDirty`:
    /// a handshake, early data, certificates, OCSP, sessions; every thread starts so).
    @inline(__always) private func clearErrorQueue() {
        if swiftginx_tls_take_error_queue_dirty() != 0 && ERR_peek_error() != 0 { ERR_clear_error() }
    }

    /// A call that may leave errors in this thread's queue ran (see `clearErrorQueue`).
    @inline(__always) static func errorQueueMayBeDirty() {
        swiftginx_tls_mark_error_queue_dirty()
    }

    /// Frees the connection's record buffers (none are allocated again until it reads or
    /// writes): called when the connection goes idle, as SSL_MODE_RELEASE_BUFFERS would
    /// on every empty buffer. OpenSSL keeps a buffer that still holds bytes.
    public func releaseBuffers() {
        _ = SSL_free_buffers(ssl)
    }

    /// From now on OpenSSL frees the record buffers whenever they are empty
    /// (SSL_MODE_RELEASE_BUFFERS): for a connection with no single moment of going idle,
    /// such as an HTTP/2 one.
    public func releaseBuffersWhenEmpty() {
        _ = swiftginx_SSL_set_mode(ssl, swiftginx_SSL_MODE_RELEASE_BUFFERS)
    }

    /// Best-effort close_notify; never waits for the peer's.
    public func shutdown() {
        if failedFatally || SSL_in_init(ssl) != 0 {
            ERR_clear_error()
            return
        }
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Bytes waiting in OpenSSL (decrypted, or records read ahead): read them before
    /// waiting for epoll again.
    public var hasPendingInput: Bool { earlyByte != nil || SSL_has_pending(ssl) == 1 }

    /// The socket had nothing more when OpenSSL last read it (a short read), and nothing
    /// waits in OpenSSL: the next read would want more bytes (the project's socket BIO
    /// only; false with kernel TLS).
    public var socketDrained: Bool {
        earlyByte == nil && !readingEarlyData && swiftginx_SSL_socket_drained(ssl) != 0 && SSL_has_pending(ssl) == 0
    }

    /// The session to resume later (client side), when one that can be resumed exists.
    /// With TLSv1.3 it arrives after the handshake, once the client has read something.
    public var session: TLSSession? {
        defer { Self.errorQueueMayBeDirty() }
        guard let session = SSL_get1_session(ssl) else { return nil }
        if SSL_SESSION_is_resumable(session) != 1 {
            SSL_SESSION_free(session)
            return nil
        }
        return TLSSession(owning: session)
    }

    /// Maps a failed call to the result, draining the error queue.
    private func result(_ rc: Int32, call: String) -> Result {
        let savedErrno = errno
        let code = SSL_get_error(ssl, rc)
        switch code {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            ERR_clear_error()
            return .closed
        case SSL_ERROR_SYSCALL:
            failedFatally = true
            if ERR_peek_error() != 0 { return .failed(TLSError.openSSL("\(call) failed")) }
            if savedErrno == 0 { return .closed }
            return .failed(TLSError.system("\(call) failed", errno: savedErrno))
        case SSL_ERROR_SSL:
            failedFatally = true
            let last = ERR_peek_last_error()
            if ERR_GET_LIB(last) == ERR_LIB_SSL && ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING {
                ERR_clear_error()
                return .closed
            }
            return .failed(TLSError.openSSL("\(call) failed"))
        default:
            return .failed(TLSError.openSSL("\(call) failed (SSL_get_error() \(code))"))
        }
    }
}

/// An owned SSL_SESSION kept to resume a later connection (client side).
public final class TLSSession: @unchecked Sendable {
    let session: OpaquePointer

    init(owning session: OpaquePointer) {
        self.session = session
    }

    deinit {
        SSL_SESSION_free(session)
    }
}
