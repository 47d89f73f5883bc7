// One request and its answer over a fresh non-blocking connection, as the
// housekeeping loop runs them (health checks, OCSP requests): connect, write the
// request, read until the peer closes or `limit` bytes have come. The exchange never
// waits: `progress` does what the socket allows now and says which readiness it needs
// next; the loop calls it on epoll events and calls `timedOut` once `deadline` has
// passed. The owner of the exchange closes its socket (the loop does, when it ends).

import SwiftginxPosix

final class SocketExchange {
    enum Phase {
        case connecting
        case sending
        case reading
    }

    enum Target {
        case inet(SocketAddress)
        case unix(String)
    }

    enum Outcome {
        /// The peer closed the connection, or `limit` bytes were read.
        case answer([UInt8])
        /// The phase that failed, with the system error (nil: the deadline passed) and
        /// what was read before.
        case failed(Phase, SystemError?, answer: [UInt8])
    }

    let fd: Int32
    private(set) var phase: Phase
    /// Monotonic milliseconds by which the exchange must end (or, while connecting,
    /// connect).
    private(set) var deadline: Int64
    private let request: [UInt8]
    private var sent = 0
    private var answer: [UInt8] = []
    private let limit: Int
    private let capReads: Bool
    private let ioTimeout: Int?

    /// Starts connecting; throws when the connect fails at once (the socket is closed).
    /// `connectTimeout`: milliseconds to connect; `ioTimeout`: milliseconds for sending
    /// and reading from the moment of connecting (nil: the connect deadline stays);
    /// `capReads`: each read asks for no more than `limit` minus what is there.
    init(
        _ target: Target, request: [UInt8], connectTimeout: Int, ioTimeout: Int?, limit: Int, capReads: Bool,
        now: Int64
    ) throws(SystemError) {
        let start: Socket.ConnectStart
        switch target {
        case .inet(let address): start = try Socket.connect(to: address)
        case .unix(let path): start = try Socket.connect(unixPath: path)
        }
        self.request = request
        self.limit = limit
        self.capReads = capReads
        self.ioTimeout = ioTimeout
        deadline = now + Int64(connectTimeout)
        switch start {
        case .connected(let f):
            fd = f
            phase = .sending
            if let ioTimeout { deadline = now + Int64(ioTimeout) }
        case .inProgress(let f):
            fd = f
            phase = .connecting
        }
    }

    /// The readiness the exchange waits for.
    var interest: EpollEvents { phase == .reading ? .readable : .writable }

    /// Goes as far as the socket allows; the outcome once the exchange has ended.
    /// `scratch` is the reading buffer (16 KiB).
    func progress(now: Int64, scratch: UnsafeMutableRawBufferPointer) -> Outcome? {
        if phase == .connecting {
            if let e = Socket.pendingError(fd) { return .failed(.connecting, e, answer: []) }
            phase = .sending
            if let ioTimeout { deadline = now + Int64(ioTimeout) }
        }
        if phase == .sending {
            while sent < request.count {
                let result = request.withUnsafeBytes { b in
                    Result { () throws(SystemError) in try Socket.write(fd, b.baseAddress! + sent, b.count - sent) }
                }
                switch result {
                case .success(.processed(let n)): sent += n
                case .success(.wouldBlock): return nil
                case .failure(let error): return .failed(.sending, error, answer: [])
                }
            }
            phase = .reading
        }
        while answer.count < limit {
            let size = capReads ? min(scratch.count, limit - answer.count) : scratch.count
            do {
                switch try Socket.read(fd, scratch.baseAddress!, size) {
                case .processed(0): return .answer(answer)
                case .processed(let n): answer += UnsafeRawBufferPointer(rebasing: scratch[0..<n])
                case .wouldBlock: return nil
                }
            } catch {
                return .failed(.reading, error, answer: answer)
            }
        }
        return .answer(answer)
    }

    /// The outcome when `deadline` has passed.
    func timedOut() -> Outcome { .failed(phase, nil, answer: answer) }
}
