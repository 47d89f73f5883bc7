// The client connection's byte transport: plain socket calls, or TLS through
// OpenSSL when the connection was accepted on a `listen ... ssl` address. Every read
// and write of the client side goes through here; TLS results map onto the same
// IOResult (.wouldBlock for want-read/want-write, 0 for a clean close), so the state
// machine above does not change. File bodies over TLS go out with SSL_sendfile when
// the kernel does TLS (kTLS), else read into a buffer and written with SSL_write.

import Glibc
import SwiftginxPosix
import SwiftginxRouting
import SwiftginxTLS

extension ClientConnection {
    @inline(__always) func clientRead(_ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<
        Int
    > {
        guard let tls else { return try Socket.read(fd, buf, count) }
        return try map(tls.read(buf, count), call: "SSL_read")
    }

    @inline(__always) func clientWrite(_ buf: UnsafeRawPointer, _ count: Int, more: Bool = false) throws(SystemError)
        -> IOResult<Int>
    {
        guard let tls else { return try Socket.write(fd, buf, count, more: more) }
        return try map(tls.write(buf, count), call: "SSL_write")
    }

    /// A file region to the client: sendfile, SSL_sendfile (kTLS), or pread + SSL_write.
    func clientSendfile(_ file: Int32, offset: inout Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        guard let tls else { return try Socket.sendfile(fd, file, offset: &offset, count: count) }
        if tls.kernelTLSSend {
            let r = try map(tls.sendfile(file, offset: offset, count: count), call: "SSL_sendfile")
            if case .processed(let n) = r { offset += Int64(n) }
            return r
        }
        return try tlsSendfile(tls, file, offset: &offset, count: count, action: "processing SSL connection")
    }

    /// A file region through TLS without kTLS: read into the worker's buffer, then
    /// SSL_write (the same bytes are read again after a want-write, as SSL_write requires).
    func tlsSendfile(_ tls: TLSConnection, _ file: Int32, offset: inout Int64, count: Int, action: String)
        throws(SystemError) -> IOResult<Int>
    {
        let buffer = worker.tlsBuffer
        let n = pread(file, buffer.base, min(count, buffer.capacity), off_t(offset))
        if n < 0 { throw SystemError("pread", errno: errno) }
        if n == 0 { return .processed(0) }
        let r = try map(tls.write(buffer.base, n), call: "SSL_write", action: action)
        if case .processed(let written) = r { offset += Int64(written) }
        return r
    }

    /// Bytes already decrypted by OpenSSL that epoll cannot announce.
    var hasBufferedInput: Bool { tls?.hasPendingInput ?? false }

    /// A TLS result as a socket result: want-read/write is "would block", a clean close
    /// is 0 bytes, a failure is logged (`while …`) and thrown as an EPROTO error.
    func map(_ r: TLSConnection.Result, call: String, action: String = "processing SSL connection")
        throws(SystemError) -> IOResult<Int>
    {
        switch r {
        case .done(let n): return .processed(n)
        case .wantRead, .wantWrite: return .wouldBlock
        case .closed: return .processed(0)
        case .failed(let e):
            logInfo("\(e.message) while \(action)")
            throw SystemError(call, errno: EPROTO)
        }
    }

    /// Starts TLS on a connection accepted on an ssl address once its first byte is
    /// there: a byte that is not a TLS record means plain HTTP was sent to the HTTPS
    /// port (answered 400, as nginx). False while that byte has not arrived.
    func beginTLSIfNeeded() -> Bool {
        guard let context = worker.generation.tls.byAddress[group.address] else {
            state = .readingHead
            return true
        }
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_PEEK))
        if n < 0 && (errno == EAGAIN || errno == EINTR) {
            state = .detectingTLS
            return false
        }
        if n <= 0 {
            close()
            return false
        }
        if byte != 0x16 && byte & 0x80 == 0 {
            plainHTTPOnTLSPort = true
            state = .readingHead
            return true
        }
        do {
            tls = try TLSConnection(context: context, fd: fd)
            state = .handshaking
            return true
        } catch {
            logError("\(error.message) while SSL handshaking", level: .alert)
            close()
            return false
        }
    }

    /// Continues the handshake; true when the connection can read requests.
    func continueHandshake() -> Bool {
        guard let tls else { return true }
        switch tls.handshake() {
        case .done:
            state = .readingHead
            readReady = true
            return true
        case .wantRead, .wantWrite:
            return false
        case .closed:
            close()
            return false
        case .failed(let e):
            logInfo("\(e.message) while SSL handshaking")
            close()
            return false
        }
    }
}

extension ClientConnection {
    /// `$ssl_*` values (empty without TLS).
    func appendTLSVariable(_ field: SSLField, to out: ByteBuffer) {
        guard let tls else { return }
        switch field {
        case .protocol: out.append(string: tls.protocolVersion)
        case .cipher: out.append(string: tls.cipher)
        case .serverName: if let n = tls.serverName { out.append(string: n) }
        case .sessionReused: out.append(tls.sessionReused ? "r" : ".")
        case .sessionID: out.append(string: tls.sessionID)
        case .earlyData: if tls.inEarlyData { out.append("1") }
        case .alpnProtocol: if let a = tls.alpnProtocol { out.append(string: a) }
        case .clientVerify: out.append(string: tls.clientVerify)
        case .clientSubjectDN: if let v = tls.clientSubjectDN { out.append(string: v) }
        case .clientIssuerDN: if let v = tls.clientIssuerDN { out.append(string: v) }
        case .clientSerial: if let v = tls.clientSerial { out.append(string: v) }
        case .clientFingerprint: if let v = tls.clientFingerprint { out.append(string: v) }
        case .clientRawCert: if let v = tls.clientCertificatePEM { out.append(string: v) }
        case .clientCert:
            // nginx's $ssl_client_cert: the PEM with every line after the first indented by a tab.
            if let v = tls.clientCertificatePEM {
                let lines = v.split(separator: "\n", omittingEmptySubsequences: true)
                out.append(string: lines.joined(separator: "\n\t"))
            }
        }
    }
}
