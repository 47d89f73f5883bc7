// INTERIM: minimal stand-ins for the HTTP module's API so the server compiles
// while the real parser is built on its own branch. Deleted at merge.
import Glibc

public enum HTTPMethod: UInt8, Sendable { case get, head, post, put, delete, options, patch, trace, connect, other }
public struct HTTPVersion: Sendable, Equatable {
    public var major: Int
    public var minor: Int
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }
    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public static let http11 = HTTPVersion(major: 1, minor: 1)
}
public struct HeaderField: Sendable {
    public var name: Range<Int>
    public var value: Range<Int>
}
public struct RequestHead: Sendable {
    public var method: HTTPMethod = .get
    public var methodBytes: Range<Int> = 0..<0
    public var target: Range<Int> = 0..<0
    public var path: Range<Int> = 0..<0
    public var query: Range<Int>? = nil
    public var version: HTTPVersion = .http11
    public var requestLine: Range<Int> = 0..<0
    public var headers: [HeaderField] = []
    public var host: Range<Int>? = nil
    public var contentLength: Int64? = nil
    public var isChunked = false
    public var keepAlive = true
    public var expectContinue = false
    public var upgrade: Range<Int>? = nil
    public var headLength = 0
    public init() {}
    public mutating func reset() { self = RequestHead() }
    public func header(_ lowercasedName: [UInt8], in buf: UnsafeRawBufferPointer) -> Range<Int>? {
        for h in headers where h.name.count == lowercasedName.count {
            var eq = true
            for (i, c) in lowercasedName.enumerated() where buf[h.name.lowerBound + i] | 0x20 != c {
                eq = false
                break
            }
            if eq { return h.value }
        }
        return nil
    }
}
public struct RequestParserOptions: Sendable {
    public var maxRequestLine = 8192
    public var maxHeaderLine = 8192
    public var maxHeaderBytes = 32768
    public var ignoreInvalidHeaders = true
    public var underscoresInHeaders = false
    public init() {}
}
public enum RequestParseError: Error, Sendable, Equatable {
    case badRequest(String)
    case uriTooLong
    case headerTooLarge(String)
    case notImplemented(String)
    case versionNotSupported
    public var status: Int {
        switch self {
        case .badRequest, .headerTooLarge: 400
        case .uriTooLong: 414
        case .notImplemented: 501
        case .versionNotSupported: 505
        }
    }
    public var logMessage: String {
        switch self {
        case .badRequest(let s), .headerTooLarge(let s), .notImplemented(let s): s
        case .uriTooLong: "client sent too long URI"
        case .versionNotSupported: "client sent unsupported HTTP version"
        }
    }
}
public enum RequestParseResult: Sendable, Equatable {
    case complete
    case incomplete
    case error(RequestParseError)
}
public struct RequestParser {
    let options: RequestParserOptions
    public init(options: RequestParserOptions) { self.options = options }
    public mutating func reset() {}
    public mutating func parse(_ buf: UnsafeRawBufferPointer, into head: inout RequestHead) -> RequestParseResult {
        var end = -1
        if buf.count >= 4 {
            for i in 0...(buf.count - 4)
            where buf[i] == 13 && buf[i + 1] == 10 && buf[i + 2] == 13 && buf[i + 3] == 10 {
                end = i
                break
            }
        }
        if end < 0 { return buf.count > options.maxHeaderBytes ? .error(.headerTooLarge("too large")) : .incomplete }
        head.reset()
        var lineEnd = 0
        while buf[lineEnd] != 13 { lineEnd += 1 }
        head.requestLine = 0..<lineEnd
        var sp1 = 0
        while sp1 < lineEnd && buf[sp1] != 32 { sp1 += 1 }
        var sp2 = sp1 + 1
        while sp2 < lineEnd && buf[sp2] != 32 { sp2 += 1 }
        guard sp2 < lineEnd else { return .error(.badRequest("client sent invalid request")) }
        head.methodBytes = 0..<sp1
        let m = Array(buf[0..<sp1])
        head.method = m == Array("GET".utf8) ? .get : m == Array("HEAD".utf8) ? .head : m == Array("POST".utf8) ? .post : .other
        head.target = (sp1 + 1)..<sp2
        var q = sp1 + 1
        while q < sp2 && buf[q] != 63 { q += 1 }
        head.path = (sp1 + 1)..<q
        head.query = q < sp2 ? (q + 1)..<sp2 : nil
        head.version = buf[lineEnd - 1] == 48 ? .http10 : .http11
        head.keepAlive = head.version == .http11
        var p = lineEnd + 2
        while p < end + 2 {
            var le = p
            while buf[le] != 13 { le += 1 }
            var c = p
            while c < le && buf[c] != 58 { c += 1 }
            var vs = c + 1
            while vs < le && buf[vs] == 32 { vs += 1 }
            head.headers.append(HeaderField(name: p..<c, value: vs..<le))
            p = le + 2
        }
        head.host = head.header(Array("host".utf8), in: buf)
        if let cl = head.header(Array("content-length".utf8), in: buf) {
            var v: Int64 = 0
            for i in cl { v = v * 10 + Int64(buf[i] - 48) }
            head.contentLength = v
        }
        if let c = head.header(Array("connection".utf8), in: buf) {
            if buf[c.lowerBound] | 0x20 == UInt8(ascii: "c") { head.keepAlive = false }
            if buf[c.lowerBound] | 0x20 == UInt8(ascii: "k") { head.keepAlive = true }
        }
        head.headLength = end + 4
        return .complete
    }
}
public struct ChunkedDecoder: Sendable {
    public enum Step: Sendable, Equatable {
        case data(Range<Int>)
        case needMore
        case done
        case error(RequestParseError)
    }
    public init() {}
    public mutating func next(_ buf: UnsafeRawBufferPointer, offset: inout Int) -> Step {
        .error(.badRequest("chunked not supported in interim"))
    }
}
public enum HTTPDate {
    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    public static func format(_ epochSeconds: Int) -> [UInt8] {
        var t = time_t(epochSeconds)
        var g = tm()
        gmtime_r(&t, &g)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let s =
            "\(days[Int(g.tm_wday)]), \(two(g.tm_mday)) \(months[Int(g.tm_mon)]) \(g.tm_year + 1900) \(two(g.tm_hour)):\(two(g.tm_min)):\(two(g.tm_sec)) GMT"
        return Array(s.utf8)
    }
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int? { nil }
    public static func formatCommonLog(_ epochSeconds: Int, utcOffsetSeconds: Int) -> [UInt8] {
        Array("01/Jan/2026:00:00:00 +0000".utf8)
    }
    public static func formatISO8601(_ epochSeconds: Int, utcOffsetSeconds: Int) -> [UInt8] {
        Array("2026-01-01T00:00:00+00:00".utf8)
    }
}
public enum ByteRangeSpec {
    public enum Result: Sendable, Equatable {
        case ignore
        case single(ClosedRange<Int64>)
        case multiple([ClosedRange<Int64>])
        case unsatisfiable
    }
    public static func evaluate(_ value: UnsafeRawBufferPointer, size: Int64, maxRanges: Int?) -> Result { .ignore }
}
public enum URINormalizer {
    public static func normalize(_ path: UnsafeRawBufferPointer, mergeSlashes: Bool, into out: inout [UInt8]) -> Bool {
        out.removeAll(keepingCapacity: true)
        out.append(contentsOf: path)
        return !out.isEmpty && out[0] == 47
    }
}
public enum HTTPStatus {
    public static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 200: "OK"
        case 404: "Not Found"
        default: "Unknown"
        }
    }
    public static func statusLine(_ code: Int) -> [UInt8] { Array("HTTP/1.1 \(code) \(reasonPhrase(code))\r\n".utf8) }
    public static func errorPageBody(_ code: Int, serverTokens: Bool, version: String) -> [UInt8]? {
        let t = "\(code) \(reasonPhrase(code))"
        return Array(
            "<html>\r\n<head><title>\(t)</title></head>\r\n<body>\r\n<center><h1>\(t)</h1></center>\r\n<hr><center>swiftginx</center>\r\n</body>\r\n</html>\r\n"
                .utf8)
    }
}
