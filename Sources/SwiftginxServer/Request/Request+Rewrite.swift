// nginx's rewrite module at request time: `rewrite`, `set`, `break` and `return` run
// in configuration order at server level (before location matching) and in the chosen
// location. A rewrite with `last` (or an unflagged one that changed the URI) searches
// the locations again — counted against the 10-step cycle limit — `break` stays in the
// location, `redirect`/`permanent` (or an http(s):// replacement) answers 302/301.
// A '?' in the replacement sets new arguments and keeps the old ones after them
// unless it ends the replacement.

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxRouting

extension Request {
    enum RewriteOutcome {
        /// Go on with this location's content (or, at server level, with matching).
        case proceed
        /// The URI changed: search the locations again.
        case restart
        /// A response (return or redirect) has been produced.
        case handled
    }

    func runRewrites(_ steps: [RewriteStep], settings s: LocationSettings) -> RewriteOutcome {
        var changed = false
        if let outcome = runSteps(steps, settings: s, changed: &changed) { return outcome }
        return changed ? .restart : .proceed
    }

    /// Runs steps in order; nil when they all ran without ending the processing.
    private func runSteps(_ steps: [RewriteStep], settings s: LocationSettings, changed: inout Bool) -> RewriteOutcome?
    {
        for step in steps {
            switch step {
            case .ifBlock(let condition, let inner, let ifLocation):
                guard test(condition) else {
                    trace?.note("if (\(RouteTrace.describe(condition))): false")
                    continue
                }
                trace?.note(
                    "if (\(RouteTrace.describe(condition))): true"
                        + (ifLocation?.location == nil ? "" : ", its block's settings apply"))
                if let location = ifLocation?.location {
                    // The request now runs with the if block's settings (nginx's "if in location").
                    self.location = location
                    self.adopt(location.settings)
                }
                if let outcome = runSteps(inner, settings: s, changed: &changed) { return outcome }
            case .set(let name, let value):
                self.customVariables[name] = evaluate(value)
                trace?.note("set $\(name) = \"\(String(decoding: self.customVariables[name] ?? [], as: UTF8.self))\"")
            case .breakProcessing:
                trace?.note("break")
                return .proceed
            case .returnAction(let r):
                performReturn(r, settings: s)
                return .handled
            case .rewrite(let regex, let replacement, let flag):
                guard let captures = self.uri.withUnsafeBytes({ regex.match($0) }) else {
                    trace?.note("rewrite \(regex.pattern): does not match")
                    if s.rewriteLog {
                        worker.state.errorLog.log(
                            .notice,
                            "\"\(regex.pattern)\" does not match \"\(String(decoding: self.uri, as: UTF8.self))\""
                                + clientSuffix(), connection: connectionNumber)
                    }
                    continue
                }
                self.captureRegex = regex
                self.captureSubject = self.uri
                self.captures = captures
                var target = evaluate(replacement)
                if s.rewriteLog {
                    worker.state.errorLog.log(
                        .notice,
                        "\"\(regex.pattern)\" matches \"\(String(decoding: self.uri, as: UTF8.self))\""
                            + clientSuffix(), connection: connectionNumber)
                }
                var args = self.args
                var hasArgs = self.hasArgs
                if let q = target.firstIndex(of: UInt8(ascii: "?")) {
                    let newArgs = Array(target[(q + 1)...])
                    let keepOld = q != target.count - 1
                    target = Array(target[..<q])
                    args = newArgs
                    if keepOld && self.hasArgs && !self.args.isEmpty {
                        args += [UInt8(ascii: "&")] + self.args
                    }
                    hasArgs = !args.isEmpty
                }
                let absolute =
                    target.starts(with: Array("http://".utf8)) || target.starts(with: Array("https://".utf8))
                if flag == .redirect || flag == .permanent || absolute {
                    var location = target
                    if hasArgs && !args.isEmpty { location += [UInt8(ascii: "?")] + args }
                    trace?.note(
                        "rewrite \(regex.pattern): matches, redirect to \(String(decoding: location, as: UTF8.self))")
                    sendRedirect(flag == .permanent ? 301 : 302, location: location, settings: s)
                    return .handled
                }
                trace?.note(
                    "rewrite \(regex.pattern): matches, URI becomes \(String(decoding: target, as: UTF8.self))"
                        + (flag == .last ? " (last: search the locations again)" : flag == .breakFlag ? " (break)" : "")
                )
                self.uri = target
                self.args = args
                self.hasArgs = hasArgs
                self.uriChanged = true
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

    /// Evaluates an `if` condition; a matching regex sets the captures ($1, named groups).
    private func test(_ condition: IfCondition) -> Bool {
        switch condition {
        case .value(let v):
            let bytes = evaluate(v)
            return !(bytes.isEmpty || bytes == [UInt8(ascii: "0")])
        case .equals(let a, let b, let negated):
            return (evaluate(a) == evaluate(b)) != negated
        case .matches(let v, let regex, let negated):
            let subject = evaluate(v)
            guard let captures = subject.withUnsafeBytes({ regex.match($0) }) else { return negated }
            if !negated {
                self.captureRegex = regex
                self.captureSubject = subject
                self.captures = captures
            }
            return !negated
        case .file(let v, let kind, let negated):
            var path = evaluate(v)
            path.append(0)
            let info = path.withUnsafeBufferPointer {
                try? FileSystem.info(path: UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
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
