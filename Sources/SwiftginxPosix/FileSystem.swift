// File calls used by static serving, logs and the pid file: open/fstat/close,
// whole-file writes, and appending log files that can be reopened in place.

import Glibc

/// What the static handler needs from `fstat`.
public struct FileInfo: Sendable {
    public var size: Int64
    public var mtime: Int
    public var isDirectory: Bool
    public var isRegular: Bool
    public var inode: UInt64
    public var device: UInt64
    /// Nanosecond parts and the change time: together they tell whether a file
    /// changed since it was last looked at (a write, a chmod, a replacement).
    public var mtimeNanos: Int
    public var ctime: Int
    public var ctimeNanos: Int

    /// True when both describe the same unchanged file.
    @inlinable public func sameVersion(as o: FileInfo) -> Bool {
        inode == o.inode && device == o.device && size == o.size && mtime == o.mtime && mtimeNanos == o.mtimeNanos
            && ctime == o.ctime && ctimeNanos == o.ctimeNanos && isRegular == o.isRegular
    }
}

public enum FileSystem {
    /// Opens a file read-only (non-blocking, close-on-exec).
    @inline(__always)
    public static func openReadOnly(_ path: UnsafePointer<CChar>) throws(SystemError) -> Int32 {
        try syscall("open", Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC))
    }

    @inline(__always)
    public static func info(_ fd: Int32) throws(SystemError) -> FileInfo {
        var st = stat()
        _ = try syscall("fstat", fstat(fd, &st))
        return FileInfo(st)
    }

    /// `stat` of a path (follows links).
    public static func info(path: UnsafePointer<CChar>) throws(SystemError) -> FileInfo {
        var st = stat()
        _ = try syscall("stat", stat(path, &st))
        return FileInfo(st)
    }

    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// Reads up to `count` bytes at `offset` (a file region sent through TLS without kTLS).
    @inline(__always)
    public static func pread(_ fd: Int32, into buf: UnsafeMutableRawPointer, count: Int, offset: Int64)
        throws(SystemError) -> IOResult<Int>
    {
        try syscallIO("pread") { Glibc.pread(fd, buf, count, off_t(offset)) }
    }

    /// Reads exactly `count` bytes at `offset` (a regular file); false on error or a short file.
    public static func readFully(_ fd: Int32, into buf: UnsafeMutableRawPointer, count: Int, offset: Int64) -> Bool {
        var done = 0
        while done < count {
            let n = Glibc.pread(fd, buf + done, count - done, off_t(offset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Opens (creating) a file for appending, as logs are.
    public static func openAppend(_ path: String) throws(SystemError) -> Int32 {
        try syscall("open", Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644))
    }

    /// Writes all bytes (blocking descriptor), retrying short writes.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            off += n
        }
    }

    /// Replaces a file's contents (the pid file).
    public static func writeFile(_ path: String, _ text: String) throws(SystemError) {
        let fd = try syscall("open", Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644))
        defer { Glibc.close(fd) }
        var t = text
        t.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
    }

    /// Reads a whole small file, or nil.
    public static func readFile(_ path: String) -> [UInt8]? { try? readWholeFile(path) }

    /// Reads a whole file (blocking: configuration, certificates, pid files); the error
    /// names the call that failed, `open` or `read`.
    public static func readWholeFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { Glibc.close(fd) }
        return try readAll(fd)
    }

    /// Opens a file read-only and blocking (configuration, certificates), close-on-exec.
    public static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        try syscall("open", Glibc.open(path, O_RDONLY | O_CLOEXEC))
    }

    /// Reads `fd` from its current offset to the end.
    public static func readAll(_ fd: Int32) throws(SystemError) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", errno: errno)
            }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// The paths matching a shell pattern, sorted (glob(3)); no match is an empty list.
    public static func glob(_ pattern: String) throws(SystemError) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        let rc = Glibc.glob(pattern, 0, nil, &g)
        if rc == GLOB_NOMATCH { return [] }
        // glob(3) reports no errno of its own; the one left by the failing call is the reason.
        if rc != 0 { throw SystemError("glob", errno: errno) }
        var paths: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return paths
    }

    /// Opens `path` for appending and puts it in place of `fd` (dup2), so a log file is
    /// reopened after rotation under the same descriptor number its writers hold.
    public static func reopenAppend(_ path: String, onto fd: Int32) throws(SystemError) {
        let nfd = try openAppend(path)
        defer { Glibc.close(nfd) }
        try replace(fd, with: nfd)
    }

    /// Puts the file open as `source` in place of `fd` (dup2); `source` stays open.
    public static func replace(_ fd: Int32, with source: Int32) throws(SystemError) {
        _ = try syscall("dup2", Glibc.dup2(source, fd))
    }

    /// The working directory, or nil when it cannot be named (getcwd).
    public static func currentDirectory() -> String? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func unlink(_ path: String) { _ = Glibc.unlink(path) }

    /// Creates a directory if it does not exist.
    public static func makeDirectory(_ path: String) { _ = mkdir(path, 0o755) }

    /// Creates a directory only its owner may use (0700) if it does not exist.
    public static func makePrivateDirectory(_ path: String) { _ = mkdir(path, 0o700) }

    /// Creates a new file for reading and writing (mode 0600, never an existing one: nil
    /// when `path` exists). When its directory is missing, `directories` (outermost first)
    /// are created (0700) and the file is tried again, as nginx does for temporary files.
    public static func createNew(_ path: String, directories: [String] = []) throws(SystemError) -> Int32? {
        let flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC
        var fd = Glibc.open(path, flags, 0o600)
        if fd < 0 && errno == ENOENT && !directories.isEmpty {
            for dir in directories { _ = mkdir(dir, 0o700) }
            fd = Glibc.open(path, flags, 0o600)
        }
        if fd < 0 {
            if errno == EEXIST { return nil }
            throw SystemError("open", errno: errno)
        }
        return fd
    }
}

extension FileInfo {
    init(_ st: stat) {
        size = Int64(st.st_size)
        mtime = Int(st.st_mtim.tv_sec)
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
        inode = UInt64(st.st_ino)
        device = UInt64(st.st_dev)
        mtimeNanos = Int(st.st_mtim.tv_nsec)
        ctime = Int(st.st_ctim.tv_sec)
        ctimeNanos = Int(st.st_ctim.tv_nsec)
    }
}

/// One directory entry for listings.
public struct DirectoryEntry: Sendable {
    public let name: [UInt8]
    public let info: FileInfo
}

extension FileSystem {
    /// The entries of a directory except "." and ".." (and, when `skipHidden`, names
    /// starting with "."), each with its stat() (entries that vanish are skipped).
    public static func listDirectory(_ path: [UInt8], skipHidden: Bool) throws(SystemError) -> [DirectoryEntry] {
        var cpath = path
        cpath.append(0)
        let dir: OpaquePointer? = cpath.withUnsafeBufferPointer {
            opendir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self))
        }
        guard let dir else { throw SystemError("opendir", errno: errno) }
        defer { closedir(dir) }
        let dirFD = dirfd(dir)
        var out: [DirectoryEntry] = []
        while let ent = readdir(dir) {
            let name: [UInt8] = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name == [46] || name == [46, 46] { continue }
            if skipHidden && name.first == 46 { continue }
            var st = stat()
            let r = name.withUnsafeBufferPointer { n -> Int32 in
                var z = Array(n)
                z.append(0)
                return z.withUnsafeBufferPointer {
                    fstatat(dirFD, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &st, 0)
                }
            }
            if r != 0 { continue }
            out.append(DirectoryEntry(name: name, info: FileInfo(st)))
        }
        return out
    }
}

extension FileSystem {
    /// Why a path is refused by `disable_symlinks`, or nil when it may be served:
    /// every component after the first `skip` bytes is lstat()ed; a symbolic link is
    /// refused, or with `ifNotOwner` only when the link's owner differs from its target's.
    public static func symlinkViolation(_ path: [UInt8], skip: Int, ifNotOwner: Bool) -> SystemError? {
        // Components inside the first `skip` bytes (the from= part, itself included) are trusted.
        var i = skip > 0 ? skip + 1 : 1
        while i <= path.count {
            if i == path.count || path[i] == UInt8(ascii: "/") {
                var prefix = Array(path[0..<i])
                prefix.append(0)
                var st = stat()
                let r = prefix.withUnsafeBufferPointer {
                    lstat(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &st)
                }
                if r != 0 { return nil }  // a missing component is the open()'s business
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    if !ifNotOwner { return SystemError("open", errno: ELOOP) }
                    var target = stat()
                    let t = prefix.withUnsafeBufferPointer {
                        stat(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &target)
                    }
                    if t != 0 || target.st_uid != st.st_uid { return SystemError("open", errno: EACCES) }
                }
            }
            i += 1
        }
        return nil
    }
}

extension FileSystem {
    /// access(X_OK) on a NUL-terminated path (`if (-x ...)`).
    public static func isExecutable(_ cpath: [UInt8]) -> Bool {
        cpath.withUnsafeBufferPointer {
            access(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), X_OK) == 0
        }
    }
}
