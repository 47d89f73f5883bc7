// `early_hints`: an upstream's 103 (Early Hints) answer passed to the client before the
// final answer, as nginx 1.29+ does: only when one of the location's `early_hints`
// values is non-empty and not "0", only to an HTTP/1.1 client of a main request, with
// the upstream's fields less the ones the proxy hides (`proxy_hide_header` and the
// defaults: Date, Server, X-Accel-*), as "HTTP/1.1 103 Early Hints" — nothing when no
// field is left. The block goes out at once (what the socket does not take goes with
// the final head). Clients on HTTP/2 do not get it yet (their stream would need a
// 1xx HEADERS frame).

import SwiftginxConfig
import SwiftginxHTTP

extension UpstreamResponse {
    private static let earlyHintsLine: StaticString = "HTTP/1.1 103 Early Hints\r\n"

    /// The 103 head just parsed (`head`, its ranges into `upstreamInput.readable`).
    func passEarlyHints(_ x: ProxyExchange) {
        guard let settings = request.location?.settings, !settings.earlyHints.isEmpty,
            !request.isSubrequest, request.stream == nil, request.head.version.isAtLeast11
        else { return }
        var wanted = false
        for v in settings.earlyHints {
            let s = request.evaluate(v)
            if !s.isEmpty && s != [UInt8(ascii: "0")] {
                wanted = true
                break
            }
        }
        guard wanted else { return }
        let hidden = x.settings.hidden
        var block: [UInt8] = []
        let buf = upstreamInput.readable
        for h in head.headers {
            let name = buf[h.name]
            if hidden.contains(where: { asciiCaseEqual(name, $0) }) { continue }
            block += name
            block += [UInt8(ascii: ":"), UInt8(ascii: " ")]
            block += buf[h.value]
            block += [13, 10]
        }
        guard !block.isEmpty else { return }
        output.writerIndex = max(request.responseStart, output.readerIndex)
        output.reserve(block.count + Self.earlyHintsLine.utf8CodeUnitCount + 2)
        output.append(Self.earlyHintsLine)
        output.append(block)
        output.append("\r\n")
        request.responseStart = output.writerIndex
        _ = flush()
    }
}
