// nginx's rewrite module at request time: `rewrite`, `set`, `break` and `return` run
// in configuration order at server level (before location matching) and in the chosen
// location. A rewrite with `last` (or an unflagged one that changed the URI) searches
// the locations again — counted against the 10-step cycle limit — `break` stays in the
// location, `redirect`/`permanent` (or an http(s):// replacement) answers 302/301.
// A '?' in the replacement sets new arguments and keeps the old ones after them
// unless it ends the replacement. A namespace of functions taking the request: the
// phase engine calls `run` for the server-rewrite and rewrite phases.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

enum RewriteModule {
    enum Outcome {
        /// Go on with this location's content (or, at server level, with matching).
        case proceed
        /// The URI changed: search the locations again.
        case restart
        /// A response (return or redirect) has been produced.
        case handled
    }

    static func run(_ r: Request, _ steps: [RewriteStep], settings s: LocationSettings) -> Outcome {
        var changed = false
        if let outcome = runSteps(r, steps, settings: s, changed: &changed) { return outcome }
        return changed ? .restart : .proceed
    }

    /// Runs steps in order; nil when they all ran without ending the processing.
    private static func runSteps(
        _ r: Request, _ steps: [RewriteStep], settings s: LocationSettings, changed: inout Bool
    ) -> Outcome? {
        for step in steps {
            switch step {
            case .ifBlock(let condition, let inner, let ifLocation):
                guard test(r, condition) else {
                    r.trace?.note("if (\(RouteTrace.describe(condition))): false")
                    continue
                }
                r.trace?.note(
                    "if (\(RouteTrace.describe(condition))): true"
                        + (ifLocation?.location == nil ? "" : ", its block's settings apply"))
                if let location = ifLocation?.location {
                    // The request now runs with the if block's settings (nginx's "if in location").
                    if location.settings.pass == nil && r.location?.settings.pass != nil { r.passLost = true }
                    r.location = location
                    r.adopt(location)
                } else if s.pass == nil && r.location?.settings.pass != nil {
                    // A block of rewrite directives only: the location's own settings
                    // (without a proxy_pass) after an earlier block's.
                    r.passLost = true
                }
                if let outcome = runSteps(r, inner, settings: s, changed: &changed) { return outcome }
            case .set(let name, let value):
                if name.utf8.count == 10 && name == "limit_rate" {
                    // The response's rate, whatever location sends it (Connection/SendRate.swift).
                    r.limitRateOverride = SendRateSettings.size(Variables.evaluate(r, value)) ?? 0
                    continue
                }
                let v = Variables.evaluate(r, value)
                Variables.set(r, name, v)
                r.trace?.note("set $\(name) = \"\(String(decoding: v, as: UTF8.self))\"")
            case .breakProcessing:
                r.trace?.note("break")
                return .proceed
            case .returnAction(let action):
                ReturnHandler.perform(r, action, settings: s)
                return .handled
            case .rewrite(let regex, let replacement, let flag):
                guard let captures = r.uri.withUnsafeBytes({ regex.match($0) }) else {
                    r.trace?.note("rewrite \(regex.pattern): does not match")
                    if s.rewriteLog {
                        r.logError(
                            "\"\(regex.pattern)\" does not match \"\(String(decoding: r.uri, as: UTF8.self))\"",
                            level: .notice)
                    }
                    continue
                }
                r.captureRegex = regex
                r.captureSubject = r.uri
                r.captures = captures
                let source = replacement.source
                let redirecting =
                    flag == .redirect || flag == .permanent || source.hasPrefix("http://")
                    || source.hasPrefix("https://") || source.hasPrefix("$scheme")
                var (target, argsAt, addArgs) = expand(r, replacement, redirect: redirecting)
                if s.rewriteLog {
                    r.logError(
                        "\"\(regex.pattern)\" matches \"\(String(decoding: r.uri, as: UTF8.self))\"", level: .notice)
                }
                let absolute =
                    target.starts(with: Array("http://".utf8)) || target.starts(with: Array("https://".utf8))
                if redirecting || absolute {
                    // nginx unescapes the Location (printable bytes only) and appends the
                    // request's arguments unless the replacement ends with '?'.
                    var location = URIEscape.unescapeRedirect(target)
                    if addArgs && r.hasArgs && !r.args.isEmpty {
                        location.append(UInt8(ascii: argsAt == nil ? "?" : "&"))
                        location += r.args
                    }
                    r.trace?.note(
                        "rewrite \(regex.pattern): matches, redirect to \(String(decoding: location, as: UTF8.self))")
                    ReturnHandler.redirect(r, flag == .permanent ? 301 : 302, location: location, settings: s)
                    return .handled
                }
                var args = r.args
                var hasArgs = r.hasArgs
                if let q = argsAt {
                    args = Array(target[(q + 1)...])
                    target.removeSubrange(q...)
                    if addArgs && r.hasArgs && !r.args.isEmpty {
                        args += [UInt8(ascii: "&")] + r.args
                    }
                    hasArgs = !args.isEmpty
                } else if !addArgs {
                    args = []
                    hasArgs = false
                }
                r.trace?.note(
                    "rewrite \(regex.pattern): matches, URI becomes \(String(decoding: target, as: UTF8.self))"
                        + (flag == .last ? " (last: search the locations again)" : flag == .breakFlag ? " (break)" : "")
                )
                r.uri = target
                r.args = args
                r.hasArgs = hasArgs
                r.uriChanged = true
                changed = true
                switch flag {
                case .last: return .restart
                case .breakFlag: return .proceed
                default: continue
                }
            }
        }
        return nil
    }

    /// A rewrite's replacement evaluated as nginx's script engine does: a literal '?'
    /// starts the arguments (its offset is returned); a capture is escaped (nginx's
    /// argument table) in the arguments, or anywhere in a redirect, when the request's
    /// URI came escaped ('%' or '+' in it); a final '?' is dropped and means "do not
    /// append the request's arguments".
    private static func expand(_ r: Request, _ replacement: ComplexValue, redirect: Bool) -> (
        [UInt8], argsAt: Int?, addArgs: Bool
    ) {
        var quoted = false
        if r.head.headLength > 0 {
            for c in r.headBytes[r.head.path] where c == UInt8(ascii: "%") || c == UInt8(ascii: "+") {
                quoted = true
                break
            }
        }
        var out: [UInt8] = []
        var argsAt: Int? = nil
        for segment in replacement.segments {
            switch segment {
            case .literal(let bytes):
                if argsAt == nil, let q = bytes.firstIndex(of: UInt8(ascii: "?")) { argsAt = out.count + q }
                out += bytes
            case .variable(let v):
                let value = Variables.evaluate(r, variable: v)
                var isCapture = false
                switch v {
                case .capture, .namedCapture: isCapture = true
                default: break
                }
                if isCapture && quoted && (redirect || argsAt != nil) {
                    URIEscape.args.append(value, to: &out)
                } else {
                    out += value
                }
            }
        }
        var addArgs = true
        if replacement.source.hasSuffix("?"), out.last == UInt8(ascii: "?") {
            out.removeLast()
            addArgs = false
            if argsAt == out.count { argsAt = nil }
        }
        return (out, argsAt, addArgs)
    }

    /// Evaluates an `if` condition; a matching regex sets the captures ($1, named groups).
    private static func test(_ r: Request, _ condition: IfCondition) -> Bool {
        switch condition {
        case .value(let v):
            let bytes = Variables.evaluate(r, v)
            return !(bytes.isEmpty || bytes == [UInt8(ascii: "0")])
        case .equals(let a, let b, let negated):
            return (Variables.evaluate(r, a) == Variables.evaluate(r, b)) != negated
        case .matches(let v, let regex, let negated):
            let subject = Variables.evaluate(r, v)
            guard let captures = subject.withUnsafeBytes({ regex.match($0) }) else { return negated }
            if !negated {
                r.captureRegex = regex
                r.captureSubject = subject
                r.captures = captures
            }
            return !negated
        case .file(let v, let kind, let negated):
            var path = Variables.evaluate(r, v)
            path.append(0)
            var info = path.withUnsafeBufferPointer {
                try? FileSystem.info(path: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
            if info != nil && !r.fileTestAllowed(path) { info = nil }  // disable_symlinks
            let result: Bool
            switch kind {
            case .file: result = info?.isRegular == true
            case .directory: result = info?.isDirectory == true
            case .exists: result = info != nil
            case .executable: result = info != nil && FileSystem.isExecutable(path)
            }
            return result != negated
        }
    }
}
