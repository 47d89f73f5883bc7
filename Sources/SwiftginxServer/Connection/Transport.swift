// The byte transport under a connection, client or upstream: a plain socket, or TLS
// through OpenSSL on that socket. Reads, writes and file regions answer the same
// IOResult either way (want-read/want-write is .wouldBlock, a clean TLS close is 0
// bytes), so the HTTP code above never asks which one it has. A TLS failure is
// logged once by its owner with the owner's context — nginx's "... while processing SSL
// connection" for a client, "... while talking to upstream" for an upstream — and thrown
// as an EPROTO error of the call.
// One object per connection object, reused with it: owners hold it in a `let`, so
// every call reaches it without copying or reference counting.

import Glibc
import SwiftginxPosix
import SwiftginxTLS

final class Transport {
    var fd: Int32
    var tls: TLSConnection?
    /// TLS only: TCP_CORK is on while a write said more bytes follow at once (`more`), so
    /// a request head and the body bytes already read leave in one segment, as plain
    /// writes with MSG_MORE do (an upstream reading the head may expect the first body
    /// bytes with it).
    var corked = false
    /// Who logs the OpenSSL message of a failed TLS call: the client connection, or the
    /// upstream connection (for its current proxy exchange's request). References, not
    /// a closure: an idle connection carries no closure context.
    unowned(unsafe) var client: HTTP1Connection? = nil
    unowned(unsafe) var upstream: UpstreamConnection? = nil

    init(fd: Int32 = -1) {
        self.fd = fd
    }

    /// Serves a new socket (plain until TLS is started on it).
    func reset(fd: Int32) {
        self.fd = fd
        tls = nil
    }

    @inline(__always) func read(_ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        guard let tls else { return try Socket.read(fd, buf, count) }
        return try readTLS(tls, buf, count)
    }

    /// SSL_read returns one record at a time: the records OpenSSL already holds (read
    /// ahead) are taken too, as nginx's ngx_ssl_recv does, so a request head and the body
    /// bytes sent with it in the next record are seen together (no system call is added:
    /// only bytes already received are read).
    private func readTLS(_ tls: TLSConnection, _ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError)
        -> IOResult<Int>
    {
        var total = 0
        while true {
            let r: IOResult<Int>
            do { r = try map(tls.read(buf + total, count - total), call: "SSL_read") } catch {
                if total > 0 { return .processed(total) }
                throw error
            }
            switch r {
            case .wouldBlock: return total > 0 ? .processed(total) : .wouldBlock
            case .processed(let n):
                if n == 0 { return .processed(total) }
                total += n
                if total == count || !tls.hasPendingInput { return .processed(total) }
            }
        }
    }

    @inline(__always) func write(_ buf: UnsafeRawPointer, _ count: Int, more: Bool = false) throws(SystemError)
        -> IOResult<Int>
    {
        guard let tls else { return try Socket.write(fd, buf, count, more: more) }
        if more != corked {
            corked = more
            try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_CORK, more ? 1 : 0)
        }
        return try map(tls.write(buf, count), call: "SSL_write")
    }

    /// A file region: sendfile, SSL_sendfile (kernel TLS), or pread into `bounce` and
    /// SSL_write (after a want-write the same bytes are read again, as SSL_write requires).
    func sendfile(_ file: Int32, offset: inout Int64, count: Int, bounce: ByteBuffer) throws(SystemError)
        -> IOResult<Int>
    {
        guard let tls else { return try Socket.sendfile(fd, file, offset: &offset, count: count) }
        if tls.kernelTLSSend {
            let r = try map(tls.sendfile(file, offset: offset, count: count), call: "SSL_sendfile")
            if case .processed(let n) = r { offset += Int64(n) }
            return r
        }
        let n: Int
        switch try FileSystem.pread(file, into: bounce.base, count: min(count, bounce.capacity), offset: offset) {
        case .wouldBlock: return .wouldBlock
        case .processed(let got): n = got
        }
        if n == 0 { return .processed(0) }
        let r = try map(tls.write(bounce.base, n), call: "SSL_write")
        if case .processed(let written) = r { offset += Int64(written) }
        return r
    }

    /// After a read that gave `got` of `asked` bytes: whether the socket has nothing more
    /// for now (a plain socket's short read; TLS: the BIO's last read was short and
    /// OpenSSL holds nothing), so the next read can wait for epoll.
    @inline(__always) func drained(asked: Int, got: Int) -> Bool {
        guard let tls else { return got < asked }
        return tls.socketDrained
    }

    /// Bytes already decrypted by OpenSSL that epoll cannot announce.
    @inline(__always) var hasBufferedInput: Bool { tls?.hasPendingInput ?? false }

    /// Sends TLS close_notify (if TLS) and half-closes the socket.
    func shutdownWrite() {
        tls?.shutdown()
        Socket.shutdownWrite(fd)
    }

    @inline(__always) private func map(_ r: TLSConnection.Result, call: StaticString) throws(SystemError)
        -> IOResult<Int>
    {
        switch r {
        case .done(let n): return .processed(n)
        case .wantRead, .wantWrite: return .wouldBlock
        case .closed: return .processed(0)
        case .failed(let e): throw failure(e, call: call)
        }
    }

    /// Logs a failed TLS call through the owner (kept out of line: the hot path stays small).
    @inline(never) private func failure(_ e: TLSError, call: StaticString) -> SystemError {
        if let client {
            client.logInfo("\(e.message) while processing SSL connection")
        } else if let upstream {
            upstream.owner?.request.logInfo("\(e.message) while talking to upstream")
        }
        return SystemError("\(call)", errno: EPROTO)
    }
}
