// Certificates made once per test run with the openssl command line, and a driver that
// runs a server and a client TLSConnection over a non-blocking socketpair in one thread.

import Foundation
import Glibc
import SwiftginxTLS

/// CA, leaves (RSA chain, ECDSA, another name), client certificates and ticket keys.
final class TestCertificates: Sendable {
    /// Made on first use; a failure fails every test that needs them (not the run).
    private static let made = Result { try TestCertificates() }

    static func shared() throws -> TestCertificates { try made.get() }

    let directory: String

    init() throws {
        signal(SIGPIPE, SIG_IGN)
        directory = NSTemporaryDirectory() + "swiftginx-tls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        let rsa = ["-newkey", "rsa:2048"]
        try openssl(
            ["req", "-x509"] + rsa + [
                "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3",
                "-subj", "/CN=Swiftginx Test CA",
            ])
        try leaf(
            "rsa", rsa, subject: "/CN=localhost", serial: "0x1001",
            extensions: "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
        try leaf(
            "ecdsa", ec, subject: "/CN=localhost-ecdsa", serial: "0x1002",
            extensions: "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n")
        try leaf(
            "client", rsa, subject: "/O=Swiftginx/CN=Test Client", serial: "0x1003",
            extensions: "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n")
        try openssl(
            ["req", "-x509"] + ec + [
                "-nodes", "-keyout", "other.key", "-out", "other.pem", "-days", "3",
                "-subj", "/CN=other.test",
            ])
        try openssl(
            ["req", "-x509"] + ec + [
                "-nodes", "-keyout", "stranger.key", "-out", "stranger.pem", "-days", "3",
                "-subj", "/CN=Stranger",
            ])
        try openssl(["pkey", "-in", "rsa.key", "-aes256", "-passout", "pass:secret", "-out", "rsa-encrypted.key"])
        try openssl(["rand", "-out", "ticket48.key", "48"])
        try openssl(["rand", "-out", "ticket80.key", "80"])
        try openssl(["rand", "-out", "ticket48b.key", "48"])
        let chain =
            try String(contentsOfFile: path("rsa.pem"), encoding: .utf8)
            + String(contentsOfFile: path("ca.pem"), encoding: .utf8)
        try chain.write(toFile: path("rsa-chain.pem"), atomically: true, encoding: .utf8)
        try "not a certificate\n".write(toFile: path("garbage.pem"), atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    private func leaf(_ name: String, _ key: [String], subject: String, serial: String, extensions: String) throws {
        try extensions.write(toFile: path("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(
            ["req", "-new"] + key + [
                "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr",
                "-subj", subject,
            ])
        try openssl([
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", serial,
            "-out", "\(name).pem", "-days", "3", "-extfile", "\(name).ext",
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            throw TLSError("openssl \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
    }

    // Ready-made options.

    func server(_ pairs: [(String, String)] = [("rsa-chain.pem", "rsa.key")]) -> TLSServerOptions {
        var options = TLSServerOptions()
        options.certificates = pairs.map { (certificate: path($0.0), key: path($0.1)) }
        return options
    }

    func client(verify: Bool = true) -> TLSClientOptions {
        var options = TLSClientOptions()
        options.verify = verify
        options.trustedCertificate = path("ca.pem")
        options.serverName = "localhost"
        return options
    }
}

/// A server and a client connection on the two ends of a socketpair.
final class Pair {
    let server: TLSConnection
    let client: TLSConnection
    private let fds: (Int32, Int32)

    init(
        server serverContext: TLSContext, client clientContext: TLSContext, serverName: String? = nil,
        session: TLSSession? = nil
    ) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &pair) == 0 else {
            throw TLSError("socketpair() failed")
        }
        fds = (pair[0], pair[1])
        do {
            server = try TLSConnection(context: serverContext, fd: pair[0])
            client = try TLSConnection(context: clientContext, fd: pair[1], serverName: serverName, session: session)
        } catch {
            close(pair[0])
            close(pair[1])
            throw error
        }
    }

    private var clientSocketOpen = true

    deinit {
        close(fds.0)
        if clientSocketOpen { close(fds.1) }
    }

    /// The client's end goes away without a close_notify.
    func closeClientSocket() {
        close(fds.1)
        clientSocketOpen = false
    }

    /// Drives both handshakes until each side is done or has failed.
    func handshake() -> (server: TLSConnection.Result, client: TLSConnection.Result) {
        var serverResult = TLSConnection.Result.wantRead
        var clientResult = TLSConnection.Result.wantRead
        for _ in 0..<200 {
            if !Self.finished(clientResult) { clientResult = client.handshake() }
            if !Self.finished(serverResult) { serverResult = server.handshake() }
            if Self.finished(serverResult) && Self.finished(clientResult) { break }
        }
        return (serverResult, clientResult)
    }

    var succeeded: Bool {
        let (s, c) = handshake()
        return s == .done(0) && c == .done(0)
    }

    /// Sends `bytes` from one side to the other, reading as it goes; returns what arrived.
    func transfer(_ bytes: [UInt8], from sender: TLSConnection, to receiver: TLSConnection) -> [UInt8] {
        var received: [UInt8] = []
        received.reserveCapacity(bytes.count)
        var sent = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        var idle = 0
        while received.count < bytes.count && idle < 1000 {
            var progressed = false
            if sent < bytes.count {
                let result = bytes.withUnsafeBytes { sender.write($0.baseAddress! + sent, bytes.count - sent) }
                if case .done(let n) = result {
                    sent += n
                    progressed = true
                }
            }
            repeat {
                let result = buffer.withUnsafeMutableBytes { receiver.read($0.baseAddress!, $0.count) }
                guard case .done(let n) = result else { break }
                received += buffer[0..<n]
                progressed = true
            } while receiver.hasPendingInput
            idle = progressed ? 0 : idle + 1
        }
        return received
    }

    static func finished(_ result: TLSConnection.Result) -> Bool {
        switch result {
        case .wantRead, .wantWrite: return false
        default: return true
        }
    }
}

extension TLSConnection.Result {
    var error: String? {
        if case .failed(let error) = self { return error.message }
        return nil
    }
}
