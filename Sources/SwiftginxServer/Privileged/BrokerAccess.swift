// The serving process's side of the supervisor channel: each privileged call is one
// request and one reply over the socket pair, serialized by a lock (only the master
// thread asks, at startup, reload and log reopening — never on a request's path). Also
// the configuration environment a reload reads files through, which still reports
// root: the account that started the server decides `user` and default ports.

import SwiftginxConfig
import SwiftginxPosix
import Synchronization

final class BrokerAccess: PrivilegedAccess {
    private let channel: Mutex<Int32>

    init(channel: Int32) {
        self.channel = Mutex(channel)
    }

    private func call(_ request: BrokerRequest) throws(SystemError) -> (BrokerReply, [Int32]) {
        try channel.withLock { (fd: inout Int32) throws(SystemError) -> (BrokerReply, [Int32]) in
            try DescriptorChannel.send(fd, request.encoded())
            let (bytes, fds) = try DescriptorChannel.receive(fd)
            guard let reply = BrokerReply(bytes) else {
                for f in fds { FileSystem.close(f) }
                throw SystemError("recvmsg", errno: 32)  // EPIPE: the supervisor is gone
            }
            if reply.errno != 0 {
                for f in fds { FileSystem.close(f) }
                throw SystemError(reply.call, errno: reply.errno)
            }
            return (reply, fds)
        }
    }

    private func one(_ request: BrokerRequest) throws(SystemError) -> Int32 {
        let (reply, fds) = try call(request)
        guard fds.count == 1 else {
            for f in fds { FileSystem.close(f) }
            throw SystemError(reply.call.isEmpty ? "recvmsg" : reply.call, errno: 5)
        }
        return fds[0]
    }

    func openForReading(_ path: String) throws(SystemError) -> Int32 { try one(.openForReading(path)) }

    func openForAppending(_ path: String) throws(SystemError) -> Int32 { try one(.openForAppending(path)) }

    func glob(_ pattern: String) throws(SystemError) -> [String] {
        let (reply, _) = try call(.glob(pattern))
        if reply.payload.isEmpty { return [] }
        return reply.payload.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }

    func listen(_ address: ListenAddress, options: ListenOptions, count: Int) throws(SystemError) -> [Int32] {
        let (_, fds) = try call(
            .listen(
                address, backlog: options.backlog, reuseport: options.reuseport, ipv6only: options.ipv6only,
                deferred: options.deferred, count: count))
        guard fds.count == count else {
            for f in fds { FileSystem.close(f) }
            throw SystemError("listen", errno: 5)
        }
        return fds
    }

    func release(_ address: ListenAddress) { _ = try? call(.release(address)) }

    /// Tells the supervisor that the server is listening and serving.
    func ready() throws(SystemError) { _ = try call(.ready) }
}

/// Reading configuration files through the supervisor; the rest as the machine answers.
struct BrokerConfigEnvironment: ConfigEnvironment {
    let access: BrokerAccess
    let machine = PosixConfigEnvironment()

    func readFile(_ path: String) -> Result<[UInt8], ConfigSystemError> {
        do { return .success(try access.readFile(path)) } catch { return .failure(Self.converted(error)) }
    }

    func glob(_ pattern: String) -> Result<[String], ConfigSystemError> {
        do { return .success(try access.glob(pattern)) } catch { return .failure(Self.converted(error)) }
    }

    func hostname() -> String { machine.hostname() }
    func resolve(_ host: String) -> [String]? { machine.resolve(host) }
    var onlineCPUs: Int { machine.onlineCPUs }
    /// The supervisor runs as root, so the configuration is read as root's would be.
    var isSuperuser: Bool { true }
    func userID(_ name: String) -> UInt32? { machine.userID(name) }
    func groupID(_ name: String) -> UInt32? { machine.groupID(name) }

    private static func converted(_ e: SystemError) -> ConfigSystemError {
        ConfigSystemError(call: e.call, code: e.errno, reason: SystemError.message(e.errno))
    }
}
