// Handshakes and data over a socketpair: versions, SNI, ALPN, resumption, client
// certificates, and the choice between RSA and ECDSA certificates.

import Testing

@testable import SwiftginxTLS

@Suite struct TLSConnectionTests {
    let certs: TestCertificates

    init() throws { certs = try TestCertificates.shared() }

    @Test func handshakeAndDataBothWays() throws {
        var clientOptions = certs.client()
        clientOptions.alpn = ["h2", "http/1.1"]
        let pair = try Pair(server: TLSContext(server: certs.server()), client: TLSContext(client: clientOptions))
        #expect(pair.succeeded)
        #expect(pair.server.protocolVersion == "TLSv1.3")
        #expect(pair.client.protocolVersion == "TLSv1.3")
        #expect(!pair.server.cipher.isEmpty)
        #expect(pair.server.cipher == pair.client.cipher)
        #expect(pair.server.alpnProtocol == "http/1.1")
        #expect(pair.client.alpnProtocol == "http/1.1")
        #expect(pair.server.serverName == "localhost")
        #expect(pair.client.clientVerify == "SUCCESS")
        #expect(pair.client.clientSubjectDN == "CN=localhost")
        #expect(!pair.server.sessionReused)
        #expect(!pair.server.kernelTLSSend)

        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(pair.transfer(big, from: pair.client, to: pair.server) == big)
        let reply = Array("HTTP/1.1 200 OK\r\n\r\nhello".utf8)
        #expect(pair.transfer(reply, from: pair.server, to: pair.client) == reply)
        #expect(pair.transfer(big, from: pair.server, to: pair.client) == big)

        pair.client.shutdown()
        var byte: UInt8 = 0
        #expect(pair.server.read(&byte, 1) == .closed)
    }

    @Test func peerEOFIsClosed() throws {
        let pair = try Pair(server: TLSContext(server: certs.server()), client: TLSContext(client: certs.client()))
        #expect(pair.succeeded)
        var byte: UInt8 = 0
        #expect(pair.client.read(&byte, 1) == .wantRead)  // takes in the TLSv1.3 tickets
        #expect(pair.server.read(&byte, 1) == .wantRead)
        pair.closeClientSocket()
        #expect(pair.server.read(&byte, 1) == .closed)
    }

    @Test func protocolRestriction() throws {
        var serverOptions = certs.server()
        serverOptions.protocols = ["TLSv1.3"]
        var clientOptions = certs.client()
        clientOptions.protocols = ["TLSv1.2"]
        let pair = try Pair(server: TLSContext(server: serverOptions), client: TLSContext(client: clientOptions))
        let (server, client) = pair.handshake()
        let serverError = try #require(server.error)
        #expect(serverError.hasPrefix("SSL_do_handshake() failed (SSL: error:"))
        #expect(serverError.contains("unsupported protocol"))
        #expect(client.error?.contains("protocol version") == true)
    }

    @Test func tls12WhenAsked() throws {
        var clientOptions = certs.client()
        clientOptions.protocols = ["TLSv1.2"]
        var serverOptions = certs.server()
        serverOptions.sessionTickets = false  // with a TLSv1.2 ticket the session ID is empty
        serverOptions.sessionCache = .builtin(size: 10)
        let pair = try Pair(server: TLSContext(server: serverOptions), client: TLSContext(client: clientOptions))
        #expect(pair.succeeded)
        #expect(pair.server.protocolVersion == "TLSv1.2")
        #expect(pair.server.cipher.hasPrefix("ECDHE-RSA-"))
        #expect(pair.server.sessionID.count == 64)
    }

    @Test func serverNameSwitchesAndRefuses() throws {
        let main = try TLSContext(server: certs.server())
        let other = try TLSContext(server: certs.server([("other.pem", "other.key")]))
        var rejecting = TLSServerOptions()
        rejecting.rejectHandshake = true
        let reject = try TLSContext(server: rejecting)
        main.serverNameHandler = { name in
            switch name {
            case "other.test": return other
            case "refused.test": return nil
            case nil: return reject
            default: return main
            }
        }
        let client = try TLSContext(client: certs.client(verify: false))

        let switched = try Pair(server: main, client: client, serverName: "other.test")
        #expect(switched.succeeded)
        #expect(switched.server.serverName == "other.test")
        #expect(switched.client.clientSubjectDN == "CN=other.test")

        let same = try Pair(server: main, client: client, serverName: "localhost")
        #expect(same.succeeded)
        #expect(same.client.clientSubjectDN == "CN=localhost")

        let refused = try Pair(server: main, client: client, serverName: "refused.test")
        let (server, clientResult) = refused.handshake()
        #expect(server.error != nil)
        #expect(clientResult.error?.contains("unrecognized name") == true)

        // No SNI at all: the handler sends it to a context with ssl_reject_handshake on.
        var noSNI = certs.client(verify: false)
        noSNI.serverName = nil
        let anonymous = try Pair(server: main, client: TLSContext(client: noSNI))
        let (_, anonymousClient) = anonymous.handshake()
        #expect(anonymousClient.error?.contains("unrecognized name") == true)
    }

    @Test func alpnWithoutCommonProtocolFails() throws {
        var clientOptions = certs.client()
        clientOptions.alpn = ["h2"]
        let pair = try Pair(server: TLSContext(server: certs.server()), client: TLSContext(client: clientOptions))
        let (server, client) = pair.handshake()
        #expect(server.error != nil)
        #expect(client.error?.contains("no application protocol") == true)
    }

    @Test(arguments: ["TLSv1.2", "TLSv1.3"])
    func resumptionWithBuiltinCache(version: String) throws {
        var serverOptions = certs.server()
        serverOptions.sessionCache = .builtin(size: 100)
        serverOptions.sessionTickets = false
        let server = try TLSContext(server: serverOptions)
        var clientOptions = certs.client()
        clientOptions.protocols = [version]
        let client = try TLSContext(client: clientOptions)
        let session = try #require(try firstSession(server: server, client: client))
        let second = try Pair(server: server, client: client, session: session)
        #expect(second.succeeded)
        #expect(second.server.sessionReused)
        #expect(second.client.sessionReused)
        #expect(second.server.protocolVersion == version)

        // Another context (another server's cache) does not know the session.
        let elsewhere = try Pair(server: TLSContext(server: serverOptions), client: client, session: session)
        #expect(elsewhere.succeeded)
        #expect(!elsewhere.server.sessionReused)
    }

    @Test func noResumptionWithCacheOffAndNoTickets() throws {
        var serverOptions = certs.server()
        serverOptions.sessionCache = .off
        serverOptions.sessionTickets = false
        let server = try TLSContext(server: serverOptions)
        let client = try TLSContext(client: certs.client())
        let session = try firstSession(server: server, client: client)
        let second = try Pair(server: server, client: client, session: session)
        #expect(second.succeeded)
        #expect(!second.server.sessionReused)
    }

    @Test(arguments: ["TLSv1.2", "TLSv1.3"])
    func resumptionWithTicketKeyFiles(version: String) throws {
        func context(_ keys: [String]) throws -> TLSContext {
            var options = certs.server()
            options.sessionCache = .off
            options.ticketKeys = keys.map(certs.path)
            return try TLSContext(server: options)
        }
        var clientOptions = certs.client()
        clientOptions.protocols = [version]
        let client = try TLSContext(client: clientOptions)
        // TLSv1.3 tickets are meant for one use: a fresh one for each case.
        func session() throws -> TLSSession {
            try #require(try firstSession(server: context(["ticket48.key"]), client: client))
        }

        // Another context (another worker, a reload) with the same key file resumes.
        let same = try Pair(server: context(["ticket48.key"]), client: client, session: session())
        #expect(same.succeeded)
        #expect(same.server.sessionReused)

        // Rotated: a new first key, the old one still decrypts.
        let rotated = try Pair(server: context(["ticket80.key", "ticket48.key"]), client: client, session: session())
        #expect(rotated.succeeded)
        #expect(rotated.server.sessionReused)

        // Unknown key: full handshake.
        let unknown = try Pair(server: context(["ticket48b.key"]), client: client, session: session())
        #expect(unknown.succeeded)
        #expect(!unknown.server.sessionReused)
    }

    @Test func automaticTicketKeysRotate() throws {
        var options = certs.server()
        options.sessionCache = .off
        options.automaticTicketKeys = 300
        let server = try TLSContext(server: options)
        #expect(server.ticketRotation == 300)
        var clientOptions = certs.client()
        clientOptions.protocols = ["TLSv1.2"]
        let client = try TLSContext(client: clientOptions)
        let first = try #require(try firstSession(server: server, client: client))
        // One rotation: the previous key still decrypts the ticket.
        server.rotateTicketKeys()
        let again = try Pair(server: server, client: client, session: first)
        #expect(again.succeeded)
        #expect(again.server.sessionReused)
        // Three more: the key that issued it is gone, a full handshake follows.
        let second = try #require(try firstSession(server: server, client: client))
        for _ in 0..<3 { server.rotateTicketKeys() }
        let gone = try Pair(server: server, client: client, session: second)
        #expect(gone.succeeded)
        #expect(!gone.server.sessionReused)
    }

    @Test func ticketKeyFileOfWrongSize() throws {
        var options = certs.server()
        options.ticketKeys = [certs.path("ca.pem")]
        #expect(throws: TLSError("\"\(certs.path("ca.pem"))\" must be 48 or 80 bytes")) {
            try TLSContext(server: options)
        }
    }

    @Test func clientCertificateVerification() throws {
        var serverOptions = certs.server()
        serverOptions.verifyClient = .optional
        serverOptions.clientCertificate = certs.path("ca.pem")
        serverOptions.sessionCache = .builtin(size: 10)
        let server = try TLSContext(server: serverOptions)

        var withCertificate = certs.client()
        withCertificate.certificate = certs.path("client.pem")
        withCertificate.key = certs.path("client.key")
        let good = try Pair(server: server, client: TLSContext(client: withCertificate))
        #expect(good.succeeded)
        var byte: UInt8 = 0
        _ = good.server.read(&byte, 1)  // TLSv1.3 client certificates arrive with the client's Finished
        #expect(good.server.peerCertificatePresented)
        #expect(good.server.clientVerify == "SUCCESS")
        #expect(good.server.clientSubjectDN == "CN=Test Client,O=Swiftginx")
        #expect(good.server.clientIssuerDN == "CN=Swiftginx Test CA")
        #expect(good.server.clientSerial == "1003")
        #expect(good.server.clientFingerprint?.count == 40)
        #expect(good.server.clientCertificatePEM?.hasPrefix("-----BEGIN CERTIFICATE-----\n") == true)

        let none = try Pair(server: server, client: TLSContext(client: certs.client()))
        #expect(none.succeeded)
        #expect(!none.server.peerCertificatePresented)
        #expect(none.server.clientVerify == "NONE")
        #expect(none.server.clientSubjectDN == nil)

        var stranger = certs.client()
        stranger.certificate = certs.path("stranger.pem")
        stranger.key = certs.path("stranger.key")
        let failed = try Pair(server: server, client: TLSContext(client: stranger))
        #expect(failed.succeeded)  // nginx answers 400 itself
        #expect(failed.server.clientVerify.hasPrefix("FAILED:"))
        #expect(failed.server.clientVerify.contains("self-signed certificate"))
    }

    @Test func rsaAndECDSAOnOneContext() throws {
        let server = try TLSContext(server: certs.server([("rsa-chain.pem", "rsa.key"), ("ecdsa.pem", "ecdsa.key")]))
        for (algorithms, subject) in [("ECDSA+SHA256", "CN=localhost-ecdsa"), ("RSA-PSS+SHA256", "CN=localhost")] {
            var clientOptions = certs.client()
            clientOptions.confCommands = [("SignatureAlgorithms", algorithms)]
            let pair = try Pair(server: server, client: TLSContext(client: clientOptions))
            #expect(pair.succeeded)
            #expect(pair.client.clientSubjectDN == subject)
            #expect(pair.client.clientVerify == "SUCCESS")
        }

        var ecdsaOnly = certs.client()
        ecdsaOnly.confCommands = [("SignatureAlgorithms", "ECDSA+SHA256")]
        let rsaServer = try TLSContext(server: certs.server())
        let pair = try Pair(server: rsaServer, client: TLSContext(client: ecdsaOnly))
        let (serverResult, _) = pair.handshake()
        #expect(serverResult.error?.contains("no suitable signature algorithm") == true)
    }

    @Test func kernelTLSOption() throws {
        var serverOptions = certs.server()
        serverOptions.confCommands = [("Options", "KTLS")]
        let pair = try Pair(server: TLSContext(server: serverOptions), client: TLSContext(client: certs.client()))
        #expect(pair.succeeded)
        // AF_UNIX sockets have no kTLS, so the fallback path is what is checked here.
        #expect(!pair.server.kernelTLSSend)
        #expect(pair.server.sendfile(0, offset: 0, count: 1).error?.contains("kTLS send is off") == true)
    }

    private func firstSession(server: TLSContext, client: TLSContext) throws -> TLSSession? {
        let pair = try Pair(server: server, client: client)
        let (s, c) = pair.handshake()
        guard s == .done(0), c == .done(0) else {
            Issue.record("first handshake: \(s) \(c)")
            return nil
        }
        // TLSv1.3 tickets follow the handshake: the client takes them in while reading.
        let hello = Array("hello".utf8)
        _ = pair.transfer(hello, from: pair.server, to: pair.client)
        defer {
            pair.client.shutdown()
            pair.server.shutdown()
        }
        return pair.client.session
    }
}
