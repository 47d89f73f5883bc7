// The files behind contexts and connections (each read once per generation, inherited
// by a reload while unchanged, `ssl_certificate_cache`'s rules), CA lists with trust
// aux, CRLs, and the handshake variables added for nginx's ssl module (client cipher
// list, curves, legacy DNs, validity) and protocols chosen by the SNI server.

import Foundation
import Glibc
import Testing

@testable import SwiftginxTLS

@Suite struct TLSFileCacheTests {
    let certs: TestCertificates

    init() throws { certs = try TestCertificates.shared() }

    /// A scratch directory with copies of some of the shared certificates.
    func scratch(_ names: [String]) throws -> String {
        let dir = NSTemporaryDirectory() + "swiftginx-files-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in names { try FileManager.default.copyItem(atPath: certs.path(name), toPath: dir + "/" + name) }
        return dir
    }

    static func identity(_ path: String) -> [Int]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [Int(st.st_ino), Int(st.st_mtim.tv_sec)]
    }

    @Test func eachFileIsReadOncePerGeneration() throws {
        let dir = try scratch(["rsa-chain.pem", "rsa.key"])
        let files = TLSFileCache()
        var options = certs.server([])
        options.certificates = [(certificate: dir + "/rsa-chain.pem", key: dir + "/rsa.key")]
        options.files = files
        _ = try TLSContext(server: options)
        // Gone from disk: a second context of the same generation still loads them.
        try FileManager.default.removeItem(atPath: dir + "/rsa-chain.pem")
        try FileManager.default.removeItem(atPath: dir + "/rsa.key")
        let second = try TLSContext(server: options)
        let pair = try Pair(server: second, client: TLSContext(client: certs.client()))
        #expect(pair.succeeded)
        // A new generation without the old cache reads the disk again.
        options.files = TLSFileCache()
        #expect(throws: TLSError.self) { try TLSContext(server: options) }
    }

    @Test func aReloadInheritsOnlyUnchangedFiles() throws {
        let dir = try scratch(["rsa.pem", "other.pem"])
        let path = dir + "/cert.pem"
        try FileManager.default.copyItem(atPath: dir + "/rsa.pem", toPath: path)
        let first = TLSFileCache(identity: Self.identity)
        let before = try first.bytes(path, what: "certificate")
        // Rewritten in place with the old mtime kept: still the old bytes (nginx's rule).
        let mtime = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as! Date
        try Data(contentsOf: URL(fileURLWithPath: dir + "/other.pem")).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: path)
        let inherited = TLSFileCache(inheriting: first, identity: Self.identity)
        #expect(try inherited.bytes(path, what: "certificate") == before)
        // Replaced by a new file (a new version: another mtime): read anew.
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.copyItem(atPath: dir + "/other.pem", toPath: path)
        try FileManager.default.setAttributes(
            [.modificationDate: mtime.addingTimeInterval(-1000)], ofItemAtPath: path)
        let next = TLSFileCache(inheriting: inherited, identity: Self.identity)
        #expect(try next.bytes(path, what: "certificate") != before)
    }

    /// A reload that inherits a key but reads its renewed certificate (the key was replaced
    /// keeping what identifies it) reads both again instead of failing.
    @Test func aMismatchedInheritedPairIsReadAgain() throws {
        let dir = try scratch(["rsa.pem", "rsa.key", "other.pem", "other.key"])
        let cert = dir + "/live.pem"
        let key = dir + "/live.key"
        try FileManager.default.copyItem(atPath: dir + "/rsa.pem", toPath: cert)
        try FileManager.default.copyItem(atPath: dir + "/rsa.key", toPath: key)
        let sameKey: @Sendable (String) -> [Int]? = { path in
            path.hasSuffix(".key") ? [1] : [Int.random(in: 0...1 << 30)]
        }
        var options = certs.server([])
        options.certificates = [(certificate: cert, key: key)]
        options.files = TLSFileCache(identity: sameKey)
        _ = try TLSContext(server: options)
        try FileManager.default.removeItem(atPath: cert)
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.copyItem(atPath: dir + "/other.pem", toPath: cert)
        try FileManager.default.copyItem(atPath: dir + "/other.key", toPath: key)
        options.files = TLSFileCache(inheriting: options.files, identity: sameKey)
        let renewed = try TLSContext(server: options)
        let pair = try Pair(server: renewed, client: TLSContext(client: certs.client(verify: false)))
        #expect(pair.succeeded)
        #expect(pair.client.clientSubjectDN == "CN=other.test")
    }

    @Test func passwordFileLines() throws {
        let dir = try scratch([])
        try "first\r\nsecond\n".write(toFile: dir + "/pw", atomically: true, encoding: .utf8)
        #expect(try TLSFileCache().passwords(dir + "/pw") == ["first", "second"])
        try "".write(toFile: dir + "/empty", atomically: true, encoding: .utf8)
        #expect(throws: TLSError.self) { try TLSFileCache().passwords(dir + "/empty") }
    }

    @Test func certificateCacheKeepsEvictsAndRevalidates() throws {
        let dir = try scratch(["rsa.pem", "other.pem"])
        let cache = TLSCertificateCache(max: 2, inactive: 60_000, valid: 60_000, identity: Self.identity)
        for name in ["a", "b", "c"] {
            try FileManager.default.copyItem(atPath: dir + "/rsa.pem", toPath: "\(dir)/\(name).pem")
        }
        let a = try cache.bytes(dir + "/a.pem", what: "certificate")
        try FileManager.default.removeItem(atPath: dir + "/a.pem")
        #expect(try cache.bytes(dir + "/a.pem", what: "certificate") == a)  // kept
        _ = try cache.bytes(dir + "/b.pem", what: "certificate")
        _ = try cache.bytes(dir + "/c.pem", what: "certificate")  // max 2: a (least recent) goes
        #expect(throws: TLSError.self) { try cache.bytes(dir + "/a.pem", what: "certificate") }

        // valid=0: every use checks the file again; a replaced file is read anew.
        let checking = TLSCertificateCache(max: 4, inactive: 60_000, valid: 0, identity: Self.identity)
        let before = try checking.bytes(dir + "/b.pem", what: "certificate")
        try FileManager.default.removeItem(atPath: dir + "/b.pem")
        try FileManager.default.copyItem(atPath: dir + "/other.pem", toPath: dir + "/b.pem")
        #expect(try checking.bytes(dir + "/b.pem", what: "certificate") != before)
    }

    @Test func encryptedKeysAreNeverKept() throws {
        let dir = try scratch(["rsa-encrypted.key", "rsa.key"])
        let cache = TLSCertificateCache(max: 4, inactive: 60_000, valid: 60_000, identity: Self.identity)
        _ = try cache.keyBytes(dir + "/rsa-encrypted.key")
        _ = try cache.keyBytes(dir + "/rsa.key")
        try FileManager.default.removeItem(atPath: dir + "/rsa-encrypted.key")
        try FileManager.default.removeItem(atPath: dir + "/rsa.key")
        #expect(throws: TLSError.self) { try cache.keyBytes(dir + "/rsa-encrypted.key") }
        #expect(try !cache.keyBytes(dir + "/rsa.key").isEmpty)
        #expect(TLSCertificateCache.isEncrypted(Array("-----BEGIN ENCRYPTED PRIVATE KEY-----".utf8)))
    }

    @Test func trustedCertificateBlocksAreCAs() throws {
        let dir = try scratch(["ca.pem"])
        // `openssl x509 -trustout` writes "BEGIN TRUSTED CERTIFICATE" blocks.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "x509", "-in", dir + "/ca.pem", "-addtrust", "clientAuth", "-trustout", "-out", dir + "/trusted.pem",
        ]
        try process.run()
        process.waitUntilExit()
        var options = certs.server()
        options.clientCertificate = dir + "/trusted.pem"
        options.verifyClient = .on
        let server = try TLSContext(server: options)
        var client = certs.client()
        client.certificate = certs.path("client.pem")
        client.key = certs.path("client.key")
        let pair = try Pair(server: server, client: TLSContext(client: client))
        #expect(pair.succeeded)
        #expect(pair.server.clientVerify == "SUCCESS")
        #expect(pair.server.clientSubjectDNLegacy == "/O=Swiftginx/CN=Test Client")
        #expect(pair.server.clientIssuerDNLegacy == "/CN=Swiftginx Test CA")
        #expect(pair.server.clientValidDays.map { $0 >= 1 && $0 <= 3 } == true)
        #expect(pair.server.clientValidFrom?.hasSuffix(" GMT") == true)
        #expect(pair.server.clientValidUntil?.hasSuffix(" GMT") == true)
    }

    @Test func clientCiphersAndCurves() throws {
        var options = certs.server()
        options.ecdhCurve = "prime256v1"
        let pair = try Pair(server: TLSContext(server: options), client: TLSContext(client: certs.client()))
        #expect(pair.succeeded)
        #expect(pair.server.curve == "prime256v1")
        #expect(pair.server.clientCurves.split(separator: ":").contains("prime256v1"))
        let ciphers = pair.server.clientCiphers.split(separator: ":")
        #expect(ciphers.contains("TLS_AES_256_GCM_SHA384"))
    }

    @Test func theSNIServersProtocolsApply() throws {
        var tls12 = certs.server()
        tls12.protocols = ["TLSv1.2"]
        var tls13 = certs.server()
        tls13.protocols = ["TLSv1.3"]
        let first = try TLSContext(server: tls12)
        let second = try TLSContext(server: tls13)
        first.serverNameHandler = { name in name == "two.test" ? second : first }
        second.serverNameHandler = { name in name == "one.test" ? first : second }
        let client = try TLSContext(client: certs.client(verify: false))
        let moved = try Pair(server: first, client: client, serverName: "two.test")
        #expect(moved.succeeded)
        #expect(moved.server.protocolVersion == "TLSv1.3")
        let back = try Pair(server: second, client: client, serverName: "one.test")
        #expect(back.succeeded)
        #expect(back.server.protocolVersion == "TLSv1.2")
    }
}
