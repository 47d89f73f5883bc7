// The log module's compiled values: `log_format` (with its escaping), an
// `access_log` target (file, path with variables or syslog, buffer, gzip, flush,
// condition) and an `error_log` target (file, stderr or syslog, and its level). The
// directives are parsed in ConfigCompiler+Logs.swift.

import SwiftginxRouting

/// A compiled `log_format`.
public final class LogFormat: Sendable {
    public let name: String
    public let value: ComplexValue
    /// `escape=default|json|none`.
    public let escape: LogEscape
    public init(name: String, value: ComplexValue, escape: LogEscape) {
        self.name = name
        self.value = value
        self.escape = escape
    }
}

public enum LogEscape: Sendable { case `default`, json, none }

/// An `access_log` target.
public struct AccessLogTarget: Sendable {
    /// Absolute path.
    public let path: String
    public let format: LogFormat
    /// `buffer=size` (0 = each line written when the request ends, as nginx).
    public let bufferSize: Int
    /// `flush=time` in milliseconds (nil when not given).
    public let flushInterval: Int?
    /// `gzip[=level]` (0: none): each flushed buffer is written as a gzip member.
    public let gzipLevel: Int
    /// `if=condition`: no line when it is empty or "0".
    public let condition: ComplexValue?
    /// A path with variables (then `path` is its text), opened per line.
    public let pathValue: ComplexValue?
    /// `syslog:...` (then `path` is its text): each line is sent as a datagram.
    public let syslog: SyslogTarget?
    public init(
        path: String, format: LogFormat, bufferSize: Int, flushInterval: Int? = nil, gzipLevel: Int = 0,
        condition: ComplexValue? = nil, pathValue: ComplexValue? = nil, syslog: SyslogTarget? = nil
    ) {
        self.syslog = syslog
        self.path = path
        self.format = format
        self.bufferSize = bufferSize
        self.flushInterval = flushInterval
        self.gzipLevel = gzipLevel
        self.condition = condition
        self.pathValue = pathValue
    }
}

/// An `error_log` target: an absolute path, "stderr" or a `syslog:` text (then
/// `syslog` is set), and the minimum level.
public struct ErrorLogTarget: Sendable, Equatable {
    public let path: String
    public let level: LogLevel
    public let syslog: SyslogTarget?
    public init(path: String, level: LogLevel, syslog: SyslogTarget? = nil) {
        self.path = path
        self.level = level
        self.syslog = syslog
    }
}
