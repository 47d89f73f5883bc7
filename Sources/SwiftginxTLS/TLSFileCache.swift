// The files of one generation's TLS contexts, each read once (nginx's ssl object
// cache): a certificate, key, CA list or CRL named by several servers and upstream
// locations is read from disk (or from a fifo, which gives its content once) a single
// time, and every context loads it from memory. Also the loaders of CA lists and CRLs
// into a context's trust store (`ssl_client_certificate`, `ssl_trusted_certificate`,
// `ssl_crl` and their proxy_ssl_ counterparts), which read "TRUSTED CERTIFICATE"
// PEM blocks as well as plain ones.

import COpenSSL
import CSwiftginxTLSShims
import Synchronization

/// Bytes of files by path, filled while contexts are built (startup and reload). With
/// `ssl_object_cache_inheritable` (nginx's default) a reload's cache starts from the
/// previous one's entries and keeps those whose file identity (inode, device, mtime) is
/// unchanged, without reading them again.
public final class TLSFileCache: TLSFileSource {
    struct Entry: Sendable {
        let bytes: [UInt8]
        let identity: [Int]?
        /// Taken over from the previous configuration's cache.
        var inherited = false
    }

    private let files = Mutex<[String: Entry]>([:])
    /// Paths whose inherited bytes must not be used (read from disk instead).
    private let stale = Mutex<Set<String>>([])
    private let inherited: [String: Entry]
    private let identity: (@Sendable (String) -> [Int]?)?

    /// `identity` names a file's version (nil when it cannot be found); `previous` is
    /// the running generation's cache, on a reload that inherits it.
    public init(inheriting previous: TLSFileCache? = nil, identity: (@Sendable (String) -> [Int]?)? = nil) {
        self.inherited = previous?.files.withLock { $0 } ?? [:]
        self.identity = identity
    }

    /// `ssl_password_file`: its lines, the file read once.
    public func passwords(_ path: String) throws(TLSError) -> [String] {
        let text = try bytes(path, what: "password file")
        let lines = String(decoding: text, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        let passwords = lines.map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) }
        if passwords.isEmpty { throw TLSError("empty password file \"\(path)\"") }
        return passwords
    }

    /// Whether the file's bytes were taken over from the previous configuration.
    public func wasInherited(_ path: String) -> Bool { files.withLock { $0[path]?.inherited ?? false } }

    /// Forgets a file: the next use reads it from disk.
    public func invalidate(_ path: String) {
        stale.withLock { _ = $0.insert(path) }
        files.withLock { $0[path] = nil }
    }

    /// The file's bytes, read on first use.
    public func bytes(_ path: String, what: String) throws(TLSError) -> [UInt8] {
        if let known = files.withLock({ $0[path] }) { return known.bytes }
        let id = identity?(path)
        if let id, var old = inherited[path], old.identity == id, !stale.withLock({ $0.contains(path) }) {
            old.inherited = true
            files.withLock { $0[path] = old }
            return old.bytes
        }
        let read = try readFile(path, what: what)
        files.withLock { $0[path] = Entry(bytes: read, identity: id) }
        return read
    }

}

/// Where certificate and key files come from when contexts or connections load them:
/// a generation's files read once, or a `ssl_certificate_cache`.
public protocol TLSFileSource: AnyObject, Sendable {
    func bytes(_ path: String, what: String) throws(TLSError) -> [UInt8]
    /// A private key's bytes (a cache may keep encrypted keys out).
    func keyBytes(_ path: String) throws(TLSError) -> [UInt8]
    /// Forgets a file (a cached certificate and key that no longer match).
    func invalidate(_ path: String)
}

extension TLSFileSource {
    public func keyBytes(_ path: String) throws(TLSError) -> [UInt8] { try bytes(path, what: "certificate key") }
    public func invalidate(_ path: String) {}

    /// A memory BIO over the file (or over a `data:` value's text); the caller frees it.
    func bio(_ path: String, what: String, key: Bool = false) throws(TLSError) -> OpaquePointer {
        let text: [UInt8] =
            path.hasPrefix("data:")
            ? Array(path.utf8.dropFirst(5)) : key ? try keyBytes(path) : try bytes(path, what: what)
        ERR_clear_error()
        guard let bio = BIO_new(BIO_s_mem()) else { throw TLSError.openSSL("BIO_new() failed") }
        if !text.isEmpty && BIO_write(bio, text, Int32(text.count)) != Int32(text.count) {
            BIO_free(bio)
            throw TLSError.openSSL("BIO_write() failed")
        }
        return bio
    }
}

extension TLSContext {
    /// Opens `path` through the cache when there is one, else directly (nil on failure,
    /// with OpenSSL's error queue telling why).
    static func openBIO(_ path: String, cache: (any TLSFileSource)?, key: Bool = false) -> OpaquePointer? {
        guard let cache else { return openBIO(path) }
        return try? cache.bio(path, what: "certificate", key: key)
    }

    /// The certificates of a PEM CA file, trusted for verification; with `names`, their
    /// subjects (without duplicates) also become the list of acceptable CAs sent to
    /// clients (`ssl_client_certificate`).
    static func loadCertificateAuthorities(
        _ ctx: OpaquePointer, _ path: String, cache: TLSFileCache?, names: Bool
    ) throws(TLSError) {
        let certificates = try readCertificates(path, cache: cache)
        defer { for x509 in certificates { X509_free(x509) } }
        guard let store = SSL_CTX_get_cert_store(ctx) else {
            throw TLSError.openSSL("SSL_CTX_get_cert_store() failed")
        }
        for x509 in certificates {
            ERR_clear_error()
            if X509_STORE_add_cert(store, x509) != 1 {
                // The same certificate named twice (or by two directives) is no error.
                let last = ERR_peek_last_error()
                if ERR_GET_LIB(last) != ERR_LIB_X509 || ERR_GET_REASON(last) != X509_R_CERT_ALREADY_IN_HASH_TABLE {
                    throw TLSError.openSSL("X509_STORE_add_cert(\"\(describe(path))\") failed")
                }
                ERR_clear_error()
            }
        }
        guard names else { return }
        var list = SSL_CTX_get_client_CA_list(ctx)
        if list == nil {
            list = swiftginx_sk_X509_NAME_new_null()
            SSL_CTX_set_client_CA_list(ctx, list)
        }
        guard let list else { throw TLSError.openSSL("sk_X509_NAME_new_null() failed") }
        for x509 in certificates {
            guard let subject = X509_get_subject_name(x509) else { continue }
            let count = swiftginx_sk_X509_NAME_num(list)
            if (0..<count).contains(where: { X509_NAME_cmp(swiftginx_sk_X509_NAME_value(list, $0), subject) == 0 }) {
                continue
            }
            guard let copy = X509_NAME_dup(subject) else { throw TLSError.openSSL("X509_NAME_dup() failed") }
            _ = swiftginx_sk_X509_NAME_push(list, copy)
        }
    }

    /// Every certificate of a PEM file (plain or "TRUSTED CERTIFICATE"); at least one.
    static func readCertificates(_ path: String, cache: TLSFileCache?) throws(TLSError) -> [OpaquePointer] {
        let shown = describe(path)
        let bio: OpaquePointer
        if let cache {
            bio = try cache.bio(path, what: "certificate")
        } else {
            guard let opened = openBIO(path) else {
                throw TLSError.openSSL("cannot load certificate \"\(shown)\": BIO_new_file() failed")
            }
            bio = opened
        }
        defer { BIO_free(bio) }
        var certificates: [OpaquePointer] = []
        while true {
            ERR_clear_error()
            guard let x509 = PEM_read_bio_X509_AUX(bio, nil, nil, nil) else {
                let last = ERR_peek_last_error()
                if !certificates.isEmpty && ERR_GET_LIB(last) == ERR_LIB_PEM
                    && ERR_GET_REASON(last) == PEM_R_NO_START_LINE
                {
                    ERR_clear_error()
                    return certificates
                }
                for x509 in certificates { X509_free(x509) }
                throw TLSError.openSSL("cannot load certificate \"\(shown)\": PEM_read_bio_X509_AUX() failed")
            }
            certificates.append(x509)
        }
    }

    /// The CRLs of a PEM file, checked for the whole chain (nginx's `ssl_crl`).
    static func loadCRL(_ ctx: OpaquePointer, _ path: String, cache: TLSFileCache?) throws(TLSError) {
        let shown = describe(path)
        let bio: OpaquePointer
        if let cache {
            bio = try cache.bio(path, what: "CRL")
        } else {
            guard let opened = openBIO(path) else {
                throw TLSError.openSSL("cannot load CRL \"\(shown)\": BIO_new_file() failed")
            }
            bio = opened
        }
        defer { BIO_free(bio) }
        guard let store = SSL_CTX_get_cert_store(ctx) else {
            throw TLSError.openSSL("SSL_CTX_get_cert_store() failed")
        }
        var count = 0
        while true {
            ERR_clear_error()
            guard let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) else {
                let last = ERR_peek_last_error()
                if count > 0 && ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE {
                    ERR_clear_error()
                    break
                }
                throw TLSError.openSSL("cannot load CRL \"\(shown)\": PEM_read_bio_X509_CRL() failed")
            }
            defer { X509_CRL_free(crl) }
            if X509_STORE_add_crl(store, crl) != 1 {
                throw TLSError.openSSL("X509_STORE_add_crl(\"\(shown)\") failed")
            }
            count += 1
        }
        _ = X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
    }
}
