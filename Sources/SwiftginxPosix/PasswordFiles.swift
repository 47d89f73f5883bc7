// What auth_basic needs from the system: reading a password file per request (open +
// pread, with nginx's call names in errors) and libc's crypt_r(3) (libxcrypt: $1$,
// $5$, $6$, bcrypt $2y$/$2b$, yescrypt, DES).

import CSwiftginxShims
import Glibc

public enum PasswordFiles {
    /// The whole file at `path` (blocking, as nginx reads it in the request); the error
    /// names `open` or `pread`.
    public static func read(_ path: [UInt8]) throws(SystemError) -> [UInt8] {
        let fd = try path.withUnsafeBufferPointer { p throws(SystemError) -> Int32 in
            var cpath = [CChar](repeating: 0, count: p.count + 1)
            for i in 0..<p.count { cpath[i] = CChar(bitPattern: p[i]) }
            return try syscall("open", Glibc.open(cpath, O_RDONLY | O_CLOEXEC))
        }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let offset = off_t(out.count)
            let n = try syscall(
                "pread", chunk.withUnsafeMutableBytes { Glibc.pread(fd, $0.baseAddress, $0.count, offset) })
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    /// crypt_r(3) of `key` with `setting` (a stored hash); nil when the library fails.
    /// Both are C strings: a NUL byte ends them, as in nginx.
    public static func crypt(key: [UInt8], setting: [UInt8]) -> [UInt8]? {
        let size = swiftginx_crypt_data_size()
        let data = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        defer { data.deallocate() }
        let k = key.map { CChar(bitPattern: $0) } + [0]
        let s = setting.map { CChar(bitPattern: $0) } + [0]
        guard let r = swiftginx_crypt_r(k, s, data) else { return nil }
        return Array(UnsafeRawBufferPointer(start: r, count: strlen(r)))
    }
}
