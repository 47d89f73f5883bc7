// OCSP stapling, the OpenSSL side: responder URLs parsed as nginx parses them, which
// certificates get a staple (issuer in the chain or the trusted store, a responder
// URL), the DER request (read back by `openssl ocsp`), and nginx's checks of answers
// made by `openssl ocsp` (good, revoked, unknown, not for this certificate, unauthorized,
// signed by a stranger with and without verification, garbage).

import Foundation
import Glibc
import Testing

@testable import SwiftginxTLS

@Suite struct OCSPTests {
    let certs: TestCertificates

    init() throws { certs = try TestCertificates.shared() }

    @Test func responderURLsAreParsedAsNginxDoes() {
        func parse(_ url: String) -> String {
            switch OCSPResponder.parse(url) {
            case .success(let r): return "\(r.host) \(r.port) \(r.uri)"
            case .failure(let e): return e.message
            }
        }
        #expect(parse("http://ocsp.example.com") == "ocsp.example.com 80 /")
        #expect(parse("HTTP://127.0.0.1:8888/ocsp/x") == "127.0.0.1 8888 /ocsp/x")
        #expect(parse("http://[::1]:81") == "[::1] 81 /")
        #expect(parse("http://h?x") == "h 80 ?x")
        #expect(
            parse("https://ocsp.example.com/") == "invalid URL prefix in OCSP responder \"https://ocsp.example.com/\"")
        #expect(parse("http://") == "invalid URL prefix in OCSP responder \"http://\"")
        #expect(parse("http://h:99999/") == "invalid port in OCSP responder \"h:99999/\"")
        #expect(parse("http://h:x/") == "invalid port in OCSP responder \"h:x/\"")
        #expect(parse("http:///x") == "no host in OCSP responder \"/x\"")
    }

    private func context(
        _ certificate: String = "rsa.pem", trusted: String? = nil, responder: String? = nil, verify: Bool = false
    ) throws -> TLSContext {
        var options = certs.server([(certificate, "rsa.key")])
        options.stapling = true
        options.trustedCertificate = trusted.map { certs.path($0) }
        options.staplingResponder = responder
        options.staplingVerify = verify
        return try TLSContext(server: options)
    }

    @Test func aStapleNeedsAnIssuerAndAResponder() throws {
        let alone = try context()
        #expect(alone.staples.isEmpty)
        #expect(
            alone.warnings == [
                "\"ssl_stapling\" ignored, issuer certificate not found for certificate \"\(certs.path("rsa.pem"))\""
            ])
        // Issuer from ssl_trusted_certificate, but the certificate names no responder.
        let noURL = try context(trusted: "ca.pem")
        #expect(noURL.staples.isEmpty)
        #expect(
            noURL.warnings == [
                "\"ssl_stapling\" ignored, no OCSP responder URL in the certificate \"\(certs.path("rsa.pem"))\""
            ])
        let bad = try context(trusted: "ca.pem", responder: "https://x/")
        #expect(
            bad.warnings == [
                "\"ssl_stapling\" ignored, invalid URL prefix in OCSP responder \"https://x/\" in the certificate \"\(certs.path("rsa.pem"))\""
            ])
        // Issuer from the chain of the certificate file.
        let chained = try context("rsa-chain.pem", responder: "http://127.0.0.1:9/ocsp")
        #expect(chained.warnings.isEmpty)
        #expect(chained.staples.count == 1)
        #expect(chained.staples.first?.responder == OCSPResponder(host: "127.0.0.1", port: 9, uri: "/ocsp"))
        #expect(chained.staples.first?.response(now: Int(time(nil))) == nil)
        // Without ssl_stapling: nothing, and no warning.
        var off = certs.server([("rsa.pem", "rsa.key")])
        off.staplingResponder = "http://127.0.0.1:9/"
        #expect(try TLSContext(server: off).staples.isEmpty)
    }

    @Test func theRequestIsForTheCertificateAndItsIssuer() throws {
        let staple = try #require(try context("rsa-chain.pem", responder: "http://127.0.0.1:9/ocsp").staples.first)
        let der = try staple.requestDER().get()
        let file = certs.path("request-\(UUID().uuidString).der")
        try Data(der).write(to: URL(fileURLWithPath: file))
        let text = try openssl(["ocsp", "-reqin", file, "-req_text"])
        #expect(text.contains("Serial Number: 1001"), "\(text)")
        // nginx's GET target: the path, "/", the base64 request escaped as a component.
        let target = staple.requestTarget(der)
        #expect(target.hasPrefix("/ocsp/"))
        let encoded = String(target.dropFirst("/ocsp/".count))
        #expect(!encoded.contains("/") && !encoded.contains("+") && !encoded.contains("="))
        let decoded = encoded.replacingOccurrences(of: "%2B", with: "+").replacingOccurrences(of: "%2F", with: "/")
            .replacingOccurrences(of: "%3D", with: "=")
        #expect(Data(base64Encoded: decoded) == Data(der))
        #expect(OCSP.escapeComponent("a+b/c=d-e.f_g~") == "a%2Bb%2Fc%3Dd-e.f_g~")
    }

    /// A response made by `openssl ocsp` acting as responder for `certificate`.
    private func response(
        status: String = "V", certificate: String = "rsa.pem", signer: String = "ca", authority: String = "ca.pem"
    ) throws -> [UInt8] {
        let id = UUID().uuidString
        let revoked = status == "R" ? "240101000000Z" : ""
        try "\(status)\t301231235959Z\t\(revoked)\t1001\tunknown\t/CN=localhost\n".write(
            toFile: certs.path("index-\(id).txt"), atomically: true, encoding: .utf8)
        _ = try openssl([
            "ocsp", "-index", "index-\(id).txt", "-rsigner", "\(signer).pem", "-rkey", "\(signer).key", "-CA",
            authority, "-issuer", "ca.pem", "-cert", certificate, "-respout", "response-\(id).der", "-ndays", "1",
        ])
        return Array(try Data(contentsOf: URL(fileURLWithPath: certs.path("response-\(id).der"))))
    }

    private func check(_ der: [UInt8], trusted: String? = nil, verify: Bool = false) throws -> Result<Int, TLSError> {
        let c = try context("rsa-chain.pem", trusted: trusted, responder: "http://127.0.0.1:9/", verify: verify)
        return try #require(c.staples.first).check(der)
    }

    private func failure(_ result: Result<Int, TLSError>) -> String {
        if case .failure(let e) = result { return e.message }
        return "success"
    }

    @Test func aGoodResponseIsValidUntilItsNextUpdate() throws {
        let der = try response()
        let validUntil = try check(der, verify: true).get()
        let now = Int(time(nil))
        #expect(abs(validUntil - (now + 86400)) < 120)
        let staple = try #require(try context("rsa-chain.pem", responder: "http://127.0.0.1:9/").staples.first)
        staple.store(der, validUntil: validUntil)
        #expect(staple.response(now: now) == der)
        #expect(staple.response(now: validUntil + 1) == nil)
    }

    @Test func badResponsesAreRefusedWithNginxsMessages() throws {
        #expect(failure(try check(try response(status: "R"))) == "certificate status \"revoked\" in the OCSP response")
        #expect(
            failure(try check(try response(certificate: "ecdsa.pem")))
                == "certificate status not found in the OCSP response")
        // A responder that is not the certificate's CA knows nothing of it.
        #expect(
            failure(try check(try response(authority: "other.pem")))
                == "certificate status \"unknown\" in the OCSP response")
        // OCSPResponse { responseStatus unauthorized }.
        #expect(failure(try check([0x30, 0x03, 0x0A, 0x01, 0x06])) == "OCSP response not successful (6: unauthorized)")
        #expect(failure(try check(Array("not DER".utf8))).hasPrefix("d2i_OCSP_RESPONSE() failed"))
        // Signed by a stranger: accepted without verification (as nginx), refused with it.
        let stranger = try response(signer: "stranger")
        #expect(failure(try check(stranger)) == "success")
        #expect(
            failure(try check(stranger, trusted: "ca.pem", verify: true)).hasPrefix(
                "OCSP_basic_verify() failed (SSL: error:"))
    }

    private func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: certs.directory)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
