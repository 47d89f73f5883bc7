// The PROXY protocol header on a connection accepted on a `listen ... proxy_protocol`
// address: before anything else (before the TLS handshake on an `ssl` address), the
// header is peeked, parsed (SwiftginxHTTP's ProxyProtocol) and then consumed exactly,
// so that what follows — a TLS record or a request — is read by the usual path. A
// header still arriving waits for more bytes under client_header_timeout; a broken
// one is logged at `error` ("broken header: ... while reading PROXY protocol") and
// closes the connection, as in nginx. The addresses it carried are the connection's
// `$proxy_protocol_*` variables and what `real_ip_header proxy_protocol` takes.

import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

extension HTTP1Connection {
    /// Reads the PROXY protocol header; false to wait (or when the connection closed).
    func readProxyProtocol() -> Bool {
        guard readReady else { return false }
        let buf = worker.scratch
        let n: Int
        do {
            switch try Socket.peek(fd, into: buf.base, count: min(buf.capacity, ProxyProtocol.maxHeader)) {
            case .wouldBlock:
                readReady = false
                return false
            case .processed(0):
                close()
                return false
            case .processed(let k):
                n = k
            }
        } catch {
            logInfo("\(error) while reading PROXY protocol")
            close()
            return false
        }
        switch ProxyProtocol.parse(UnsafeRawBufferPointer(start: buf.base, count: n)) {
        case .incomplete:
            // The bytes stay in the socket; the next edge reports the rest.
            readReady = false
            return false
        case .broken(let message):
            request.logError("\(message) while reading PROXY protocol")
            close()
            return false
        case .complete(let length, let header):
            // Take exactly the header: what follows belongs to TLS or to the request.
            guard case .processed(length)? = try? Socket.read(fd, buf.base, length) else {
                close()
                return false
            }
            proxyProtocol = header
            state = group.options.ssl ? .detectingTLS : .readingHead
            return true
        }
    }

    /// `$proxy_protocol_addr`, `_port`, `_server_addr`, `_server_port`.
    func appendProxyProtocol(_ field: ProxyProtocolField, to out: ByteBuffer) {
        guard let pp = proxyProtocol else { return }
        switch field {
        case .addr: out.append(pp.sourceAddress)
        case .serverAddr: out.append(pp.destinationAddress)
        case .port: if pp.sourcePort > 0 { out.append(decimal: Int64(pp.sourcePort)) }
        case .serverPort: if pp.destinationPort > 0 { out.append(decimal: Int64(pp.destinationPort)) }
        }
    }

    /// `$proxy_protocol_tlv_<name>`: the TLV's raw value (`ssl_verify` in decimal).
    func appendProxyProtocolTLV(_ key: ProxyProtocolTLVKey, to out: ByteBuffer) {
        guard let pp = proxyProtocol else { return }
        var tlvs = pp.tlvs[...]
        if key.inSSL {
            guard let ssl = ProxyProtocol.value(ofType: ProxyProtocol.sslType, in: tlvs), ssl.count >= 5 else {
                return
            }
            if key.isVerify {
                let s = ssl.startIndex
                let verify =
                    UInt32(ssl[s + 1]) << 24 | UInt32(ssl[s + 2]) << 16 | UInt32(ssl[s + 3]) << 8
                    | UInt32(ssl[s + 4])
                out.append(decimal: Int64(verify))
                return
            }
            tlvs = ssl.dropFirst(5)
        }
        guard let type = key.type else {
            request.logError("unknown PROXY protocol TLV \"\(key.name)\"")
            return
        }
        if let v = ProxyProtocol.value(ofType: type, in: tlvs) { out.append(Array(v)) }
    }
}
