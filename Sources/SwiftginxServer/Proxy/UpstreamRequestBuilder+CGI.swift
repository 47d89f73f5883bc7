// The request head of the CGI-style upstream protocols: uwsgi's packet, FastCGI's
// BEGIN_REQUEST and PARAMS records, SCGI's netstring. All three carry the same
// parameters, built as nginx builds them: the location's `*_param` lines in order (an
// `if_not_empty` one left out when its value is empty), then, unless
// `*_pass_request_headers off`, one HTTP_* parameter per client header name (upper-cased,
// '-' made '_'; a repeated header joined with ", ", Cookie with "; "), except the names
// a `*_param` already sets. The body follows: unframed for uwsgi and SCGI, in STDIN
// records for FastCGI (ProxyExchange+FastCGI.swift).

import SwiftginxConfig
import SwiftginxHTTP

extension UpstreamRequestBuilder {
    private static let httpCookieKey = Array("HTTP_COOKIE".utf8)

    /// Writes the head of a uwsgi, FastCGI or SCGI request into `x.requestHead`.
    static func buildCGI(for x: ProxyExchange, proto: UpstreamProtocol) -> Sent {
        let request = x.request
        let params = cgiParams(for: x)
        var packet: [UInt8] = []
        var failed = false
        switch proto {
        case .fastcgi:
            let keep = x.settings.fastcgi.keepConn && (x.group?.keepalive ?? 0) > 0
            if let size = FastCGIRecord.appendRequestStart(params: params, keepConnection: keep, to: &packet) {
                request.logError("fastcgi request record is too big: \(size)", level: .alert)
                failed = true
            }
            x.requestHead.append(packet)
            return Sent(uri: 0..<0, connectionClose: !keep, failed: failed)
        case .scgi:
            let length: Int64 =
                !x.settings.passRequestBody ? 0 : x.streaming ? (request.head.contentLength ?? 0) : x.bodyLength
            SCGIRequest.append(contentLength: length, params: params, to: &packet)
        default:
            if !UwsgiPacket.append(
                params: params, modifier1: x.settings.modifier1, modifier2: x.settings.modifier2, to: &packet)
            {
                request.logError(
                    "uwsgi request is too big: \(params.reduce(0) { $0 + $1.key.count + $1.value.count })")
                failed = true
            }
        }
        x.requestHead.append(packet)
        return Sent(uri: 0..<0, connectionClose: true, failed: failed)
    }

    /// The parameters of a CGI-style request, in order.
    static func cgiParams(for x: ProxyExchange) -> [(key: [UInt8], value: [UInt8])] {
        let request = x.request
        var params: [(key: [UInt8], value: [UInt8])] = []
        var configured: Set<[UInt8]> = []
        for param in x.settings.params {
            let v = request.evaluate(param.value)
            configured.insert(Array(param.name.utf8))
            if v.isEmpty && param.ifNotEmpty { continue }
            params.append((Array(param.name.utf8), v))
        }
        guard x.settings.passRequestHeaders else { return params }
        let buf = request.headBytes
        var headerParams: [[UInt8]: Int] = [:]
        for h in request.head.headers {
            var key = Array("HTTP_".utf8)
            for c in buf[h.name] {
                if c == UInt8(ascii: "-") {
                    key.append(UInt8(ascii: "_"))
                } else if c >= 97 && c <= 122 {
                    key.append(c - 32)
                } else {
                    key.append(c)
                }
            }
            // A *_param of the same name wins over the client's header.
            if configured.contains(key) { continue }
            if let i = headerParams[key] {
                params[i].value += key == Self.httpCookieKey ? [59, 32] : [44, 32]
                params[i].value += buf[h.value]
                continue
            }
            headerParams[key] = params.count
            params.append((key, Array(buf[h.value])))
        }
        return params
    }
}
