// The file access configuration loading needs, with Glibc only: reading a whole file,
// expanding an include glob (sorted, as glob(3) does), and path helpers. Errors use
// nginx's wording: `open() "/x/y" failed (2: No such file or directory)`.

#if canImport(Glibc)
    import Glibc
#endif

enum ConfigFiles {
    /// The whole file, or nginx's `open() "path" failed (errno: text)` message.
    static func read(_ path: String) -> Result<[UInt8], ConfigError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(ConfigError(systemError("open() \"\(path)\" failed", errno))) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(ConfigError(systemError("read() \"\(path)\" failed", errno)))
            }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return .success(out)
    }

    /// `call (errno: strerror)`, as nginx prints system errors.
    static func systemError(_ call: String, _ code: Int32) -> String {
        "\(call) (\(code): \(String(cString: strerror(code))))"
    }

    /// Paths matching a glob pattern, sorted; no match is an empty list (nginx's include).
    static func glob(_ pattern: String) -> Result<[String], ConfigError> {
        var g = glob_t()
        defer { globfree(&g) }
        let rc = Glibc.glob(pattern, 0, nil, &g)
        if rc == GLOB_NOMATCH { return .success([]) }
        if rc != 0 { return .failure(ConfigError(systemError("glob() \"\(pattern)\" failed", errno))) }
        var paths: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        return .success(paths)
    }

    static func isGlob(_ path: String) -> Bool { path.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" }) }

    /// `path` if absolute, else `base` + `path` (`base` ends in "/").
    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// The directory of a file path, with a trailing "/".
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "./" }
        return String(path[...slash])
    }

    /// Number of online CPUs (for `worker_processes auto`).
    static func onlineCPUs() -> Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The machine's host name (for `server_name $hostname`).
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func isSuperuser() -> Bool { geteuid() == 0 }
}
