// TLSConnection: one SSL on a non-blocking socket. Every operation answers in three ways
// (done / wants I/O / failed) plus a clean close; the error queue is cleared before each
// OpenSSL call and drained into the TLSError after, on the calling thread.

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
    /// After a fatal error no close_notify may be sent.
    private var failedFatally = false

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
            if SSL_set_fd(ssl, fd) != 1 { throw TLSError.openSSL("SSL_set_fd() failed") }
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
        _ = SSL_set_ex_data(ssl, connectionExIndex, Unmanaged.passUnretained(self).toOpaque())
        if client {
            SSL_set_connect_state(ssl)
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)
    }

    public func handshake() -> Result {
        ERR_clear_error()
        errno = 0
        let rc = SSL_do_handshake(ssl)
        if rc == 1 { return .done(0) }
        return result(rc, call: "SSL_do_handshake()")
    }

    public func read(_ buf: UnsafeMutableRawPointer, _ count: Int) -> Result {
        ERR_clear_error()
        errno = 0
        let rc = SSL_read(ssl, buf, Int32(clamping: count))
        if rc > 0 { return .done(Int(rc)) }
        return result(rc, call: "SSL_read()")
    }

    /// Partial writes are on, and the buffer may move between retries of a write that
    /// wanted I/O (it must hold the same bytes).
    public func write(_ buf: UnsafeRawPointer, _ count: Int) -> Result {
        if count == 0 { return .done(0) }
        ERR_clear_error()
        errno = 0
        let rc = SSL_write(ssl, buf, Int32(clamping: count))
        if rc > 0 { return .done(Int(rc)) }
        return result(rc, call: "SSL_write()")
    }

    /// Whether the kernel encrypts what is sent (kTLS); meaningful after the handshake.
    public var kernelTLSSend: Bool {
        guard let bio = SSL_get_wbio(ssl) else { return false }
        return swiftginx_BIO_get_ktls_send(bio) != 0
    }

    /// SSL_sendfile: only when kTLS send is on, otherwise `.failed` (use read + write).
    public func sendfile(_ fileFD: Int32, offset: Int64, count: Int) -> Result {
        guard kernelTLSSend else { return .failed(TLSError("SSL_sendfile() failed (kTLS send is off)")) }
        ERR_clear_error()
        errno = 0
        let sent = SSL_sendfile(ssl, fileFD, off_t(offset), count, 0)
        if sent >= 0 { return .done(Int(sent)) }
        return result(-1, call: "SSL_sendfile()")
    }

    /// Client side: the host name the server's certificate must match (checked by
    /// OpenSSL during verification, as nginx's proxy_ssl_verify with proxy_ssl_name).
    public func setVerifiedHostName(_ name: String) {
        _ = SSL_set1_host(ssl, name)
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

    /// Decrypted bytes waiting in OpenSSL: read them before waiting for epoll again.
    public var hasPendingInput: Bool { SSL_pending(ssl) > 0 }

    /// The session to resume later (client side), when one that can be resumed exists.
    /// With TLSv1.3 it arrives after the handshake, once the client has read something.
    public var session: TLSSession? {
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
