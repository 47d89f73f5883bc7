// WebSockets over HTTP/2 (RFC 8441), beyond nginx: the server offers
// SETTINGS_ENABLE_CONNECT_PROTOCOL, and a stream opened with an extended CONNECT
// (`:method CONNECT`, `:protocol websocket`, `:scheme`, `:path`, `:authority`) becomes
// the HTTP/1.1 Upgrade request a WebSocket back end (Daphne, uvicorn, ...) expects:
// `GET path HTTP/1.1` with `Upgrade: <protocol>`, `Connection: Upgrade` and a fresh
// `Sec-WebSocket-Key` (HTTP/2 has none), through the location's usual configuration
// (`proxy_http_version 1.1`, `proxy_set_header Upgrade $http_upgrade`, `Connection
// "upgrade"`). The back end's 101 becomes the stream's 200, and from then on the DATA
// frames carry the WebSocket bytes both ways, through the proxy's tunnel, with flow
// control (the client's bytes are taken as the back end takes them). The back end's
// close is the stream's END_STREAM, and the client's END_STREAM is awaited for a clean
// close; a client's END_STREAM that comes first half-closes the back end's connection,
// whose last bytes still reach the client (UpstreamResponse.runTunnel). Any other
// answer goes to the client as it is and ends the stream.

import SwiftginxHTTP

extension HTTP2Stream {
    /// The HTTP/1.1 Upgrade head the request's parser reads.
    func buildTunnelHead() {
        input.append("GET ")
        input.append(path)
        input.append(" HTTP/1.1\r\n")
        if !hasHost {
            addedHost = true
            input.append("Host: ")
            input.append(authority)
            input.append("\r\n")
        }
        input.append("Upgrade: ")
        input.append(tunnelProtocol)
        input.append("\r\nConnection: Upgrade\r\n")
        if !fields.containsCaseless("sec-websocket-key:") {
            input.append("Sec-WebSocket-Key: ")
            input.append(Self.freshKey())
            input.append("\r\n")
        }
        input.append(fields)
        if !cookies.isEmpty {
            input.append("Cookie: ")
            input.append(cookies)
            input.append("\r\n")
        }
        input.append("\r\n")
        chunkedBody = false
        fields = []
        cookies = []
    }

    /// The back end's 101: the stream answers 200 with the back end's other fields
    /// (`Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`, ...), without the ones of
    /// the HTTP/1.1 handshake (left out by HTTP2HeadSplitter's `.tunnel`).
    func acceptTunnel() {
        tunnelOpened = true
        status = 200
        headParsed = true
        responseChunked = nil
        noBody = false
    }

    /// The stream's END_STREAM went out (the back end closed its side): a tunnel the
    /// client still sends on is not reset at once, as an answer's would be; the
    /// client's END_STREAM ends it cleanly (RFC 8441 §5: a FIN each way), within
    /// lingering_timeout. Whether the stream waits so.
    func awaitClientEnd() -> Bool {
        guard tunnelOpened && !tunnelClosing else { return false }
        tunnelClosing = true
        deadline = connection.worker.now + Int64(request.location?.settings.lingeringTimeout ?? 5000)
        return true
    }

    /// 16 random bytes in base64, as a WebSocket client makes its key.
    static func freshKey() -> [UInt8] {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var bytes = (0..<16).map { _ in UInt8.random(in: 0...255) }
        bytes += [0, 0]
        var out: [UInt8] = []
        for i in stride(from: 0, to: 18, by: 3) {
            let n = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            out += [table[n >> 18 & 63], table[n >> 12 & 63], table[n >> 6 & 63], table[n & 63]]
        }
        return Array(out.prefix(22)) + Array("==".utf8)
    }
}

extension Array where Element == UInt8 {
    /// Whether the bytes contain `needle` (ASCII, case folded).
    func containsCaseless(_ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard count >= n.count else { return false }
        for i in 0...(count - n.count) {
            var same = true
            for k in 0..<n.count where self[i + k] | 0x20 != n[k] | 0x20 {
                same = false
                break
            }
            if same { return true }
        }
        return false
    }
}
