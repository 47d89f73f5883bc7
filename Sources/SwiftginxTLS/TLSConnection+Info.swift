// What a finished handshake tells the HTTP layer: nginx's $ssl_* variables. Built on
// demand (these are read per request at most, not per byte).

import COpenSSL
import CSwiftginxTLSShims
import Glibc

extension TLSConnection {
    /// SNI received (server) or sent (client).
    public var serverName: String? {
        SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)).map { String(cString: $0) }
    }

    /// "TLSv1.3".
    public var protocolVersion: String { String(cString: SSL_get_version(ssl)) }

    /// "TLS_AES_256_GCM_SHA384", "" before the handshake.
    public var cipher: String {
        guard let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return "" }
        return String(cString: name)
    }

    public var sessionReused: Bool { SSL_session_reused(ssl) == 1 }

    /// Lowercase hex, "" when none.
    public var sessionID: String {
        guard let session = SSL_get_session(ssl) else { return "" }
        var length: UInt32 = 0
        guard let id = SSL_SESSION_get_id(session, &length) else { return "" }
        return hex(UnsafeBufferPointer(start: id, count: Int(length)))
    }

    public var alpnProtocol: String? {
        var data: UnsafePointer<UInt8>? = nil
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// `$ssl_early_data`: the request arrived before the handshake finished, i.e. in
    /// 0-RTT data that an attacker could replay (nginx's rule with OpenSSL).
    public var inEarlyData: Bool { SSL_is_init_finished(ssl) == 0 }

    // The peer's certificate ($ssl_client_*); on a client connection, the server's.

    public var peerCertificatePresented: Bool {
        withPeerCertificate { _ in true } ?? false
    }

    /// "SUCCESS", "FAILED:reason" or "NONE".
    public var clientVerify: String {
        guard peerCertificatePresented else { return "NONE" }
        let result = SSL_get_verify_result(ssl)
        if result == X509_V_OK { return ocspFailure.map { "FAILED:" + $0 } ?? "SUCCESS" }
        return "FAILED:" + String(cString: X509_verify_cert_error_string(result))
    }

    /// Subject DN in RFC 2253 form, as nginx's $ssl_client_s_dn.
    public var clientSubjectDN: String? {
        withPeerCertificate { distinguishedName(X509_get_subject_name($0)) } ?? nil
    }

    public var clientIssuerDN: String? {
        withPeerCertificate { distinguishedName(X509_get_issuer_name($0)) } ?? nil
    }

    /// Uppercase hex, as nginx.
    public var clientSerial: String? {
        withPeerCertificate { certificate -> String? in
            guard let serial = X509_get_serialNumber(certificate), let bn = ASN1_INTEGER_to_BN(serial, nil) else {
                return nil
            }
            defer { BN_free(bn) }
            guard let text = BN_bn2hex(bn) else { return nil }
            defer { swiftginx_OPENSSL_free(text) }
            return String(cString: text)
        } ?? nil
    }

    /// SHA1 of the DER certificate, lowercase hex.
    public var clientFingerprint: String? {
        withPeerCertificate { certificate -> String? in
            var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            var length: UInt32 = 0
            guard X509_digest(certificate, EVP_sha1(), &digest, &length) == 1 else { return nil }
            return digest[0..<Int(length)].withUnsafeBufferPointer { hex($0) }
        } ?? nil
    }

    public var clientCertificatePEM: String? {
        withPeerCertificate { certificate -> String? in
            memoryBIOText { PEM_write_bio_X509($0, certificate) == 1 }
        } ?? nil
    }

    func withPeerCertificate<T>(_ body: (OpaquePointer) -> T) -> T? {
        defer { Self.errorQueueMayBeDirty() }  // certificate printing may leave errors
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        return body(certificate)
    }

    private func distinguishedName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        return memoryBIOText { X509_NAME_print_ex($0, name, 0, swiftginx_XN_FLAG_RFC2253) >= 0 }
    }
}

/// Text written by `body` into a memory BIO.
func memoryBIOText(_ body: (OpaquePointer) -> Bool) -> String? {
    guard let bio = BIO_new(BIO_s_mem()) else { return nil }
    defer { BIO_free(bio) }
    guard body(bio) else {
        ERR_clear_error()
        return nil
    }
    let pending = Int(BIO_ctrl_pending(bio))
    var bytes = [UInt8](repeating: 0, count: pending)
    let n = pending > 0 ? BIO_read(bio, &bytes, Int32(pending)) : 0
    return String(decoding: bytes[0..<Int(max(0, n))], as: UTF8.self)
}

func hex(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

// The rest of nginx's handshake and client-certificate variables.
extension TLSConnection {
    /// `$ssl_ciphers`: the client's cipher list, names joined by ":" (unknown ones as
    /// "0x" and their hex code).
    public var clientCiphers: String {
        var list: UnsafeMutablePointer<UInt8>? = nil
        let width = Int(swiftginx_SSL_get0_raw_cipherlist(ssl, nil))
        let total = Int(swiftginx_SSL_get0_raw_cipherlist(ssl, &list))
        guard width > 0, total > 0, let list else { return "" }
        var names: [String] = []
        for i in stride(from: 0, to: total - width + 1, by: width) {
            if let cipher = SSL_CIPHER_find(ssl, list + i), let name = SSL_CIPHER_get_name(cipher) {
                names.append(String(cString: name))
            } else {
                names.append("0x" + hex(UnsafeBufferPointer(start: list + i, count: width)))
            }
        }
        return names.joined(separator: ":")
    }

    /// `$ssl_curve`: the key-exchange group ("prime256v1", "X25519"), "" when none.
    public var curve: String {
        let nid = swiftginx_SSL_get_negotiated_group(ssl)
        return nid == NID_undef ? "" : groupName(nid)
    }

    /// `$ssl_curves`: the groups the client supports, joined by ":".
    public var clientCurves: String {
        let count = swiftginx_SSL_get1_groups(ssl, nil)
        guard count > 0 else { return "" }
        var groups = [Int32](repeating: 0, count: Int(count))
        let n = swiftginx_SSL_get1_groups(ssl, &groups)
        return groups.prefix(Int(max(0, n))).map(groupName).joined(separator: ":")
    }

    private func groupName(_ nid: Int32) -> String {
        if nid & swiftginx_TLSEXT_nid_unknown == 0, let name = OBJ_nid2sn(nid) { return String(cString: name) }
        if let name = SSL_group_to_name(ssl, nid) { return String(cString: name) }
        let code = UInt16(truncatingIfNeeded: nid)
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = Array("0x".utf8)
        for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int((code >> UInt16(shift)) & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// `$ssl_client_s_dn_legacy`: the subject in OpenSSL's one-line form ("/CN=name").
    public var clientSubjectDNLegacy: String? {
        withPeerCertificate { oneLine(X509_get_subject_name($0)) } ?? nil
    }

    /// `$ssl_client_i_dn_legacy`.
    public var clientIssuerDNLegacy: String? {
        withPeerCertificate { oneLine(X509_get_issuer_name($0)) } ?? nil
    }

    /// `$ssl_client_v_start`: "Dec  7 09:00:00 2026 GMT".
    public var clientValidFrom: String? {
        withPeerCertificate { certificate in
            memoryBIOText { ASN1_TIME_print($0, X509_get0_notBefore(certificate)) == 1 }
        }
            ?? nil
    }

    /// `$ssl_client_v_end`.
    public var clientValidUntil: String? {
        withPeerCertificate { certificate in memoryBIOText { ASN1_TIME_print($0, X509_get0_notAfter(certificate)) == 1 }
        }
            ?? nil
    }

    /// `$ssl_client_v_remain`: whole days left (0 within the last day or after it ended).
    public var clientValidDays: Int? {
        withPeerCertificate { certificate -> Int? in
            var tm = Glibc.tm()
            guard ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &tm) == 1 else { return nil }
            let left = Int(timegm(&tm)) - time(nil)
            return left < 86400 ? 0 : left / 86400
        } ?? nil
    }

    private func oneLine(_ name: OpaquePointer?) -> String? {
        guard let name, let text = X509_NAME_oneline(name, nil, 0) else { return nil }
        defer { swiftginx_OPENSSL_free(text) }
        return String(cString: text)
    }
}
