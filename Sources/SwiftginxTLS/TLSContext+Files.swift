// TLSContext's files: certificates with the chain that follows them, private keys (a
// password file's lines tried in turn), DH parameters, `data:` values, read into a
// context at startup and reload, or into one connection during its handshake
// (`ssl_certificate` with variables). Failures read like nginx's messages.

import COpenSSL
import CSwiftginxTLSShims
import Glibc

extension TLSContext {
    /// Certificate plus the chain that follows it in the same file, as the current
    /// certificate of its key type (so RSA and ECDSA pairs live side by side). The
    /// certificates loaded are appended to `loaded` (retained; the caller frees them).
    static func loadCertificate(
        _ ctx: OpaquePointer, _ path: String, into loaded: inout [OpaquePointer], cache: (any TLSFileSource)? = nil
    ) throws(TLSError) {
        try loadCertificate(into: .context(ctx), path, keeping: &loaded, cache: cache)
    }

    static func loadKey(
        _ ctx: OpaquePointer, _ path: String, passwords: [String], cache: (any TLSFileSource)? = nil
    ) throws(TLSError) {
        try loadKey(into: .context(ctx), path, passwords: passwords, cache: cache)
    }

    /// Where a certificate or key goes: the context (at startup), or one connection (a
    /// certificate named by variables, loaded during its handshake).
    enum CertificateTarget {
        case context(OpaquePointer)
        case connection(OpaquePointer)

        func use(_ x509: OpaquePointer) -> Bool {
            switch self {
            case .context(let ctx): SSL_CTX_use_certificate(ctx, x509) == 1
            case .connection(let ssl): SSL_use_certificate(ssl, x509) == 1
            }
        }

        /// Takes one reference of `x509` on success.
        func addChain(_ x509: OpaquePointer) -> Bool {
            switch self {
            case .context(let ctx): swiftginx_SSL_CTX_add0_chain_cert(ctx, x509) == 1
            case .connection(let ssl): swiftginx_SSL_add0_chain_cert(ssl, x509) == 1
            }
        }

        func use(key: OpaquePointer) -> Bool {
            switch self {
            case .context(let ctx): SSL_CTX_use_PrivateKey(ctx, key) == 1
            case .connection(let ssl): SSL_use_PrivateKey(ssl, key) == 1
            }
        }
    }

    /// A certificate (and its chain) for one handshake; nothing is kept.
    static func loadCertificate(
        into target: CertificateTarget, _ path: String, cache: (any TLSFileSource)? = nil
    ) throws(TLSError) {
        var loaded: [OpaquePointer] = []
        defer { for x509 in loaded { X509_free(x509) } }
        try loadCertificate(into: target, path, keeping: &loaded, cache: cache)
    }

    /// A certificate and its key for one handshake. Through a cache the two files may be
    /// of different generations (one was replaced since the other was kept): then both
    /// are read again, once (nginx's retry after "key values mismatch").
    static func loadPair(
        into target: CertificateTarget, _ certificate: String, _ key: String, passwords: [String],
        cache: (any TLSFileSource)?
    ) throws(TLSError) {
        try loadCertificate(into: target, certificate, cache: cache)
        do {
            try loadKey(into: target, key, passwords: passwords, cache: cache)
        } catch {
            guard let cache, error.message.contains("key values mismatch") else { throw error }
            cache.invalidate(certificate)
            cache.invalidate(key)
            try loadCertificate(into: target, certificate, cache: cache)
            try loadKey(into: target, key, passwords: passwords, cache: cache)
        }
    }

    static func loadCertificate(
        into target: CertificateTarget, _ path: String, keeping loaded: inout [OpaquePointer],
        cache: (any TLSFileSource)? = nil
    ) throws(TLSError) {
        let shown = describe(path)
        guard let bio = openBIO(path, cache: cache) else {
            throw TLSError.openSSL("cannot load certificate \"\(shown)\": BIO_new_file() failed")
        }
        defer { BIO_free(bio) }
        guard let x509 = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
            throw TLSError.openSSL("cannot load certificate \"\(shown)\": PEM_read_bio_X509_AUX() failed")
        }
        loaded.append(x509)
        if !target.use(x509) {
            throw TLSError.openSSL("SSL_CTX_use_certificate(\"\(shown)\") failed")
        }
        while true {
            ERR_clear_error()
            guard let chain = PEM_read_bio_X509(bio, nil, nil, nil) else {
                let last = ERR_peek_last_error()
                if ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE {
                    ERR_clear_error()
                    return
                }
                throw TLSError.openSSL("cannot load certificate \"\(shown)\": PEM_read_bio_X509() failed")
            }
            loaded.append(chain)
            X509_up_ref(chain)
            if !target.addChain(chain) {
                X509_free(chain)
                throw TLSError.openSSL("SSL_CTX_add0_chain_cert(\"\(shown)\") failed")
            }
        }
    }

    /// The private key, trying each password in order for an encrypted one; with no
    /// password the callback answers "none" so OpenSSL never prompts on a terminal.
    static func loadKey(
        into target: CertificateTarget, _ path: String, passwords: [String], cache: (any TLSFileSource)? = nil
    ) throws(TLSError) {
        let shown = describe(path)
        let attempts: [String?] = passwords.isEmpty ? [nil] : passwords
        var key: OpaquePointer? = nil
        if path.hasPrefix("store:") {
            key = try loadStoreKey(String(path.dropFirst(6)), shown: shown, attempts: attempts)
        }
        for (index, password) in attempts.enumerated() where key == nil {
            ERR_clear_error()
            guard let bio = openBIO(path, cache: cache, key: true) else {
                throw TLSError.openSSL("cannot load certificate key \"\(shown)\": BIO_new_file() failed")
            }
            defer { BIO_free(bio) }
            if let password {
                key = password.withCString {
                    PEM_read_bio_PrivateKey(bio, nil, passwordCallback, UnsafeMutableRawPointer(mutating: $0))
                }
            } else {
                key = PEM_read_bio_PrivateKey(bio, nil, passwordCallback, nil)
            }
            if key != nil { break }
            if index == attempts.count - 1 {
                throw TLSError.openSSL("cannot load certificate key \"\(shown)\": PEM_read_bio_PrivateKey() failed")
            }
        }
        guard let key else { return }
        defer { EVP_PKEY_free(key) }
        ERR_clear_error()
        if !target.use(key: key) {
            throw TLSError.openSSL("SSL_CTX_use_PrivateKey(\"\(shown)\") failed")
        }
    }

    /// `store:URI` (nginx 1.29.0): the first private key an OSSL_STORE loader finds at
    /// the URI (`store:file:/path`), each password tried in turn as for a file.
    static func loadStoreKey(_ uri: String, shown: String, attempts: [String?]) throws(TLSError) -> OpaquePointer {
        guard let ui = UI_UTIL_wrap_read_pem_callback(passwordCallback, 0) else {
            throw TLSError.openSSL("UI_UTIL_wrap_read_pem_callback() failed")
        }
        defer { UI_destroy_method(ui) }
        for (index, password) in attempts.enumerated() {
            ERR_clear_error()
            let key: OpaquePointer? = withOptionalCString(password) { userdata in
                guard let store = OSSL_STORE_open(uri, ui, userdata, nil, nil) else { return nil }
                defer { OSSL_STORE_close(store) }
                var key: OpaquePointer? = nil
                while key == nil && OSSL_STORE_eof(store) == 0 {
                    guard let info = OSSL_STORE_load(store) else { continue }
                    if OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY { key = OSSL_STORE_INFO_get1_PKEY(info) }
                    OSSL_STORE_INFO_free(info)
                }
                return key
            }
            if let key { return key }
            if index == attempts.count - 1 { break }
        }
        throw TLSError.openSSL("cannot load certificate key \"\(shown)\": OSSL_STORE_load() failed")
    }

    static func loadDHParameters(_ ctx: OpaquePointer, _ path: String) throws(TLSError) {
        ERR_clear_error()
        guard let bio = TLSFiles.bio(path) else {
            throw TLSError.openSSL("BIO_new_file(\"\(path)\") failed")
        }
        defer { BIO_free(bio) }
        guard let parameters = PEM_read_bio_Parameters(bio, nil) else {
            throw TLSError.openSSL("PEM_read_bio_Parameters(\"\(path)\") failed")
        }
        if SSL_CTX_set0_tmp_dh_pkey(ctx, parameters) != 1 {
            EVP_PKEY_free(parameters)
            throw TLSError.openSSL("SSL_CTX_set0_tmp_dh_pkey(\"\(path)\") failed")
        }
    }

    /// A BIO over a file, or over the PEM text of a `data:` value.
    static func openBIO(_ path: String) -> OpaquePointer? {
        ERR_clear_error()
        guard path.hasPrefix("data:") else { return TLSFiles.bio(path) }
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        let text = Array(path.utf8.dropFirst(5))
        if !text.isEmpty && BIO_write(bio, text, Int32(text.count)) != Int32(text.count) {
            BIO_free(bio)
            return nil
        }
        return bio
    }

    /// How a path appears in messages: `data:` values are not printed whole.
    static func describe(_ path: String) -> String {
        path.hasPrefix("data:") ? "data:..." : path
    }
}

/// Reads a whole (small) file through OpenSSL's BIO so errors read like the others.
func readFile(_ path: String, what: String) throws(TLSError) -> [UInt8] {
    ERR_clear_error()
    errno = 0
    guard let bio = TLSFiles.bio(path) else {
        if what == "password file" {
            // nginx reads password files itself: `open() "…" failed (2: No such file or directory)`.
            let code = errno == 0 ? ENOENT : errno
            throw TLSError.system("open() \"\(path)\" failed", errno: code)
        }
        throw TLSError.openSSL("cannot open \(what) \"\(path)\": BIO_new_file() failed")
    }
    defer { BIO_free(bio) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = BIO_read(bio, &chunk, Int32(chunk.count))
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<Int(n)])
    }
    return bytes
}

/// `body` with a C string of `text` (nil stays nil).
private func withOptionalCString<R>(_ text: String?, _ body: (UnsafeMutableRawPointer?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body(UnsafeMutableRawPointer(mutating: $0)) }
}

private func passwordCallback(
    _ buffer: UnsafeMutablePointer<CChar>?, _ size: Int32, _ rwflag: Int32, _ userdata: UnsafeMutableRawPointer?
) -> Int32 {
    guard let buffer, let userdata else { return 0 }
    let password = userdata.assumingMemoryBound(to: CChar.self)
    let length = min(Int(strlen(password)), Int(size))
    memcpy(buffer, password, length)
    return Int32(length)
}
