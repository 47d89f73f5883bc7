// Where TLS files come from. Normally OpenSSL opens certificates, keys, CA lists and
// CRLs by path. A serving process that has dropped root (see the Privileged rooms of
// the server) cannot open root-only keys on reload, so it installs an opener that asks
// its privileged supervisor for a descriptor and reads it; every TLS file read then goes
// through a memory BIO filled with those bytes, with the same messages either way.

import COpenSSL
import Synchronization

public enum TLSFiles {
    /// The whole contents of `path`, or nil when it cannot be opened or read.
    public typealias Reader = @Sendable (String) -> [UInt8]?

    private static let reader = Mutex<Reader?>(nil)

    /// Routes every later TLS file read through `read` (nil: back to plain paths).
    public static func install(_ read: Reader?) {
        reader.withLock { $0 = read }
    }

    /// A whole file (`ssl_password_file`), through the installed reader if any.
    public static func read(_ path: String) -> [UInt8]? {
        if let read = reader.withLock({ $0 }) { return read(path) }
        guard let bio = BIO_new_file(path, "rb") else { return nil }
        defer { BIO_free(bio) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = BIO_read(bio, &chunk, Int32(chunk.count))
            if n <= 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<Int(n)])
        }
    }

    /// A BIO positioned at the start of `path`'s contents, or nil.
    static func bio(_ path: String) -> OpaquePointer? {
        guard let read = reader.withLock({ $0 }) else { return BIO_new_file(path, "r") }
        guard let bytes = read(path), let bio = BIO_new(BIO_s_mem()) else { return nil }
        if !bytes.isEmpty && BIO_write(bio, bytes, Int32(bytes.count)) != Int32(bytes.count) {
            BIO_free(bio)
            return nil
        }
        return bio
    }

    private static var direct: Bool { reader.withLock { $0 } == nil }

    /// `SSL_CTX_load_verify_locations(ctx, path, NULL)`: trusted certificates (and CRLs).
    static func loadVerifyLocations(_ ctx: OpaquePointer, _ path: String) -> Bool {
        if direct { return SSL_CTX_load_verify_locations(ctx, path, nil) == 1 }
        guard let store = SSL_CTX_get_cert_store(ctx) else { return false }
        return addPEM(path, to: store, names: nil, crlsOnly: false)
    }

    /// The trusted certificates of `ssl_client_certificate` added to the context, and the
    /// list of their subjects to send in the CertificateRequest (nil on failure; which
    /// call failed is in the second value).
    static func loadClientCAList(_ ctx: OpaquePointer, _ path: String) -> (OpaquePointer?, String) {
        if direct {
            if SSL_CTX_load_verify_locations(ctx, path, nil) != 1 { return (nil, "SSL_CTX_load_verify_locations") }
            return (SSL_load_client_CA_file(path), "SSL_load_client_CA_file")
        }
        guard let store = SSL_CTX_get_cert_store(ctx), let names = OPENSSL_sk_new_null() else {
            return (nil, "SSL_CTX_load_verify_locations")
        }
        if !addPEM(path, to: store, names: names, crlsOnly: false) {
            OPENSSL_sk_free(names)
            return (nil, "SSL_CTX_load_verify_locations")
        }
        return (names, "SSL_load_client_CA_file")
    }

    /// The CRLs of a PEM file added to `store` (`X509_load_crl_file`).
    static func loadCRL(_ store: OpaquePointer, _ path: String) -> Bool {
        if direct {
            guard let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()) else { return false }
            return X509_load_crl_file(lookup, path, X509_FILETYPE_PEM) != 0
        }
        return addPEM(path, to: store, names: nil, crlsOnly: true)
    }

    /// Adds a PEM file's certificates (unless `crlsOnly`) and CRLs to `store`, collecting
    /// certificate subjects into `names`; false when unreadable or empty.
    private static func addPEM(_ path: String, to store: OpaquePointer, names: OpaquePointer?, crlsOnly: Bool) -> Bool {
        guard let bio = bio(path) else { return false }
        defer { BIO_free(bio) }
        guard let infos = PEM_X509_INFO_read_bio(bio, nil, nil, nil) else { return false }
        defer {
            for i in 0..<OPENSSL_sk_num(infos) {
                X509_INFO_free(OPENSSL_sk_value(infos, i)?.assumingMemoryBound(to: X509_INFO.self))
            }
            OPENSSL_sk_free(infos)
        }
        var added = 0
        for i in 0..<OPENSSL_sk_num(infos) {
            guard let info = OPENSSL_sk_value(infos, i)?.assumingMemoryBound(to: X509_INFO.self) else { continue }
            if let x509 = info.pointee.x509, !crlsOnly {
                if X509_STORE_add_cert(store, x509) != 1 { return false }
                if let names, let dup = X509_NAME_dup(X509_get_subject_name(x509)) {
                    OPENSSL_sk_push(names, UnsafeRawPointer(dup))
                }
                added += 1
            }
            if let crl = info.pointee.crl {
                if X509_STORE_add_crl(store, crl) != 1 { return false }
                added += 1
            }
        }
        return added > 0
    }
}
