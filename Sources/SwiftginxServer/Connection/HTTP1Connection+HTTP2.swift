// Where a client connection becomes an HTTP/2 connection: after the TLS handshake when
// ALPN chose "h2", or on an address whose default server has `http2 on` (or a
// `listen ... http2`) when the first bytes are the h2c connection preface ("prior
// knowledge", as nginx detects it: bytes that cannot be the preface are HTTP/1).
// From then on HTTP2Connection owns the socket's events and the timer.

import SwiftginxConfig

extension HTTP1Connection {
    /// h2c (prior knowledge) is looked for on plain addresses whose default server has
    /// HTTP/2 on; on an ssl address HTTP/2 is ALPN's.
    var h2cAllowed: Bool {
        !group.options.ssl && (group.options.http2 || group.defaultServer.settings.http2.enabled)
    }

    /// The client connection preface (RFC 9113 §3.4).
    static let http2Preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Looks at the first bytes of a connection on an address with HTTP/2 on; false to
    /// wait for more (they match the preface so far). Switches to `.http2` on a match.
    func detectHTTP2Preface() -> Bool {
        let preface = HTTP1Connection.http2Preface
        let n = min(input.readableCount, preface.count)
        let first = UnsafeRawBufferPointer(start: input.base + input.readerIndex, count: n)
        guard first.elementsEqual(preface[0..<n]) else {
            http2Allowed = false
            return true
        }
        if n < preface.count { return readMoreForPreface() }
        startHTTP2(server: group.defaultServer.settings)
        return true
    }

    /// Reads more of a possible preface; false while it must wait.
    private func readMoreForPreface() -> Bool {
        guard readReady || transport.hasBufferedInput else { return false }
        do {
            switch try transport.read(input.writable, input.writableCount) {
            case .wouldBlock:
                readReady = false
                return false
            case .processed(0):
                close()
                return false
            case .processed(let n):
                input.writerIndex += n
                return true
            }
        } catch {
            close()
            return false
        }
    }

    /// After the TLS handshake: ALPN chose "h2".
    func startHTTP2IfNegotiated() {
        guard let tls, tls.alpnProtocol == "h2" else { return }
        var server = group.defaultServer
        if let name = tls.serverName, !name.isEmpty {
            let lower = Array(name.lowercased().utf8)
            server = lower.withUnsafeBytes { group.server(forHost: $0) }
        }
        startHTTP2(server: server.settings)
    }

    /// Hands the connection to HTTP/2, with the bytes already read.
    func startHTTP2(server: ServerSettings) {
        if countedReading { endReading() }
        state = .http2
        // An HTTP/2 connection has no moment of going idle as an HTTP/1 one has: OpenSSL
        // frees its record buffers whenever they are empty.
        tls?.releaseBuffersWhenEmpty()
        let h2 = HTTP2Connection(client: self, server: server)
        http2 = h2
        let pending = UnsafeRawBufferPointer(start: input.base + input.readerIndex, count: input.readableCount)
        h2.start(preface: pending)
        input.clear()
    }
}
