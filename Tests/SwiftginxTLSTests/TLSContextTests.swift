// Context construction: certificate and key loading errors in nginx's wording,
// encrypted keys, `data:` values, bad settings.

import Testing

@testable import SwiftginxTLS

@Suite struct TLSContextTests {
    let certs: TestCertificates

    init() throws { certs = try TestCertificates.shared() }

    private func error(_ options: TLSServerOptions) -> String? {
        do {
            _ = try TLSContext(server: options)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func missingCertificateFile() {
        var options = TLSServerOptions()
        options.certificates = [("/nonexistent/cert.pem", certs.path("rsa.key"))]
        let message = error(options) ?? ""
        #expect(
            message.hasPrefix("cannot load certificate \"/nonexistent/cert.pem\": BIO_new_file() failed (SSL: error:"))
        #expect(message.contains("No such file or directory"))
    }

    @Test func certificateThatIsNotPEM() {
        var options = TLSServerOptions()
        options.certificates = [(certs.path("garbage.pem"), certs.path("rsa.key"))]
        let message = error(options) ?? ""
        #expect(
            message.hasPrefix(
                "cannot load certificate \"\(certs.path("garbage.pem"))\": PEM_read_bio_X509_AUX() failed"))
        #expect(message.contains("no start line"))
    }

    @Test func missingKeyFile() {
        let message = error(certs.server([("rsa.pem", "missing.key")])) ?? ""
        #expect(
            message.hasPrefix("cannot load certificate key \"\(certs.path("missing.key"))\": BIO_new_file() failed"))
    }

    @Test func keyThatIsNotPEM() {
        let message = error(certs.server([("rsa.pem", "garbage.pem")])) ?? ""
        #expect(
            message.hasPrefix(
                "cannot load certificate key \"\(certs.path("garbage.pem"))\": PEM_read_bio_PrivateKey() failed"))
    }

    @Test func keyThatDoesNotMatch() {
        let message = error(certs.server([("rsa.pem", "client.key")])) ?? ""
        #expect(message.hasPrefix("SSL_CTX_use_PrivateKey(\"\(certs.path("client.key"))\") failed"))
        #expect(message.contains("key values mismatch"))
    }

    @Test func keyOfAnotherTypeThanItsCertificate() {
        #expect(error(certs.server([("rsa.pem", "ecdsa.key")])) != nil)
    }

    @Test func encryptedKeyWithPasswords() throws {
        var options = certs.server([("rsa.pem", "rsa-encrypted.key")])
        #expect(error(options)?.contains("PEM_read_bio_PrivateKey() failed") == true)
        options.passwords = ["wrong"]
        #expect(error(options)?.contains("PEM_read_bio_PrivateKey() failed") == true)
        options.passwords = ["wrong", "secret", "later"]
        #expect(error(options) == nil)
        let pair = try Pair(server: TLSContext(server: options), client: TLSContext(client: certs.client()))
        #expect(pair.succeeded)
    }

    @Test func dataValues() throws {
        let certificate = try String(contentsOfFile: certs.path("rsa-chain.pem"), encoding: .utf8)
        let key = try String(contentsOfFile: certs.path("rsa.key"), encoding: .utf8)
        var options = TLSServerOptions()
        options.certificates = [("data:" + certificate, "data:" + key)]
        let pair = try Pair(server: TLSContext(server: options), client: TLSContext(client: certs.client()))
        #expect(pair.succeeded)

        options.certificates = [("data:nothing", "data:" + key)]
        #expect(
            error(options)?.hasPrefix("cannot load certificate \"data:...\": PEM_read_bio_X509_AUX() failed") == true)
    }

    @Test func badSettings() {
        var options = certs.server()
        options.ciphers = "NOTHING-REAL"
        #expect(error(options)?.hasPrefix("SSL_CTX_set_cipher_list(\"NOTHING-REAL\") failed (SSL: error:") == true)

        options = certs.server()
        options.ecdhCurve = "nosuchcurve"
        #expect(error(options)?.hasPrefix("SSL_CTX_set1_curves_list(\"nosuchcurve\") failed") == true)

        options = certs.server()
        options.protocols = ["TLSv9"]
        #expect(error(options) == "invalid value \"TLSv9\" in ssl_protocols")

        options = certs.server()
        options.confCommands = [("NoSuchCommand", "x")]
        #expect(error(options)?.hasPrefix("SSL_CONF_cmd(\"NoSuchCommand\", \"x\") failed") == true)

        options = certs.server()
        options.clientCertificate = "/nonexistent/ca.pem"
        #expect(
            error(options)?.hasPrefix("cannot load certificate \"/nonexistent/ca.pem\": BIO_new_file() failed") == true)
    }

    @Test func oldProtocolsOnlyWhenAsked() throws {
        var options = certs.server()
        options.protocols = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
        #expect(error(options) == nil)
    }
}
