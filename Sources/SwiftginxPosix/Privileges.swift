// Accounts and privilege changes: looking up the `user` directive's account and group,
// and dropping root for good in the serving process (nginx's order: setgid, initgroups,
// setuid), plus the fork and wait calls the supervisor uses around it.

import Glibc

/// A resolved account: what `user name [group]` names.
public struct Account: Sendable, Equatable {
    public let name: String
    public let uid: UInt32
    public let gid: UInt32

    public init(name: String, uid: UInt32, gid: UInt32) {
        self.name = name
        self.uid = uid
        self.gid = gid
    }
}

public enum Privileges {
    /// The user id of `name`, or nil (nginx: `getpwnam("name") failed`).
    public static func userID(_ name: String) -> UInt32? {
        guard let pw = getpwnam(name) else { return nil }
        return pw.pointee.pw_uid
    }

    /// The group id of `name`, or nil (nginx: `getgrnam("name") failed`).
    public static func groupID(_ name: String) -> UInt32? {
        guard let gr = getgrnam(name) else { return nil }
        return gr.pointee.gr_gid
    }

    /// Becomes `account` for good: the group, the account's supplementary groups, then
    /// the user; fails unless the change took (root cannot be regained).
    public static func drop(to account: Account) throws(SystemError) {
        if setgid(account.gid) < 0 { throw SystemError("setgid", errno: errno) }
        if initgroups(account.name, account.gid) < 0 { throw SystemError("initgroups", errno: errno) }
        if setuid(account.uid) < 0 { throw SystemError("setuid", errno: errno) }
        if account.uid != 0 && setuid(0) == 0 { throw SystemError("setuid", errno: EPERM) }
    }

    /// Gives `path` to `account` (temporary directories the serving process writes in).
    public static func chown(_ path: String, to account: Account) {
        _ = Glibc.chown(path, account.uid, account.gid)
    }
}

extension ProcessControl {
    /// fork(2): the child's pid in the parent, 0 in the child. Only while no thread runs.
    public static func fork() throws(SystemError) -> Int32 {
        let p = Glibc.fork()
        if p < 0 { throw SystemError("fork", errno: errno) }
        return p
    }

    /// A child that has exited, without waiting: its pid and how it ended.
    public static func reapChild() -> (pid: Int32, exitCode: Int32?, signal: Int32?)? {
        var status: Int32 = 0
        let r = waitpid(-1, &status, WNOHANG)
        if r <= 0 { return nil }
        if status & 0x7f == 0 { return (r, (status >> 8) & 0xff, nil) }
        return (r, nil, status & 0x7f)
    }

    /// Leaves the process now, without running atexit handlers (a child after fork).
    public static func exitNow(_ code: Int32) -> Never { _exit(code) }
}
