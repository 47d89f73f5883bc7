// The request head of an HTTP/2 stream. nghttp2 decodes the header fields (HPACK); its
// own HTTP checks are off (it would reset a stream where nginx answers 400), and each
// field is checked here as nginx checks it: the name and value bytes
// (ngx_http_v2_validate_header), the pseudo-header fields (known, once each, not empty,
// before any regular field; `:path` a URI, `:scheme` a scheme, `:authority` a host), then
// the whole head (no connection-specific fields, `:authority` and `Host` equal, a host of
// either, CONNECT and TRACE refused). The first fault is the stream's answer (400, or
// 405), logged at `info` with nginx's words. The fields are then written as an HTTP/1.1
// head that the one RequestParser reads, so every other limit and check is HTTP/1's.

import SwiftginxConfig
import SwiftginxHTTP

/// The pseudo-header fields a stream's head has had.
struct PseudoHeaders: OptionSet {
    let rawValue: UInt8
    static let method = PseudoHeaders(rawValue: 1)
    static let scheme = PseudoHeaders(rawValue: 2)
    static let path = PseudoHeaders(rawValue: 4)
    static let authority = PseudoHeaders(rawValue: 8)
}

extension HTTP2Stream {
    /// What a decoded header field does to the connection.
    enum FieldVerdict {
        case ok
        /// The header list is over `large_client_header_buffers`: GOAWAY ENHANCE_YOUR_CALM.
        case tooLarge
        /// One field is over the buffer size of `large_client_header_buffers`: the same.
        case fieldTooLarge
        /// A field without a name: GOAWAY PROTOCOL_ERROR, as nginx.
        case emptyName
    }

    /// One decoded header field.
    func addField(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, limits: ServerSettings)
        -> FieldVerdict
    {
        // nginx's count: the names and values of the decoded list (no per-field overhead).
        headerListSize += name.count + value.count
        let limit = limits.largeClientHeaderBuffers
        if name.count > limit.size || value.count > limit.size { return .fieldTooLarge }
        if headerListSize > limit.size * limit.count { return .tooLarge }
        if name.isEmpty { return .emptyName }
        if rejection != nil { return .ok }
        let pseudo = name[0] == UInt8(ascii: ":")
        var invalidName = false
        for i in (pseudo ? 1 : 0)..<name.count {
            let c = name[i]
            if (c >= 0x61 && c <= 0x7A) || c == 0x2D || ASCII.isDigit(c) || (c == 0x5F && limits.underscoresInHeaders) {
                continue
            }
            if c <= 0x20 || c == 0x7F || c == 0x3A || (c >= 0x41 && c <= 0x5A) {
                reject("client sent invalid header name: \"\(Self.text(name))\"")
                return .ok
            }
            invalidName = true
        }
        for c in value where c == 0 || c == 0x0A || c == 0x0D {
            reject("client sent header \"\(Self.text(name))\" with invalid value: \"\(Self.text(value))\"")
            return .ok
        }
        if pseudo {
            pseudoField(UnsafeRawBufferPointer(rebasing: name[1...]), value)
            return .ok
        }
        if !regularSeen {
            regularSeen = true
            if !checkRequestLine() { return .ok }
        }
        if invalidName && limits.ignoreInvalidHeaders {
            connection.client.logInfo("client sent invalid header: \"\(Self.text(name))\"")
            return .ok
        }
        if ASCII.equals(name, "cookie") {
            if !cookies.isEmpty { cookies.append(contentsOf: "; ".utf8) }
            cookies.append(contentsOf: value)
            return .ok
        }
        switch name.count {
        case 2 where ASCII.equals(name, "te"):
            if forbiddenField == nil && !ASCII.equalsLowercased(value, "trailers") || hasTE {
                forbiddenField = "invalid \"TE\""
            }
            hasTE = true
        case 4 where ASCII.equals(name, "host"):
            if !hasHost { hostValue = Array(value) }
            hasHost = true
        case 7 where ASCII.equals(name, "upgrade"):
            if forbiddenField == nil { forbiddenField = "\"Upgrade\"" }
        case 10 where ASCII.equals(name, "connection"):
            if forbiddenField == nil { forbiddenField = "\"Connection\"" }
        case 10 where ASCII.equals(name, "keep-alive"):
            if forbiddenField == nil { forbiddenField = "\"Keep-Alive\"" }
        case 14 where ASCII.equals(name, "content-length"):
            hasContentLength = true
            declaredLength =
                value.isEmpty || value.count > 18 || !value.allSatisfy(ASCII.isDigit)
                ? nil : value.reduce(0) { $0 * 10 + Int64($1 - 48) }
        case 17 where ASCII.equals(name, "transfer-encoding"):
            if forbiddenField == nil { forbiddenField = "\"Transfer-Encoding\"" }
        default:
            break
        }
        fields.append(contentsOf: name)
        fields.append(contentsOf: ": ".utf8)
        fields.append(contentsOf: value)
        fields.append(contentsOf: "\r\n".utf8)
        return .ok
    }

    /// A pseudo-header field (`name` without its colon).
    private func pseudoField(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        if regularSeen {
            reject("client sent out of order pseudo-headers")
            return
        }
        let kind: PseudoHeaders
        let label: String
        if ASCII.equals(name, "path") {
            (kind, label) = (.path, ":path")
        } else if ASCII.equals(name, "method") {
            (kind, label) = (.method, ":method")
        } else if ASCII.equals(name, "scheme") {
            (kind, label) = (.scheme, ":scheme")
        } else if ASCII.equals(name, "authority") {
            if pseudoSeen.contains(.authority) {
                reject("client sent duplicate \":authority\" header")
                return
            }
            pseudoSeen.insert(.authority)
            authority = Array(value)
            let valid = authority.withUnsafeBytes { RequestParser.validateHost($0, 0..<$0.count) != nil }
            if !valid { reject("client sent invalid \":authority\" header") }
            return
        } else if ASCII.equals(name, "protocol") {
            // RFC 8441's extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL is offered).
            if !tunnelProtocol.isEmpty {
                reject("client sent duplicate :protocol header")
            } else if value.isEmpty {
                reject("client sent empty :protocol header")
            }
            tunnelProtocol = Array(value)
            return
        } else {
            reject("client sent unknown pseudo-header \":\(Self.text(name))\"")
            return
        }
        if pseudoSeen.contains(kind) {
            reject("client sent duplicate \(label) header")
            return
        }
        pseudoSeen.insert(kind)
        if value.isEmpty {
            reject("client sent empty \(label) header")
            return
        }
        switch kind {
        case .path:
            path = Array(value)
            if value[0] != UInt8(ascii: "/") || value.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
                reject("client sent invalid :path header: \"\(Self.text(value))\"")
            }
        case .method:
            method = Array(value)
            if !Self.knownMethods.contains(method)
                && value.contains(where: { ($0 < 0x41 || $0 > 0x5A) && $0 != 0x5F && $0 != 0x2D })
            {
                reject("client sent invalid method: \"\(Self.text(value))\"")
            }
        default:
            for (i, c) in value.enumerated() {
                if (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A { continue }
                if i > 0 && (ASCII.isDigit(c) || c == 0x2B || c == 0x2D || c == 0x2E) { continue }
                reject("client sent invalid :scheme header: \"\(Self.text(value))\"")
                return
            }
        }
    }

    /// nginx builds the request line at the first regular field, or at the end of the
    /// head: `:method`, `:scheme` and `:path` must be there by then.
    private func checkRequestLine() -> Bool {
        if !pseudoSeen.contains(.method) {
            reject("client sent no :method header")
        } else if !pseudoSeen.contains(.scheme) {
            reject("client sent no :scheme header")
        } else if !pseudoSeen.contains(.path) {
            reject("client sent no :path header")
        } else {
            return true
        }
        return false
    }

    /// The checks nginx makes once the head is complete (ngx_http_v2_run_request).
    private func checkHead() {
        if rejection != nil || !checkRequestLine() { return }
        if let f = forbiddenField {
            reject("client sent \(f) header")
        } else if !pseudoSeen.contains(.authority) && !hasHost {
            reject("client sent neither \":authority\" nor \"Host\" header")
        } else if pseudoSeen.contains(.authority) && hasHost && hostValue != authority {
            reject("client sent \":authority\" and \"Host\" headers with different values")
        } else if !tunnelProtocol.isEmpty {
            // Extended CONNECT (RFC 8441): a WebSocket over this stream, passed to the
            // back end as an HTTP/1.1 Upgrade request (HTTP2Stream+Tunnel.swift).
            if !method.elementsEqual("CONNECT".utf8) {
                reject("client sent :protocol header without CONNECT method")
            } else if !pseudoSeen.contains(.authority) {
                reject("client sent extended CONNECT without :authority header")
            } else {
                isTunnel = true
            }
        } else if method.elementsEqual("CONNECT".utf8) {
            rejection = .methodNotAllowed("client sent CONNECT method")
        } else if method.elementsEqual("TRACE".utf8) {
            rejection = .methodNotAllowed("client sent TRACE method")
        }
    }

    private func reject(_ message: String) {
        if rejection == nil { rejection = .badRequest(message) }
    }

    /// The methods nginx knows by name (others must be of `A-Z`, `_` and `-`).
    private static let knownMethods: [[UInt8]] = [
        "GET", "POST", "HEAD", "OPTIONS", "PROPFIND", "PUT", "MKCOL", "DELETE", "COPY", "MOVE", "PROPPATCH", "LOCK",
        "UNLOCK", "PATCH", "TRACE", "CONNECT",
    ].map { Array($0.utf8) }

    static func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Checks the complete head and writes the HTTP/1.1 head the request's parser reads.
    func buildHead() {
        checkHead()
        headEndedStream = endStreamReceived
        input.clear()
        if isTunnel {
            buildTunnelHead()
            return
        }
        input.append(method)
        input.append(UInt8(ascii: " "))
        input.append(path.isEmpty ? Array("/".utf8) : path)
        input.append(" HTTP/1.1\r\n")
        if !hasHost && !authority.isEmpty {
            addedHost = true
            input.append("Host: ")
            input.append(authority)
            input.append("\r\n")
        }
        input.append(fields)
        if !cookies.isEmpty {
            input.append("Cookie: ")
            input.append(cookies)
            input.append("\r\n")
        }
        if !endStreamReceived && !hasContentLength {
            // A body of unannounced length: framed as chunked for the request's readers.
            input.append("Transfer-Encoding: chunked\r\n")
            chunkedBody = true
        }
        input.append("\r\n")
        fields = []
        cookies = []
    }
}
