// Status lines and nginx's built-in error pages. The reason phrases are nginx's own (they
// differ from RFC 9110 in places: "302 Moved Temporarily", "405 Not Allowed", "408 Request
// Time-out", "413 Request Entity Too Large", "414 Request-URI Too Large", "416 Requested
// Range Not Satisfiable", "503 Service Temporarily Unavailable", "504 Gateway Time-out").
// Codes nginx has no phrase for get a status line with an empty reason ("HTTP/1.1 422 ").
// Status lines are built once into a table; error pages are assembled on the error path.

/// Status lines, reason phrases and nginx-style error page bodies.
public enum HTTPStatus {
    /// nginx's reason phrase for `code`, or "" when nginx sends none.
    public static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 100: return "Continue"
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 201: return "Created"
        case 202: return "Accepted"
        case 204: return "No Content"
        case 206: return "Partial Content"
        case 301: return "Moved Permanently"
        case 302: return "Moved Temporarily"
        case 303: return "See Other"
        case 304: return "Not Modified"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 402: return "Payment Required"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Not Allowed"
        case 406: return "Not Acceptable"
        case 408: return "Request Time-out"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 411: return "Length Required"
        case 412: return "Precondition Failed"
        case 413: return "Request Entity Too Large"
        case 414: return "Request-URI Too Large"
        case 415: return "Unsupported Media Type"
        case 416: return "Requested Range Not Satisfiable"
        case 421: return "Misdirected Request"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Temporarily Unavailable"
        case 504: return "Gateway Time-out"
        case 505: return "HTTP Version Not Supported"
        case 507: return "Insufficient Storage"
        default: return ""
        }
    }

    private static let lines: [[UInt8]] = (0..<600).map { code in
        guard code >= 100 else { return [] }
        return Array("HTTP/1.1 \(code) \(reasonPhrase(code))\r\n".utf8)
    }

    /// "HTTP/1.1 404 Not Found\r\n" (from a table for 100...599).
    public static func statusLine(_ code: Int) -> [UInt8] {
        if code >= 100 && code < 600 { return lines[code] }
        return Array("HTTP/1.1 \(code) \r\n".utf8)
    }

    /// The `<title>`/`<h1>` text of nginx's error page for `code`, nil when nginx has none.
    static func pageTitle(_ code: Int) -> String? {
        switch code {
        case 302: return "302 Found"
        // nginx's page says what the status line does not.
        case 401: return "401 Authorization Required"
        case 301, 303, 307, 308, 400...406, 408...416, 421, 429, 500...505, 507:
            return "\(code) \(reasonPhrase(code))"
        case 494: return "400 Request Header Or Cookie Too Large"
        case 495: return "400 The SSL certificate error"
        case 496: return "400 No required SSL certificate was sent"
        case 497: return "400 The plain HTTP request was sent to HTTPS port"
        default: return nil
        }
    }

    /// nginx's built-in error page for `code` (494–497 are the 400 variants), ending with
    /// the server signature (`server_tokens`: "nginx/1.31.5", "nginx", or with the build name).
    /// nil for codes nginx answers without a body (1xx, 2xx, 304) or has no page for.
    public static func errorPageBody(_ code: Int, signature: String) -> [UInt8]? {
        guard let title = pageTitle(code) else { return nil }
        var s = "<html>\r\n<head><title>\(title)</title></head>\r\n<body>\r\n"
        if code >= 494 && code <= 497 {
            s += "<center><h1>400 Bad Request</h1></center>\r\n"
            s += "<center>\(title.dropFirst(4))</center>\r\n"
        } else {
            s += "<center><h1>\(title)</h1></center>\r\n"
        }
        s += "<hr><center>\(signature)</center>\r\n"
        s += "</body>\r\n</html>\r\n"
        return Array(s.utf8)
    }
}
