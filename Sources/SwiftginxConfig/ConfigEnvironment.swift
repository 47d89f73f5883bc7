// What loading a configuration needs from the machine it runs on: files and include
// globs, the host name, name resolution for upstream addresses, the CPU count and
// whether we run as root. The configuration module stays pure (no system calls, no
// SwiftginxPosix); the server hands the loader an environment backed by SwiftginxPosix,
// and tests may hand it one that answers from memory. Loading runs at startup and on
// reload only, so a protocol existential costs nothing that matters here.

/// A failed system call met while loading, with what nginx prints of it.
public struct ConfigSystemError: Error, Sendable, Equatable {
    /// The call's name without parentheses: `open`, `read`, `glob`.
    public let call: String
    public let code: Int32
    /// strerror's text for `code`.
    public let reason: String

    public init(call: String, code: Int32, reason: String) {
        self.call = call
        self.code = code
        self.reason = reason
    }

    /// `open() "/x" failed (2: No such file or directory)`, nginx's wording.
    func message(subject: String) -> String { "\(call)() \"\(subject)\" failed (\(code): \(reason))" }
}

/// The machine as configuration loading sees it.
public protocol ConfigEnvironment: Sendable {
    /// The whole file; a failure names the call that failed (`open` or `read`).
    func readFile(_ path: String) -> Result<[UInt8], ConfigSystemError>
    /// The paths matching an `include` pattern, sorted; no match is an empty list.
    func glob(_ pattern: String) -> Result<[String], ConfigSystemError>
    /// The machine's host name (`server_name $hostname`).
    func hostname() -> String
    /// The numeric addresses ("127.0.0.1", "::1") of a host name or numeric address,
    /// in the resolver's order; nil when it does not resolve.
    func resolve(_ host: String) -> [String]?
    /// Online CPUs (`worker_processes auto`).
    var onlineCPUs: Int { get }
    /// Running as root: a server without `listen` then listens on port 80, else 8000, and
    /// `user` names the account that serves.
    var isSuperuser: Bool { get }
    /// The user id of an account name (`user`), nil when there is none.
    func userID(_ name: String) -> UInt32?
    /// The group id of a group name (`user name group`), nil when there is none.
    func groupID(_ name: String) -> UInt32?
}
