// Which certificates of a server context get an OCSP staple, decided when the context
// is built, with nginx's rules: `ssl_stapling_file` gives every certificate the file's
// response; `ssl_stapling on` gives each certificate whose issuer is found (in its
// chain, then in `ssl_trusted_certificate`) and whose responder URL is known
// (`ssl_stapling_responder`, else the certificate's OCSP URL) a staple to fetch, and
// the others nginx's warning `"ssl_stapling" ignored, ...`.

import COpenSSL
import CSwiftginxTLSShims

/// A certificate file as loaded into a context: the leaf, then its chain (retained).
struct LoadedCertificate {
    let name: String
    var certificates: [OpaquePointer]

    func free() { for c in certificates { X509_free(c) } }
}

extension TLSContext {
    static func makeStaples(
        _ ctx: OpaquePointer, _ options: TLSServerOptions, _ loaded: [LoadedCertificate]
    ) throws(TLSError) -> (staples: [OCSPStaple], warnings: [String]) {
        // As nginx: nothing is stapled without `ssl_stapling on`, even with a file.
        guard options.stapling else { return ([], []) }
        if let file = options.staplingFile {
            let response = try readFile(file, what: "ssl_stapling_file")
            let staples = loaded.compactMap { l in
                l.certificates.first.map { OCSPStaple(certificate: $0, name: describe(l.name), response: response) }
            }
            return (staples, [])
        }
        var staples: [OCSPStaple] = []
        var warnings: [String] = []
        let store = SSL_CTX_get_cert_store(ctx)
        for l in loaded {
            guard let leaf = l.certificates.first else { continue }
            let shown = describe(l.name)
            let chain = Array(l.certificates.dropFirst())
            guard let issuer = OCSP.issuer(of: leaf, chain: chain, store: store) else {
                warnings.append("\"ssl_stapling\" ignored, issuer certificate not found for certificate \"\(shown)\"")
                continue
            }
            defer { X509_free(issuer) }
            guard let url = options.staplingResponder ?? OCSP.responderURL(of: leaf) else {
                warnings.append("\"ssl_stapling\" ignored, no OCSP responder URL in the certificate \"\(shown)\"")
                continue
            }
            switch OCSPResponder.parse(url) {
            case .failure(let reason):
                warnings.append("\"ssl_stapling\" ignored, \(reason.message) in the certificate \"\(shown)\"")
            case .success(let responder):
                staples.append(
                    OCSPStaple(
                        certificate: leaf, issuer: issuer, chain: chain, store: store, name: shown,
                        responder: responder, verify: options.staplingVerify))
            }
        }
        return (staples, warnings)
    }
}
