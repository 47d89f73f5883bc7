// `auth_request uri` (nginx's access phase): a subrequest to `uri` decides whether the
// request goes on. Its answer's status decides as nginx's auth_request module does:
// 2xx allows (then `auth_request_set` variables are evaluated in the subrequest, so
// `$upstream_http_x_user` is the auth answer's header), 401 and 403 are answered as
// they are (a 401 passes the subrequest's WWW-Authenticate on), anything else is a
// 500 with nginx's "auth request unexpected status" line. The subrequest is header
// only: its body is dropped. While it waits for an upstream, the request suspends and
// resumes at this step when the answer is in. A namespace of functions taking the
// request, run by the phase engine.

import SwiftginxConfig
import SwiftginxRouting

enum AuthRequestHandler {
    static func run(_ r: Request, _ uriValue: ComplexValue) -> Request.StepResult {
        if let sub = r.subrequest {
            guard sub.finished else { return .suspend }
            return decide(r, sub)
        }
        var target = Variables.evaluate(r, uriValue)
        var args: [UInt8]? = nil
        if let q = target.firstIndex(of: UInt8(ascii: "?")) {
            args = Array(target[(q + 1)...])
            target = Array(target[..<q])
        }
        r.trace?.note("auth_request subrequest to \"\(String(decoding: target, as: UTF8.self))\"")
        guard let sub = r.startSubrequest(uri: target, args: args, headerOnly: true) else { return .done }
        if sub.finished { return decide(r, sub) }
        if let trace = r.trace {
            // The explainer does not connect: an upstream's answer is not known.
            trace.note(
                "auth_request: the answer comes from the upstream (2xx allows, 401/403 deny); explained as allowed")
            sub.request.releaseContent()
            r.subrequest = nil
            return .next
        }
        // Run this step again when the subrequest has answered.
        r.stepIndex -= 1
        return .suspend
    }

    /// Decides from the finished subrequest, then lets it go.
    private static func decide(_ r: Request, _ sub: Subrequest) -> Request.StepResult {
        defer {
            sub.request.writer.releaseFile()
            sub.request.releaseContent()
            r.subrequest = nil
        }
        let status = sub.status
        r.trace?.note("auth_request answered \(status)")
        if status >= 200 && status < 300 {
            if let location = r.location, !location.settings.authRequestSet.isEmpty {
                for set in location.settings.authRequestSet {
                    Variables.set(r, set.name, Variables.evaluate(sub.request, set.value))
                }
            }
            return r.accessGranted()
        }
        if status == 401 || status == 403 {
            if status == 401, let challenge = sub.header("www-authenticate") {
                r.carriedHeaders += Array("WWW-Authenticate: ".utf8) + challenge + [13, 10]
            }
            return r.denyAccess(status)
        }
        r.logError("auth request unexpected status: \(status)")
        ErrorPages.respond(r, 500)
        return .done
    }
}
