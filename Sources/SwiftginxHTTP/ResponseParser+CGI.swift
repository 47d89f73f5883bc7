// The CGI flavour of response heads, as nginx reads what FastCGI, SCGI and uwsgi
// applications answer: header lines with no status line (FastCGI), or an optional
// `HTTP/1.x` status line before them (SCGI, uwsgi: anything that does not start like
// one is a CGI head from its first byte). Without a status line the status comes from
// the `Status` field ("404 Not Found", "404": its first three bytes must be digits, the
// rest is the reason phrase), else 302 when a `Location` field came, else 200. The header
// rules (names, values, Content-Length, Transfer-Encoding) are the HTTP parser's, except
// that a chunked Transfer-Encoding does not frame the body (`isChunked` stays false), as
// in nginx's modules for these protocols.

/// How an upstream's response head starts.
public enum ResponseHeadKind: UInt8, Sendable {
    /// `HTTP/1.x ddd reason` (proxy_pass).
    case http
    /// Header lines only (FastCGI's STDOUT).
    case cgi
    /// An HTTP status line if the head starts like one, else a CGI head (SCGI, uwsgi).
    case statusLineOrCGI
}

extension ResponseParser {
    /// Sets `head.status` and `head.reason` of a CGI head without a status line; an error
    /// when its `Status` field is not three digits first.
    @usableFromInline
    func cgiStatus(_ buf: UnsafeRawBufferPointer, _ head: inout ResponseHead) -> ResponseParseError? {
        head.version = .http10
        guard let field = statusField else {
            head.status = locationSeen ? 302 : 200
            head.reason = 0..<0
            return nil
        }
        let v = field.value
        guard v.count >= 3, ASCII.isDigit(buf[v.lowerBound]), ASCII.isDigit(buf[v.lowerBound + 1]),
            ASCII.isDigit(buf[v.lowerBound + 2])
        else { return .invalidStatus(logString(buf, v)) }
        head.status =
            Int(buf[v.lowerBound] &- 0x30) * 100 + Int(buf[v.lowerBound + 1] &- 0x30) * 10
            + Int(buf[v.lowerBound + 2] &- 0x30)
        // "404 Not Found": the reason phrase after the code and one space.
        var r = v.lowerBound + 3
        if r < v.upperBound && buf[r] == ASCII.sp { r += 1 }
        head.reason = r < v.upperBound ? r..<v.upperBound : 0..<0
        return nil
    }
}
