// OCSP stapling, the OpenSSL side: one OCSPStaple per certificate of a server context
// holds the certificate, its issuer, where to ask (nginx's `http://host[:port][/uri]`),
// and the last good DER response with the time it stays valid. It builds the DER
// OCSPRequest and checks an answer as nginx does (parsed, successful, signature verified
// with `ssl_stapling_verify on`, for this certificate, within its validity, status
// `good`), with nginx's messages. The network side lives in the server's OCSPStapler;
// worker threads only read the stored response, under a lock, in the status callback.

import COpenSSL
import CSwiftginxTLSShims
import Glibc
import Synchronization

/// An OCSP responder address: `http://` only, as nginx.
public struct OCSPResponder: Sendable, Equatable, CustomStringConvertible {
    /// As written in the URL (IPv6 in brackets): the Host header and the log's `responder:`.
    public let host: String
    public let port: Int
    /// The path, "/" when the URL has none.
    public let uri: String

    public var description: String { "http://\(host):\(port)\(uri)" }

    /// nginx's parse of a responder URL; the failure is the reason worded as nginx's
    /// warning, e.g. `invalid URL prefix in OCSP responder "https://x/"`.
    public static func parse(_ url: String) -> Result<OCSPResponder, TLSError> {
        guard url.utf8.count > 7, url.prefix(7).lowercased() == "http://" else {
            return .failure(TLSError("invalid URL prefix in OCSP responder \"\(url)\""))
        }
        let rest = String(url.dropFirst(7))
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<pathStart]
        let path = rest[pathStart...]
        var host = Substring(authority)
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(TLSError("invalid host in OCSP responder \"\(rest)\""))
            }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                return .failure(TLSError("invalid host in OCSP responder \"\(rest)\""))
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        var port = 80
        if let portText {
            guard let n = Int(portText), (1...65535).contains(n) else {
                return .failure(TLSError("invalid port in OCSP responder \"\(rest)\""))
            }
            port = n
        }
        if host.isEmpty { return .failure(TLSError("no host in OCSP responder \"\(rest)\"")) }
        return .success(OCSPResponder(host: String(host), port: port, uri: path.isEmpty ? "/" : String(path)))
    }
}

/// One certificate's stapling: what to ask and the response to staple.
public final class OCSPStaple: @unchecked Sendable {
    /// The X509 as loaded into the context (SSL_get_certificate returns this pointer).
    let certificate: OpaquePointer
    /// Its issuer, when a responder is asked (nil for `ssl_stapling_file`).
    let issuer: OpaquePointer?
    /// The chain of the certificate's file and the context's trusted store, for verifying.
    private let chain: OpaquePointer?
    private let store: OpaquePointer?
    /// The `ssl_certificate` value, as nginx names a certificate in its logs.
    public let name: String
    /// nil for a response read from a file (never refreshed).
    public let responder: OCSPResponder?
    public let verify: Bool
    private let current: Mutex<(der: [UInt8], validUntil: Int)?>

    /// A staple that fetches: `certificate`, `issuer`, `chain` and `store` are retained.
    init(
        certificate: OpaquePointer, issuer: OpaquePointer, chain: [OpaquePointer], store: OpaquePointer?,
        name: String, responder: OCSPResponder, verify: Bool
    ) {
        X509_up_ref(certificate)
        X509_up_ref(issuer)
        self.certificate = certificate
        self.issuer = issuer
        let stack = OPENSSL_sk_new_null()
        for c in chain where stack != nil {
            X509_up_ref(c)
            if OPENSSL_sk_push(stack, UnsafeRawPointer(c)) == 0 { X509_free(c) }
        }
        self.chain = stack
        if let store { X509_STORE_up_ref(store) }
        self.store = store
        self.name = name
        self.responder = responder
        self.verify = verify
        self.current = Mutex(nil)
    }

    /// A staple of a fixed response (`ssl_stapling_file`), valid for ever.
    init(certificate: OpaquePointer, name: String, response: [UInt8]) {
        X509_up_ref(certificate)
        self.certificate = certificate
        self.issuer = nil
        self.chain = nil
        self.store = nil
        self.name = name
        self.responder = nil
        self.verify = false
        self.current = Mutex((response, Int.max))
    }

    deinit {
        X509_free(certificate)
        if let issuer { X509_free(issuer) }
        if let chain { OPENSSL_sk_pop_free(chain, freeX509) }
        if let store { X509_STORE_free(store) }
    }

    /// The response to staple at `now` (seconds since the epoch): the last good one
    /// until its nextUpdate has passed (nginx keeps serving it after failed refreshes).
    public func response(now: Int) -> [UInt8]? {
        current.withLock { state in
            guard let state, !state.der.isEmpty, state.validUntil >= now else { return nil }
            return state.der
        }
    }

    /// Stores a response that `check` accepted.
    public func store(_ der: [UInt8], validUntil: Int) {
        current.withLock { $0 = (der, validUntil) }
    }

    /// The DER OCSPRequest for this certificate (SHA-1 CertID, as nginx and OpenSSL).
    public func requestDER() -> Result<[UInt8], TLSError> {
        guard let issuer else { return .failure(TLSError("no issuer certificate")) }
        ERR_clear_error()
        guard let request = OCSP_REQUEST_new() else { return .failure(.openSSL("OCSP_REQUEST_new() failed")) }
        defer { OCSP_REQUEST_free(request) }
        guard let id = OCSP_cert_to_id(nil, certificate, issuer) else {
            return .failure(.openSSL("OCSP_cert_to_id() failed"))
        }
        if OCSP_request_add0_id(request, id) == nil {
            OCSP_CERTID_free(id)
            return .failure(.openSSL("OCSP_request_add0_id() failed"))
        }
        let length = i2d_OCSP_REQUEST(request, nil)
        guard length > 0 else { return .failure(.openSSL("i2d_OCSP_REQUEST() failed")) }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_OCSP_REQUEST(request, &p)
        }
        guard written == length else { return .failure(.openSSL("i2d_OCSP_REQUEST() failed")) }
        return .success(bytes)
    }

    /// The GET target nginx sends: the responder's path, "/" and the base64 request
    /// escaped as a URI component.
    public func requestTarget(_ der: [UInt8]) -> String {
        let base = responder?.uri ?? "/"
        return base + (base.hasSuffix("/") ? "" : "/") + OCSP.escapeComponent(OCSP.base64(der))
    }

    /// nginx's checks of a responder's answer; on success, the time (seconds since the
    /// epoch) until which it may be stapled (its nextUpdate, or for ever without one).
    /// Must run on the thread that logs the failure (the OpenSSL error queue is per thread).
    public func check(_ der: [UInt8]) -> Result<Int, TLSError> {
        guard let issuer else { return .failure(TLSError("no issuer certificate")) }
        ERR_clear_error()
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var p: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &p, buffer.count)
        }
        guard let response = parsed else { return .failure(.openSSL("d2i_OCSP_RESPONSE() failed")) }
        defer { OCSP_RESPONSE_free(response) }
        let status = OCSP_response_status(response)
        guard status == OCSP_RESPONSE_STATUS_SUCCESSFUL else {
            let text = String(cString: OCSP_response_status_str(Int(status)))
            return .failure(TLSError("OCSP response not successful (\(status): \(text))"))
        }
        guard let basic = OCSP_response_get1_basic(response) else {
            return .failure(.openSSL("OCSP_response_get1_basic() failed"))
        }
        defer { OCSP_BASICRESP_free(basic) }
        let flags = UInt(verify ? OCSP_TRUSTOTHER : OCSP_NOVERIFY)
        guard OCSP_basic_verify(basic, chain, store, flags) == 1 else {
            return .failure(.openSSL("OCSP_basic_verify() failed"))
        }
        guard let id = OCSP_cert_to_id(nil, certificate, issuer) else {
            return .failure(.openSSL("OCSP_cert_to_id() failed"))
        }
        defer { OCSP_CERTID_free(id) }
        var certStatus: Int32 = 0
        var thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        guard OCSP_resp_find_status(basic, id, &certStatus, nil, nil, &thisUpdate, &nextUpdate) == 1 else {
            return .failure(TLSError("certificate status not found in the OCSP response"))
        }
        guard OCSP_check_validity(thisUpdate, nextUpdate, 300, -1) == 1 else {
            return .failure(.openSSL("OCSP_check_validity() failed"))
        }
        var validUntil = Int.max
        if let nextUpdate {
            guard let t = OCSP.epochSeconds(nextUpdate) else {
                return .failure(TLSError("invalid nextUpdate time in certificate status"))
            }
            validUntil = t
        }
        guard certStatus == V_OCSP_CERTSTATUS_GOOD else {
            let text = String(cString: OCSP_cert_status_str(Int(certStatus)))
            return .failure(TLSError("certificate status \"\(text)\" in the OCSP response"))
        }
        return .success(validUntil)
    }
}

private func freeX509(_ pointer: UnsafeMutableRawPointer?) {
    X509_free(OpaquePointer(pointer))
}

/// Helpers without state.
public enum OCSP {
    /// Standard base64 with padding.
    static func base64(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "" }
        var out = [UInt8](repeating: 0, count: (bytes.count + 2) / 3 * 4 + 1)
        let n = EVP_EncodeBlock(&out, bytes, Int32(bytes.count))
        return String(decoding: out[0..<Int(max(0, n))], as: UTF8.self)
    }

    /// nginx's escaping of a URI component: everything but letters, digits and `-._~`
    /// (so base64's `+`, `/` and `=`) as %XX.
    static func escapeComponent(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(b)
            default:
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An ASN1 time as seconds since the epoch.
    static func epochSeconds(_ time: UnsafePointer<ASN1_TIME>) -> Int? {
        var broken = tm()
        guard ASN1_TIME_to_tm(time, &broken) == 1 else { return nil }
        return Int(timegm(&broken))
    }

    /// The first OCSP URL of the certificate's Authority Information Access extension.
    static func responderURL(of certificate: OpaquePointer) -> String? {
        guard let urls = X509_get1_ocsp(certificate) else { return nil }
        defer { X509_email_free(urls) }
        guard OPENSSL_sk_num(urls) > 0, let first = OPENSSL_sk_value(urls, 0) else { return nil }
        return String(cString: first.assumingMemoryBound(to: CChar.self))
    }

    /// The issuer of `certificate`: in its chain first, then in the context's store
    /// (`ssl_trusted_certificate`, `ssl_client_certificate`), nginx's order. Retained.
    static func issuer(
        of certificate: OpaquePointer, chain: [OpaquePointer], store: OpaquePointer?
    ) -> OpaquePointer? {
        for candidate in chain where X509_check_issued(candidate, certificate) == X509_V_OK {
            X509_up_ref(candidate)
            return candidate
        }
        guard let store, let storeContext = X509_STORE_CTX_new() else { return nil }
        defer { X509_STORE_CTX_free(storeContext) }
        guard X509_STORE_CTX_init(storeContext, store, nil, nil) == 1 else { return nil }
        var found: OpaquePointer? = nil
        let rc = X509_STORE_CTX_get1_issuer(&found, storeContext, certificate)
        ERR_clear_error()
        return rc == 1 ? found : nil
    }
}
