// nginx's access module (`allow` / `deny`) in the access phase: the location's rules
// are checked in order and the first one that covers the client's address decides;
// when none does, the module declines (the request goes on, but under `satisfy any`
// another module must still allow it), as nginx's does. A denial is nginx's 403 with its error-log line
// "access forbidden by rule". With `satisfy any` a denial is only remembered (see
// Request.denyAccess): another access module allowing the request is enough.

import SwiftginxConfig
import SwiftginxPosix

enum AccessHandler {
    static func run(_ r: Request) -> Request.StepResult {
        guard let rules = r.location?.settings.accessRules, !rules.isEmpty else { return .next }
        let allowed: Bool? = r.peer.withAddressBytes { raw in
            for rule in rules where rule.covers(raw) { return rule.allow }
            return nil
        }
        if allowed == false {
            r.trace?.note("access: forbidden by rule (403)")
            r.logError("access forbidden by rule")
            return r.denyAccess(403)
        }
        guard allowed == true else {
            // No rule covers the client: the module declines (nginx's NGX_DECLINED), which
            // lets the request through but does not satisfy `satisfy any` by itself.
            r.trace?.note("access: no rule covers the client")
            return .next
        }
        r.trace?.note("access: allowed by rule")
        return r.accessGranted()
    }
}

extension Request {
    /// An access module allowed the request: with `satisfy any` the rest of the access
    /// phase is skipped (nginx's NGX_OK there); with `satisfy all` the next one checks.
    func accessGranted() -> StepResult {
        guard let location, location.settings.satisfyAny else { return .next }
        accessCode = 0
        // A challenge an earlier module added is not sent with an allowed answer (nginx
        // disables the WWW-Authenticate header here).
        if !carriedHeaders.isEmpty { dropCarriedHeader(Self.wwwAuthenticate) }
        return .nextPhase
    }

    private static let wwwAuthenticate = Array("www-authenticate".utf8)

    /// Removes every `name` line from the header lines carried to the response.
    func dropCarriedHeader(_ lowercasedName: [UInt8]) {
        var kept: [UInt8] = []
        carriedHeaders.withUnsafeBytes { bytes in
            ResponseHeadScan.forEachLine(in: bytes) { line, colon in
                let name = bytes[line.lowerBound..<(colon ?? line.upperBound)]
                if !asciiCaseEqual(name, lowercasedName) { kept += bytes[line.lowerBound..<(line.upperBound + 2)] }
            }
        }
        carriedHeaders = kept
    }

    /// An access module denied the request with `status` (401 or 403): answered at once
    /// with `satisfy all`; with `satisfy any` remembered (a 401 wins over a 403, so the
    /// client is asked for credentials) until the post-access step.
    func denyAccess(_ status: Int) -> StepResult {
        guard let location, location.settings.satisfyAny else {
            return refuse(status)
        }
        if accessCode != 401 { accessCode = status }
        return .next
    }

    /// After the access phase with `satisfy any`: no module allowed the request.
    func postAccess() -> StepResult {
        guard accessCode != 0 else { return .next }
        let status = accessCode
        accessCode = 0
        trace?.note("satisfy any: no access module allowed the request (\(status))")
        return refuse(status)
    }

    /// Answers an access denial; a 401 waits `auth_delay` first (as nginx, against
    /// timing attacks on passwords).
    private func refuse(_ status: Int) -> StepResult {
        if status == 401 || status == 407, let delay = location?.settings.authDelay, delay > 0, trace == nil {
            logInfo("delaying unauthorized request")
            activate(.delayedStatus(status))
            schedule(after: delay)
            return .done
        }
        ErrorPages.respond(self, status)
        return .done
    }
}
