// `ssl_ocsp`: the OCSP check of a client certificate chain after the handshake, the
// OpenSSL side (the server does the HTTP requests). As nginx: only a chain that passed
// verification is checked; each certificate of the verified chain but the last (or
// only the leaf with `ssl_ocsp leaf`) is asked about at `ssl_ocsp_responder`, else at
// the URL of its Authority Information Access; an answer must parse, verify against the
// context's trusted certificates and the chain, name the certificate and be current.
// A failure of any kind makes `$ssl_client_verify` "FAILED:certificate status request
// failed"; a revoked or unknown certificate "FAILED:certificate revoked" / "...status
// unknown". `ssl_ocsp_cache` keeps each certificate's status until its nextUpdate.

import COpenSSL
import CSwiftginxTLSShims
import Glibc
import Synchronization

/// What a server context checks (`ssl_ocsp on|leaf`, `ssl_ocsp_responder`, `ssl_ocsp_cache`).
public struct ClientOCSPSettings: Sendable {
    public var leafOnly: Bool
    public var responder: OCSPResponder?
    public var cache: OCSPStatusCache?
    public init(leafOnly: Bool, responder: OCSPResponder?, cache: OCSPStatusCache?) {
        self.leafOnly = leafOnly
        self.responder = responder
        self.cache = cache
    }
}

/// `ssl_ocsp_cache shared:NAME:SIZE`: certificate statuses by OCSP certificate id, shared
/// by the worker threads, each kept until its nextUpdate.
public final class OCSPStatusCache: Sendable {
    private let entries = Mutex<[[UInt8]: (status: Int32, validUntil: Int)]>([:])
    private let capacity: Int

    public init(capacity: Int) { self.capacity = max(1, capacity) }

    func lookup(_ key: [UInt8], now: Int) -> Int32? {
        entries.withLock { table in
            guard let entry = table[key] else { return nil }
            if entry.validUntil < now {
                table[key] = nil
                return nil
            }
            return entry.status
        }
    }

    func store(_ key: [UInt8], status: Int32, validUntil: Int, now: Int) {
        entries.withLock { table in
            if table.count >= capacity {
                for (k, v) in table where v.validUntil < now { table[k] = nil }
                if table.count >= capacity, let any = table.keys.first { table[any] = nil }
            }
            table[key] = (status, validUntil)
        }
    }
}

/// The check of one connection's client chain, one certificate at a time.
public final class ClientOCSPCheck {
    public enum Step {
        /// Ask `responder` with `GET target`, then call `finish`.
        case fetch(responder: OCSPResponder, target: String)
        /// The check ended: `failure` says how, nil when every status was good.
        case done
    }

    /// nginx's `$ssl_client_verify` reason after "FAILED:", nil while all is good.
    public private(set) var failure: String? = nil
    private let chain: OpaquePointer  // STACK_OF(X509), owned
    private let count: Int
    private let store: OpaquePointer?
    private let settings: ClientOCSPSettings
    private var index = 0
    /// The certificate id of the certificate asked about.
    private var pending: (id: OpaquePointer, key: [UInt8])? = nil

    /// nil when there is nothing to check (no certificate, or it failed verification).
    init?(ssl: OpaquePointer, ctx: OpaquePointer, settings: ClientOCSPSettings) {
        guard SSL_get_verify_result(ssl) == X509_V_OK, let peer = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(peer) }
        let store = SSL_CTX_get_cert_store(ctx)
        var chain: OpaquePointer? = nil
        if let verified = SSL_get0_verified_chain(ssl) {
            chain = X509_chain_up_ref(verified)
        } else if let store, let storeContext = X509_STORE_CTX_new() {
            // A resumed session has no verified chain: build it again from the store.
            defer { X509_STORE_CTX_free(storeContext) }
            if X509_STORE_CTX_init(storeContext, store, peer, SSL_get_peer_cert_chain(ssl)) == 1,
                X509_verify_cert(storeContext) == 1
            {
                chain = X509_STORE_CTX_get1_chain(storeContext)
            }
        }
        ERR_clear_error()
        guard let chain else { return nil }
        self.chain = chain
        self.count = Int(OPENSSL_sk_num(chain))
        self.store = store
        self.settings = settings
    }

    deinit {
        if let pending { OCSP_CERTID_free(pending.id) }
        OPENSSL_sk_pop_free(chain, freeCertificate)
    }

    private func certificate(_ i: Int) -> OpaquePointer { OpaquePointer(OPENSSL_sk_value(chain, Int32(i)))! }

    /// The next certificate to ask about (statuses found in the cache are taken as is).
    public func next() -> Step {
        let now = Int(time(nil))
        while true {
            if failure != nil || index >= count - 1 || (settings.leafOnly && index >= 1) { return .done }
            let cert = certificate(index)
            let issuer = certificate(index + 1)
            index += 1
            ERR_clear_error()
            guard let id = OCSP_cert_to_id(nil, cert, issuer) else { return fail() }
            let key = Self.der(id)
            if let status = settings.cache?.lookup(key, now: now) {
                OCSP_CERTID_free(id)
                if status != V_OCSP_CERTSTATUS_GOOD { return conclude(status) }
                continue
            }
            var responder = settings.responder
            if responder == nil {
                guard let url = OCSP.responderURL(of: cert), case .success(let r) = OCSPResponder.parse(url) else {
                    OCSP_CERTID_free(id)
                    return fail()
                }
                responder = r
            }
            guard let responder, let request = Self.request(id) else {
                OCSP_CERTID_free(id)
                return fail()
            }
            pending = (id, key)
            let base = responder.uri
            let target = base + (base.hasSuffix("/") ? "" : "/") + OCSP.escapeComponent(OCSP.base64(request))
            return .fetch(responder: responder, target: target)
        }
    }

    /// The body of the responder's 200 answer (nil: the request failed); the next step.
    public func finish(_ body: [UInt8]?) -> Step {
        guard let (id, key) = pending else { return fail() }
        pending = nil
        defer { OCSP_CERTID_free(id) }
        guard let body, let (status, validUntil) = check(body, id) else { return fail() }
        settings.cache?.store(key, status: status, validUntil: validUntil, now: Int(time(nil)))
        if status != V_OCSP_CERTSTATUS_GOOD { return conclude(status) }
        return next()
    }

    /// The request could not be made (no address for the responder, for one).
    public func fail() -> Step {
        failure = "certificate status request failed"
        return .done
    }

    private func conclude(_ status: Int32) -> Step {
        failure = status == V_OCSP_CERTSTATUS_REVOKED ? "certificate revoked" : "certificate status unknown"
        return .done
    }

    /// nginx's checks of the answer; the status and the time it is good until.
    private func check(_ der: [UInt8], _ id: OpaquePointer) -> (Int32, Int)? {
        ERR_clear_error()
        defer { ERR_clear_error() }
        let parsed: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var p: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &p, buffer.count)
        }
        guard let response = parsed else { return nil }
        defer { OCSP_RESPONSE_free(response) }
        guard OCSP_response_status(response) == OCSP_RESPONSE_STATUS_SUCCESSFUL,
            let basic = OCSP_response_get1_basic(response)
        else { return nil }
        defer { OCSP_BASICRESP_free(basic) }
        guard OCSP_basic_verify(basic, chain, store, 0) == 1 else { return nil }
        var status: Int32 = 0
        var thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        guard OCSP_resp_find_status(basic, id, &status, nil, nil, &thisUpdate, &nextUpdate) == 1,
            OCSP_check_validity(thisUpdate, nextUpdate, 300, -1) == 1
        else { return nil }
        let validUntil = nextUpdate.flatMap { OCSP.epochSeconds($0) } ?? Int.max
        return (status, validUntil)
    }

    private static func der(_ id: OpaquePointer) -> [UInt8] {
        let length = i2d_OCSP_CERTID(id, nil)
        guard length > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var p: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            _ = i2d_OCSP_CERTID(id, &p)
        }
        return bytes
    }

    /// A DER OCSPRequest for a copy of `id`.
    private static func request(_ id: OpaquePointer) -> [UInt8]? {
        guard let request = OCSP_REQUEST_new() else { return nil }
        defer { OCSP_REQUEST_free(request) }
        guard let copy = OCSP_CERTID_dup(id) else { return nil }
        if OCSP_request_add0_id(request, copy) == nil {
            OCSP_CERTID_free(copy)
            return nil
        }
        let length = i2d_OCSP_REQUEST(request, nil)
        guard length > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var p: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            return i2d_OCSP_REQUEST(request, &p)
        }
        return written == length ? bytes : nil
    }
}

private func freeCertificate(_ pointer: UnsafeMutableRawPointer?) {
    X509_free(OpaquePointer(pointer))
}
