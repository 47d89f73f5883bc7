// TLS on a client connection accepted on a `listen ... ssl` address: the first byte
// tells a TLS record from plain HTTP sent to the HTTPS port (answered 400, nginx's
// 497), then the handshake runs until the connection can read requests. Reads and
// writes afterwards go through the connection's Transport.

import Glibc
import SwiftginxPosix
import SwiftginxTLS

extension HTTP1Connection {
    /// Starts TLS on a connection accepted on an ssl address once its first byte is
    /// there: a byte that is not a TLS record means plain HTTP was sent to the HTTPS
    /// port (answered 400, as nginx). False while that byte has not arrived.
    func beginTLSIfNeeded() -> Bool {
        guard let context = worker.generation.tls.byAddress[group.address] else {
            state = .readingHead
            return true
        }
        var byte: UInt8 = 0
        switch try? Socket.peek(fd, into: &byte, count: 1) {
        case .wouldBlock?:
            state = .detectingTLS
            return false
        case .processed(let n)? where n > 0:
            break
        default:
            close()
            return false
        }
        if byte != 0x16 && byte & 0x80 == 0 {
            plainHTTPOnTLSPort = true
            state = .readingHead
            return true
        }
        do {
            let t = try TLSConnection(context: context, fd: fd)
            t.clientAddress = peer.withAddressBytes { $0.map { Array($0) } ?? [] }
            transport.tls = t
            state = .handshaking
            beginReading()
            return true
        } catch {
            request.logError("\(error.message) while SSL handshaking", level: .alert)
            close()
            return false
        }
    }

    /// Continues the handshake; true when the connection can read requests.
    func continueHandshake() -> Bool {
        guard let tls else { return true }
        switch tls.handshake() {
        case .done:
            if worker.generation.config.metricsEnabled {
                worker.metrics.count(MetricsRegistry.tlsID, cell: 0)
                if tls.sessionReused { worker.metrics.count(MetricsRegistry.tlsID, cell: 1) }
            }
            // `ssl_ocsp`: the client's chain is checked before a request is read.
            if !clientOCSPReady(tls) { return false }
            state = .readingHead
            endReading()
            readReady = true
            startHTTP2IfNegotiated()
            return true
        case .wantRead, .wantWrite:
            return false
        case .closed:
            close()
            return false
        case .failed(let e):
            if worker.generation.config.metricsEnabled { worker.metrics.count(MetricsRegistry.tlsID, cell: 2) }
            if let missing = tls.certificateError {
                // A certificate named by variables could not be loaded: a server error.
                request.logError("\(missing.message) while SSL handshaking")
            } else {
                logInfo("\(e.message) while SSL handshaking")
            }
            close()
            return false
        }
    }
}
