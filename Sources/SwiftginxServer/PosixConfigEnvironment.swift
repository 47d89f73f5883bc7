// The machine as configuration loading sees it, through SwiftginxPosix: files and
// include globs, the host name, getaddrinfo for upstream names, CPUs and the user.
// Every place that loads a configuration (startup, `-t`, reload) hands the loader this.

import SwiftginxConfig
import SwiftginxPosix

/// The configuration environment of a running server.
public struct PosixConfigEnvironment: ConfigEnvironment {
    public init() {}

    public func readFile(_ path: String) -> Result<[UInt8], ConfigSystemError> {
        do { return .success(try FileSystem.readWholeFile(path)) } catch { return .failure(Self.converted(error)) }
    }

    public func glob(_ pattern: String) -> Result<[String], ConfigSystemError> {
        do { return .success(try FileSystem.glob(pattern)) } catch { return .failure(Self.converted(error)) }
    }

    public func hostname() -> String {
        let name = ProcessControl.hostname
        return name.isEmpty ? "localhost" : name
    }

    public func resolve(_ host: String) -> [String]? {
        guard case .success(let addresses) = SocketAddress.resolve(host: host, port: 0) else { return nil }
        return addresses.map(\.host)
    }

    public var onlineCPUs: Int { ProcessControl.onlineCPUs }

    public var isSuperuser: Bool { ProcessControl.isSuperuser }

    public func userID(_ name: String) -> UInt32? { Privileges.userID(name) }

    public func groupID(_ name: String) -> UInt32? { Privileges.groupID(name) }

    private static func converted(_ e: SystemError) -> ConfigSystemError {
        ConfigSystemError(call: e.call, code: e.errno, reason: SystemError.message(e.errno))
    }
}
