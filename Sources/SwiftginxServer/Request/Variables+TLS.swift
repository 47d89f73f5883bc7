// The ssl module's variables (`$ssl_protocol`, `$ssl_cipher`, `$ssl_client_s_dn`, …):
// what the client connection's finished handshake tells, empty on a plain connection.
// Values are read from OpenSSL when a variable is evaluated (per request at most).

import SwiftginxRouting
import SwiftginxTLS

extension Variables {
    /// `$ssl_*` values (empty without TLS).
    static func appendTLS(_ r: Request, _ field: SSLField, to out: ByteBuffer) {
        guard let tls = r.tls else { return }
        func add(_ value: String?) { if let value { out.append(string: value) } }
        switch field {
        case .protocol: out.append(string: tls.protocolVersion)
        case .cipher: out.append(string: tls.cipher)
        case .ciphers: out.append(string: tls.clientCiphers)
        case .curve: out.append(string: tls.curve)
        case .curves: out.append(string: tls.clientCurves)
        case .serverName: add(tls.serverName)
        case .sessionReused: out.append(tls.sessionReused ? "r" : ".")
        case .sessionID: out.append(string: tls.sessionID)
        case .earlyData: if tls.inEarlyData { out.append("1") }
        case .alpnProtocol: add(tls.alpnProtocol)
        case .clientVerify: out.append(string: tls.clientVerify)
        case .clientSubjectDN: add(tls.clientSubjectDN)
        case .clientIssuerDN: add(tls.clientIssuerDN)
        case .clientSubjectDNLegacy: add(tls.clientSubjectDNLegacy)
        case .clientIssuerDNLegacy: add(tls.clientIssuerDNLegacy)
        case .clientSerial: add(tls.clientSerial)
        case .clientFingerprint: add(tls.clientFingerprint)
        case .clientValidFrom: add(tls.clientValidFrom)
        case .clientValidUntil: add(tls.clientValidUntil)
        case .clientValidDays: add(tls.clientValidDays.map(String.init))
        case .clientRawCert: add(tls.clientCertificatePEM)
        case .clientCert:
            // nginx's $ssl_client_cert: the PEM with every line after the first indented by a tab.
            if let v = tls.clientCertificatePEM {
                let lines = v.split(separator: "\n", omittingEmptySubsequences: true)
                out.append(string: lines.joined(separator: "\n\t"))
            }
        case .clientEscapedCert:
            if let v = tls.clientCertificatePEM { appendEscapedComponent(Array(v.utf8), to: out) }
        }
    }

    /// Percent-encodes all but letters, digits and `-._~` (nginx's URI component escape).
    static func appendEscapedComponent(_ bytes: [UInt8], to out: ByteBuffer) {
        let digits: StaticString = "0123456789ABCDEF"
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(digits.utf8Start[Int(byte >> 4)])
                out.append(digits.utf8Start[Int(byte & 15)])
            }
        }
    }
}
