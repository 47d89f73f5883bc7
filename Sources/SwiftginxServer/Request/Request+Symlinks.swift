// `disable_symlinks` for the file tests other than serving a file: `try_files`
// candidates and `if (-f ...)`-style conditions open the path under the same rule as the
// static handler, as nginx's open file cache does for all of them, so a refused symbolic
// link counts as a missing file (logged at `crit`, as nginx logs the failed open).

import SwiftginxConfig
import SwiftginxPosix

extension Request {
    /// Why the location's `disable_symlinks` refuses `path` (no NUL), or nil.
    func symlinkViolation(_ path: [UInt8], settings s: LocationSettings) -> SystemError? {
        guard s.disableSymlinks != .off else { return nil }
        var skip = 0
        if let from = s.disableSymlinksFrom {
            let f = evaluate(from)
            if path.starts(with: f) { skip = f.count }
        }
        return FileSystem.symlinkViolation(path, skip: skip, ifNotOwner: s.disableSymlinks == .ifNotOwner)
    }

    /// True when `path` (NUL-terminated or not) may be tested; logs the refusal otherwise.
    func fileTestAllowed(_ path: [UInt8]) -> Bool {
        guard let s = location?.settings, s.disableSymlinks != .off else { return true }
        let plain = path.last == 0 ? Array(path.dropLast()) : path
        guard let e = symlinkViolation(plain, settings: s) else { return true }
        logError(
            "open() \"\(String(decoding: plain, as: UTF8.self))\" failed (\(e.errno): \(SystemError.message(e.errno)))",
            level: .crit)
        return false
    }
}
