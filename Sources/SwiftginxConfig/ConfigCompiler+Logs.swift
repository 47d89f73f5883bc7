// The log module's directives and `error_log` below the main context: `log_format`
// (escape=default|json|none), `access_log path [format [buffer=size] [gzip[=level]]
// [flush=time] [if=condition]]` or `off` (a path may hold variables; then the file is
// opened per line, through `open_log_file_cache` when set), `open_log_file_cache`, and
// `error_log file [level]` in http, server and location (a level with its own list
// replaces its parent's; with none, the main context's logs are used). Every fixed path
// is collected so that the server opens each file once.

import SwiftginxRouting

/// A level's log settings beyond the access log targets.
public struct LogSettings: Sendable {
    /// `error_log` of http, server or location (empty: the main context's).
    public var errorLogs: [ErrorLogTarget] = []
    /// `open_log_file_cache` for access logs with variables in their path (nil: off).
    public var openLogFileCache: OpenLogFileCacheSettings? = nil
    public init() {}
}

/// `open_log_file_cache max=N [inactive=time] [min_uses=N] [valid=time]`.
public struct OpenLogFileCacheSettings: Sendable {
    public var max: Int
    /// Milliseconds.
    public var inactive = 10_000
    public var minUses = 1
    /// Milliseconds.
    public var valid = 60_000
    public init(max: Int) { self.max = max }
}

extension ConfigCompiler {
    /// Handles the log directives; false for any other.
    func logDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "access_log": try accessLog(d, level: level)
        case "log_format": try logFormat(d)
        case "open_log_file_cache": try openLogFileCache(d, level: level)
        case "error_log":
            let target = try errorLog(d)
            if target.path != "stderr" && target.syslog == nil && !accessLogPaths.contains(target.path) {
                accessLogPaths.append(target.path)
            }
            level.errorLogs = (level.errorLogs ?? []) + [target]
        default: return false
        }
        return true
    }

    private func accessLog(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        let path = d.args[0]
        if path == "off" {
            if d.args.count > 1 { throw d.error("invalid parameter \"\(d.args[1])\"") }
            level.accessLogOff = true
            return
        }
        var syslog: SyslogTarget? = nil
        if path.hasPrefix("syslog:") {
            syslog = try syslogTarget(String(path.dropFirst(7)), d)
        }
        let formatName = d.args.count >= 2 ? d.args[1] : "combined"
        guard let format = logFormats[formatName] else { throw d.error("unknown log format \"\(formatName)\"") }
        var buffer = 0
        var flush: Int? = nil
        var gzip = 0
        var condition: ComplexValue? = nil
        for p in d.args.dropFirst(2) {
            if p.hasPrefix("buffer=") {
                guard let size = ConfigValues.size(String(p.dropFirst(7))), size > 0 else {
                    throw d.error("invalid buffer size \"\(p.dropFirst(7))\"")
                }
                buffer = size
            } else if p.hasPrefix("flush=") {
                guard let t = ConfigValues.time(String(p.dropFirst(6)), isSeconds: false), t > 0 else {
                    throw d.error("invalid flush time \"\(p.dropFirst(6))\"")
                }
                flush = t
            } else if p == "gzip" {
                gzip = 1
            } else if p.hasPrefix("gzip=") {
                guard let n = Int(p.dropFirst(5)), n >= 1 && n <= 9 else {
                    throw d.error("invalid compression level \"\(p.dropFirst(5))\"")
                }
                gzip = n
            } else if p.hasPrefix("if=") {
                condition = try value(String(p.dropFirst(3)), d)
            } else {
                throw d.error("invalid parameter \"\(p)\"")
            }
        }
        // nginx: gzip and flush need a buffer (64k by default).
        if (flush != nil || gzip > 0) && buffer == 0 { buffer = 64 * 1024 }
        if let syslog {
            let target = AccessLogTarget(
                path: path, format: format, bufferSize: 0, condition: condition, syslog: syslog)
            level.accessLogs = (level.accessLogs ?? []) + [target]
            return
        }
        let pathValue = try value(path, d)
        let dynamic = pathValue.segments.contains { if case .variable = $0 { true } else { false } }
        let full = dynamic ? path : fullPath(path)
        let target = AccessLogTarget(
            path: full, format: format, bufferSize: dynamic ? 0 : buffer, flushInterval: dynamic ? nil : flush,
            gzipLevel: dynamic ? 0 : gzip, condition: condition,
            pathValue: dynamic ? try value(path.hasPrefix("/") ? path : prefix + path, d) : nil)
        level.accessLogs = (level.accessLogs ?? []) + [target]
    }

    /// A `syslog:` target with its server's name resolved now (as nginx resolves it
    /// when it reads the configuration), so that sending never waits for a resolver.
    func syslogTarget(_ text: String, _ d: ConfigDirective) throws(ConfigError) -> SyslogTarget {
        var t: SyslogTarget
        switch SyslogTarget.parse(text) {
        case .success(let parsed): t = parsed
        case .failure(let e): throw d.error(e.message)
        }
        if t.unixPath == nil {
            guard let address = environment.resolve(t.host)?.first else {
                throw d.error("host not found in syslog server \"\(t.host)\"")
            }
            t.host = address
        }
        return t
    }

    private func logFormat(_ d: ConfigDirective) throws(ConfigError) {
        let name = d.args[0]
        if logFormats[name] != nil { throw d.error("duplicate \"log_format\" name \"\(name)\"") }
        var parts = d.args.dropFirst()
        var escape = LogEscape.default
        if let first = parts.first, first.hasPrefix("escape=") {
            switch first.dropFirst(7) {
            case "default": escape = .default
            case "json": escape = .json
            case "none": escape = .none
            default: throw d.error("unknown log format escaping \"\(first.dropFirst(7))\"")
            }
            parts = parts.dropFirst()
        }
        logFormats[name] = LogFormat(name: name, value: try value(parts.joined(), d), escape: escape)
    }

    private func openLogFileCache(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        if d.args == ["off"] {
            level.setters.append { $0.logs.openLogFileCache = nil }
            return
        }
        var settings = OpenLogFileCacheSettings(max: 0)
        for p in d.args {
            let invalid = d.error("invalid \"open_log_file_cache\" parameter \"\(p)\"")
            if p.hasPrefix("max=") {
                guard let n = ConfigValues.number(String(p.dropFirst(4))), n > 0 else { throw invalid }
                settings.max = n
            } else if p.hasPrefix("inactive=") {
                guard let t = ConfigValues.time(String(p.dropFirst(9)), isSeconds: true) else { throw invalid }
                settings.inactive = t * 1000
            } else if p.hasPrefix("min_uses=") {
                guard let n = ConfigValues.number(String(p.dropFirst(9))), n > 0 else { throw invalid }
                settings.minUses = n
            } else if p.hasPrefix("valid=") {
                guard let t = ConfigValues.time(String(p.dropFirst(6)), isSeconds: true) else { throw invalid }
                settings.valid = t * 1000
            } else {
                throw invalid
            }
        }
        if settings.max == 0 { throw d.error("\"open_log_file_cache\" must have \"max\" parameter") }
        let s = settings
        level.setters.append { $0.logs.openLogFileCache = s }
    }
}
