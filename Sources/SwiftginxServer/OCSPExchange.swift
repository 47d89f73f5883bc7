// One OCSP request as nginx sends it, on the housekeeping loop: the responder's name
// resolved, then for each address in turn a non-blocking connect, `GET /uri/<base64
// request> HTTP/1.0` with the Host header, and the answer read to the end (at most 16
// KiB, as nginx's buffer), all within one timeout (nginx's 60 s). A failed address
// (refused, timed out, invalid answer, wrong Content-Type) is logged and the next one
// tried. The resolution is the one call that may block: a responder given by address
// needs none, one given by name goes to the system resolver (getaddrinfo, so
// /etc/hosts and resolv.conf apply), once per request — and once for all the requests
// to that responder that start together — on the housekeeping thread only, never on a
// worker.

import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxTLS

final class OCSPExchange {
    enum Progress {
        /// Drive this socket exchange, then call `finish`.
        case exchange(SocketExchange)
        /// The body of a 200 answer and the peer that sent it, or nil. Failures went to
        /// `report`; a non-200 answer ends the request unlogged, as in nginx.
        case done((body: [UInt8], peer: String)?)
    }

    let responder: OCSPResponder
    /// The request target (path and escaped request).
    let target: String
    /// Milliseconds for each address: connect, send and read together.
    var timeout = 60_000
    /// Logs a failure: message, and the peer when connected.
    private let report: (String, String?) -> Void
    private var addresses: [SocketAddress] = []
    private var next = 0
    private var peer = ""

    init(responder: OCSPResponder, target: String, report: @escaping (String, String?) -> Void) {
        self.responder = responder
        self.target = target
        self.report = report
    }

    /// Resolves the responder and connects to its first address.
    func start(resolutions: ResolutionCache, now: Int64) -> Progress {
        switch resolutions.resolve(host: responder.host, port: responder.port) {
        case .failure(let e):
            report("\(responder.host) could not be resolved \(e)", nil)
            return .done(nil)
        case .success(let list): addresses = list
        }
        next = 0
        return connectNext()
    }

    /// The exchange with the current address ended.
    func finish(_ outcome: SocketExchange.Outcome, now: Int64) -> Progress {
        let timedOut = "OCSP responder timed out (110: Connection timed out)"
        let answer: [UInt8]
        switch outcome {
        case .answer(let a): answer = a
        case .failed(.reading, let error?, let a):
            // As nginx: logged, then the answer so far is judged (usually incomplete).
            report("\(error)", peer)
            answer = a
        case .failed(_, let error, _):
            report(error.map { "\($0)" } ?? timedOut, peer)
            return connectNext()
        }
        switch OCSPReply.parse(answer) {
        case .incomplete:
            report("OCSP responder prematurely closed connection", peer)
        case .invalid:
            report("OCSP responder sent invalid response", peer)
        case .invalidContentType(let value):
            report("OCSP responder sent invalid \"Content-Type\" header: \"\(value)\"", peer)
        case .complete(let status, let body):
            return .done(status == 200 ? (body, peer) : nil)
        }
        return connectNext()
    }

    /// Connects to the next address (those that fail at once are logged and skipped).
    private func connectNext() -> Progress {
        while next < addresses.count {
            let address = addresses[next]
            next += 1
            peer = address.description
            let request = Array("GET \(target) HTTP/1.0\r\nHost: \(responder.host)\r\n\r\n".utf8)
            do {
                let exchange = try SocketExchange(
                    .inet(address), request: request, connectTimeout: timeout, ioTimeout: nil, limit: 16384,
                    capReads: true, now: Clock.monotonicMilliseconds())
                return .exchange(exchange)
            } catch {
                report("\(error)", peer)
            }
        }
        return .done(nil)
    }
}
