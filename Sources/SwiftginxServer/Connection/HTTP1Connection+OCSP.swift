// `ssl_ocsp`: after the handshake of a client that sent a certificate, the connection
// asks the OCSP responder about each certificate of its chain before it reads a request
// (ClientOCSPCheck says what to ask and judges the answers). The requests run on the
// worker's own loop: a non-blocking socket in the upstream slot table (no thread, no
// blocking call), `GET /<base64 request> HTTP/1.0` and the answer read to the end. The
// connection waits in its handshake state, under its handshake timeout; if it closes
// first, the request in flight is dropped with it. A responder given by name cannot be
// reached (there is no resolver, as nginx without one). The verdict shows in
// `$ssl_client_verify`, and `ssl_verify_client on|optional` answers 400 for it.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxTLS

extension HTTP1Connection {
    /// True when requests may be read: no check is needed, or it ended; false while the
    /// responder is asked (the connection is driven again when it answers).
    func clientOCSPReady(_ tls: TLSConnection) -> Bool {
        if tls.ocspDone { return true }
        if tls.ocspCheck != nil { return false }
        guard let check = tls.makeOCSPCheck() else {
            tls.ocspDone = true
            return true
        }
        tls.ocspCheck = check
        let fetch = ClientOCSPFetch(connection: self, tls: tls, check: check)
        fetch.advance(check.next())
        return tls.ocspDone
    }
}

/// The requests of one connection's check, one at a time.
final class ClientOCSPFetch {
    private weak var connection: HTTP1Connection?
    private weak var tls: TLSConnection?
    private let worker: Worker
    private let check: ClientOCSPCheck
    private var exchange: SocketExchange? = nil
    private var upstream: UpstreamConnection? = nil
    private var responder = ""
    /// The connection was told to wait (it is driven again at the end).
    private var waited = false

    /// The group the responder sockets are filed under in the upstream slot table.
    private static let group = UpstreamGroup(name: "OCSP responder", servers: [], isExplicit: false, index: -1)

    init(connection: HTTP1Connection, tls: TLSConnection, check: ClientOCSPCheck) {
        self.connection = connection
        self.tls = tls
        self.worker = connection.worker
        self.check = check
    }

    /// Goes on from `step` until a request is in flight or the check has ended.
    func advance(_ step: ClientOCSPCheck.Step) {
        var step = step
        while true {
            switch step {
            case .done:
                conclude()
                return
            case .fetch(let responder, let target):
                if send(responder, target) {
                    waited = true
                    return
                }
                step = check.fail()
            }
        }
    }

    /// Connects to the responder and registers the socket; false when that fails at once.
    private func send(_ responder: OCSPResponder, _ target: String) -> Bool {
        self.responder = responder.host
        var host = responder.host
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let address = SocketAddress(host: host, port: responder.port) else {
            log("no resolver defined to resolve \(responder.host) while requesting certificate status")
            return false
        }
        let request = Array("GET \(target) HTTP/1.0\r\nHost: \(responder.host)\r\n\r\n".utf8)
        do {
            let x = try SocketExchange(
                .inet(address), request: request, connectTimeout: 60_000, ioTimeout: nil, limit: 16384,
                capReads: true, now: worker.now)
            let u = try worker.registerUpstream(
                fd: x.fd, group: Self.group, peer: 0, address: .inet(host: host, port: responder.port))
            u.ocspFetch = self
            exchange = x
            upstream = u
            tls?.onRelease = { [weak self] in self?.closeSocket() }
            return true
        } catch {
            log("\(error) while requesting certificate status")
            return false
        }
    }

    /// An event on the responder's socket.
    func onEvent() {
        guard let x = exchange else { return }
        var scratch = [UInt8](repeating: 0, count: 16384)
        let outcome = scratch.withUnsafeMutableBytes { x.progress(now: worker.now, scratch: $0) }
        guard let outcome else { return }
        closeSocket()
        if connection == nil || tls == nil { return }
        var body: [UInt8]? = nil
        switch outcome {
        case .answer(let answer):
            body = reply(answer)
        case .failed(_, let error, _):
            log("\(error.map { "\($0)" } ?? "OCSP responder timed out") while requesting certificate status")
        }
        advance(check.finish(body))
    }

    /// The body of a 200 answer; nil (logged) otherwise.
    private func reply(_ answer: [UInt8]) -> [UInt8]? {
        switch OCSPReply.parse(answer) {
        case .complete(let status, let body): return status == 200 ? body : nil
        case .incomplete: log("OCSP responder prematurely closed connection while requesting certificate status")
        case .invalid: log("OCSP responder sent invalid response while requesting certificate status")
        case .invalidContentType(let value):
            log("OCSP responder sent invalid \"Content-Type\" header: \"\(value)\" while requesting certificate status")
        }
        return nil
    }

    /// The verdict goes to the TLS connection; a connection that waited is driven again.
    private func conclude() {
        guard let tls else { return }
        tls.ocspFailure = check.failure
        tls.ocspDone = true
        tls.onRelease = nil
        guard waited, let c = connection, c.transport.tls === tls else { return }
        c.onEvent([.readable])
    }

    func closeSocket() {
        exchange = nil
        if let u = upstream {
            u.ocspFetch = nil
            worker.closeUpstream(u)
            upstream = nil
        }
    }

    private func log(_ message: String) {
        connection?.request.logError(message + ", responder: \(responder)")
    }
}
