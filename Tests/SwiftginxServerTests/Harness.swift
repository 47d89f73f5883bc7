// A worker without listening sockets, driven turn by turn by the test: connections
// are socketpairs (the test holds the client end), so the connection state machine,
// the response writer and the content handlers run exactly as served, with every
// byte and every loop turn under the test's control. The configuration is loaded from
// text into a temporary prefix with the files a test needs.

import Foundation
import Glibc
import SwiftginxConfig
import SwiftginxPosix
import Testing

@testable import SwiftginxServer

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

final class Harness {
    let prefix: String
    let config: RuntimeConfig
    let worker: Worker
    let listener: WorkerListener

    /// `config` is a whole configuration; "PREFIX" in it is replaced by the prefix.
    init(config text: String, files: [String: [UInt8]] = [:]) throws {
        // As the server does at startup: a write to a closed peer is an EPIPE error.
        SignalReceiver.ignoreBrokenPipe()
        var template = Array("/tmp/swiftginx-server-test-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError(description: "mkdtemp failed")
        }
        prefix = String(cString: dir) + "/"
        for sub in ["conf", "html", "logs"] { mkdir(prefix + sub, 0o755) }
        for (path, bytes) in files {
            let full = prefix + path
            let parent = (full as NSString).deletingLastPathComponent
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: full, contents: Data(bytes))
        }
        let confPath = prefix + "conf/swiftginx.conf"
        try text.replacingOccurrences(of: "PREFIX", with: prefix).write(
            toFile: confPath, atomically: true, encoding: .utf8)
        config = try ConfigLoader.load(path: confPath, prefix: prefix, environment: PosixConfigEnvironment())
        let generation = Generation(number: 1, config: config, listeners: [[]], accessLogFiles: [:])
        let errorLog = ErrorLog(targets: [(try LogFile(path: prefix + "logs/error.log"), .info)])
        let state = ServerState(generation: generation, errorLog: errorLog, logFiles: LogFiles(), prefix: prefix)
        worker = try Worker(index: 0, state: state, generation: generation)
        guard let group = config.listenGroups.first else { throw HarnessError(description: "no listen address") }
        listener = WorkerListener(fd: -1, group: group)
    }

    deinit { try? FileManager.default.removeItem(atPath: prefix) }

    /// A new connection over a socketpair: the server end is adopted by the worker (and
    /// served at once, as an accepted socket is); the client end is non-blocking.
    func connect(sendBuffer: Int32? = nil, receiveBuffer: Int32? = nil, peer: String = "127.0.0.1") throws -> Client {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
            throw HarnessError(description: "socketpair failed: \(errno)")
        }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        if let sendBuffer { setBuffer(fds[0], SO_SNDBUF, sendBuffer) }
        if let receiveBuffer { setBuffer(fds[1], SO_RCVBUF, receiveBuffer) }
        let connection = worker.adopt(
            fd: fds[0], peer: SocketAddress(host: peer, port: 40000)!, listener: listener)
        return Client(fd: fds[1], connection: connection)
    }

    private func setBuffer(_ fd: Int32, _ option: Int32, _ size: Int32) {
        var v = size
        _ = setsockopt(fd, SOL_SOCKET, option, &v, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Runs loop turns (without waiting) until `done` holds, waiting up to `ms` per turn,
    /// for at most `seconds`; false when time ran out.
    @discardableResult
    func run(for seconds: Double = 5, waitPerTurn ms: Int32 = 10, until done: () -> Bool) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if done() { return true }
            worker.turn(maxWait: ms)
        }
        return done()
    }

    /// One loop turn that does not wait.
    func turn() { worker.turn(maxWait: 0) }

    var errorLog: String {
        (try? String(contentsOfFile: prefix + "logs/error.log", encoding: .utf8)) ?? ""
    }
}

/// The test's end of a socketpair.
final class Client {
    let fd: Int32
    let connection: HTTP1Connection
    private(set) var received: [UInt8] = []
    private(set) var closedByServer = false

    init(fd: Int32, connection: HTTP1Connection) {
        self.fd = fd
        self.connection = connection
    }

    deinit { close() }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    /// Reads what is there now (at most `limit` bytes); the count read.
    @discardableResult
    func read(limit: Int = .max) -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while total < limit {
            let want = min(buffer.count, limit - total)
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, want, 0) }
            if n > 0 {
                received += buffer[0..<n]
                total += n
                continue
            }
            if n == 0 { closedByServer = true }
            break
        }
        return total
    }

    var text: String { String(decoding: received, as: UTF8.self) }

    func clear() { received.removeAll() }

    private var isOpen = true
    func close() {
        guard isOpen else { return }
        isOpen = false
        Glibc.close(fd)
    }

    /// The status codes of the responses received so far, in order (a status line
    /// is "HTTP/1.1 NNN" at the start of the data or right after a line feed).
    var statuses: [Int] {
        let marker = Array("HTTP/1.1 ".utf8)
        var found: [Int] = []
        var i = 0
        while i + marker.count + 3 <= received.count {
            if (i == 0 || received[i - 1] == 10) && Array(received[i..<(i + marker.count)]) == marker,
                let code = Int(String(decoding: received[(i + marker.count)..<(i + marker.count + 3)], as: UTF8.self))
            {
                found.append(code)
            }
            i += 1
        }
        return found
    }
}
