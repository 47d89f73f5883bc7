// Encoder for the request head of the SCGI protocol (https://python.ca/scgi/protocol.txt):
// what nginx's `scgi_pass` sends before the request body. The head is a netstring —
// the decimal length, ':', the headers, ',' — whose headers are NUL-terminated
// name/value pairs, CONTENT_LENGTH first (the body's length, required by the protocol),
// then the `scgi_param` values and HTTP_* variables for the client's headers. The body
// follows unframed; the answer is a CGI-style head (`Status: 200 OK`) or an HTTP status
// line, parsed by `ResponseParser` in its CGI mode.

/// The SCGI request head.
public enum SCGIRequest {
    /// Bytes of the headers block for `contentLength` and `params` (without the netstring
    /// length prefix and the final ',').
    @inlinable
    public static func headersSize(contentLength: [UInt8], params: [(key: [UInt8], value: [UInt8])]) -> Int {
        var n = 15 &+ contentLength.count &+ 1  // "CONTENT_LENGTH\0" value "\0"
        for p in params { n &+= p.key.count &+ p.value.count &+ 2 }
        return n
    }

    /// Appends the netstring head: `len:CONTENT_LENGTH\0n\0key\0value\0...,`.
    @inlinable
    public static func append(contentLength: Int64, params: [(key: [UInt8], value: [UInt8])], to out: inout [UInt8]) {
        let length = Array(String(contentLength).utf8)
        let size = headersSize(contentLength: length, params: params)
        out.reserveCapacity(out.count &+ size &+ 12)
        out.append(contentsOf: String(size).utf8)
        out.append(UInt8(ascii: ":"))
        out.append(contentsOf: "CONTENT_LENGTH".utf8)
        out.append(0)
        out.append(contentsOf: length)
        out.append(0)
        for p in params {
            out.append(contentsOf: p.key)
            out.append(0)
            out.append(contentsOf: p.value)
            out.append(0)
        }
        out.append(UInt8(ascii: ","))
    }
}
