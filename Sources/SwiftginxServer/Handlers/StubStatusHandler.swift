// `stub_status` (nginx's ngx_http_stub_status_module): a content handler answering
// with the connection and request counts of every worker, in nginx's exact bytes —
// trailing spaces included, since monitoring agents parse them — as text/plain.
// GET and HEAD only (others get 405, as nginx). The counts come from each worker's
// `ConnectionStats`, summed; `$connections_*` read the same sum (Variables.swift).

import SwiftginxConfig

enum StubStatusHandler {
    static func serve(_ r: Request, settings: LocationSettings) {
        let method = r.errorPageUsed && r.head.method != .head ? .get : r.head.method
        if method != .get && method != .head {
            r.keepAlive = r.keepAlive && !r.bodyPending
            r.respondError(405)
            return
        }
        let body = Array(page(r.worker.state.connectionCounts).utf8)
        r.status = 200
        r.beginHead(200)
        let b = r.appendMemoryBodyHeaders(body, type: "text/plain", status: 200, settings: settings)
        r.finishHead(settings: settings)
        if !r.isHeadOnly { r.appendBody(b) }
        r.flushResponse()
    }

    /// nginx's page, byte for byte.
    static func page(_ c: ConnectionCounts) -> String {
        "Active connections: \(c.active) \nserver accepts handled requests\n \(c.accepts) \(c.handled) \(c.requests) \n"
            + "Reading: \(c.reading) Writing: \(c.writing) Waiting: \(c.waiting) \n"
    }
}
