// The file operations the HTTP cache needs beyond the static path's: publishing a
// finished entry by rename (atomic on one file system, so a reader sees the old entry
// or the whole new one, never a part), creating the levels' directories, and the free
// space of the cache's file system (`min_free`).

import Glibc

extension FileSystem {
    /// Renames `from` to `to`, replacing `to`; false on failure (errno kept).
    public static func rename(_ from: String, to: String) -> Bool {
        Glibc.rename(from, to) == 0
    }

    /// Creates `path` and its missing parents (mode 0700, as nginx's cache directories).
    public static func makeDirectories(_ path: String) {
        if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
        makeDirectories(String(path[..<slash]))
        _ = mkdir(path, 0o700)
    }

    /// Bytes available to unprivileged users on the file system holding `path`, or nil.
    public static func availableSpace(_ path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    /// Opens an existing file read-only by name (close-on-exec), or nil.
    public static func openExisting(_ path: String) -> Int32? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        return fd < 0 ? nil : fd
    }
}

extension FileSystem {
    /// Opens an existing file for writing in place (an entry's header rewritten).
    public static func createOrOpenForWriting(_ path: String) throws(SystemError) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError("open", errno: errno) }
        return fd
    }
}
