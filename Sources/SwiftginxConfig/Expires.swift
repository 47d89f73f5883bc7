// `expires [modified] time|epoch|max|off|@time` as compiled, and nginx's parsing of
// its value — done once at configuration time, or per response when the value has
// variables (popular configurations choose it with a `map` on
// `$sent_http_content_type`); an invalid value at run time adds nothing, as in nginx.

import SwiftginxRouting

/// `expires`.
public enum Expires: Sendable, Equatable {
    case off
    case epoch
    case max
    /// Seconds after the time of the request (negative allowed → `no-cache`).
    case access(Int)
    /// Seconds after the file's modification time.
    case modified(Int)
    /// `expires @15h30m`: the next occurrence of this time of day (seconds after midnight).
    case daily(Int)
    /// A value with variables, parsed per response (`modified`: after the file's time).
    case variable(ComplexValue, modified: Bool)

    /// `expires off` (tested without the derived `==`, which copies a `.variable` payload).
    @inlinable
    public var isOff: Bool {
        if case .off = self { return true }
        return false
    }

    /// Counted from the modification time (`expires modified ...`).
    public var usesModifiedTime: Bool {
        switch self {
        case .modified, .variable(_, modified: true): true
        default: false
        }
    }

    /// nginx's ngx_http_parse_expires: the value, or nginx's error message.
    public static func parse(_ text: String, modified: Bool) -> Result<Expires, ExpiresError> {
        if !modified {
            switch text {
            case "epoch": return .success(.epoch)
            case "max": return .success(.max)
            case "off": return .success(.off)
            default: break
            }
        }
        var body = Substring(text)
        if body.hasPrefix("@") {
            if modified { return .failure(ExpiresError("daily time cannot be used with \"modified\" parameter")) }
            guard let t = ConfigValues.time(String(body.dropFirst()), isSeconds: true) else {
                return .failure(ExpiresError("invalid value"))
            }
            if t > 24 * 60 * 60 { return .failure(ExpiresError("daily time value must be less than 24 hours")) }
            return .success(.daily(t))
        }
        var sign = 1
        if body.hasPrefix("+") {
            body = body.dropFirst()
        } else if body.hasPrefix("-") {
            body = body.dropFirst()
            sign = -1
        }
        guard let t = ConfigValues.time(String(body), isSeconds: true) else {
            return .failure(ExpiresError("invalid value"))
        }
        return .success(modified ? .modified(sign * t) : .access(sign * t))
    }
}

/// Why an `expires` value is refused (nginx's words).
public struct ExpiresError: Error, Sendable, Equatable {
    public let message: String
    init(_ message: String) { self.message = message }
}
