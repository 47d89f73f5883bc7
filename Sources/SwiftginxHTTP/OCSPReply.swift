// The answer of an OCSP responder, judged as nginx's OCSP client judges it: a status
// line `HTTP/x.y NNN ...`, header lines (a Content-Type, when present, must be
// `application/ocsp-response`), and the body up to the end of the connection. Pure, so
// it is tested byte by byte and fuzzed with the response parser (scripts/fuzz response).

/// A responder's answer, judged as nginx's OCSP client does: a status line
/// `HTTP/x.y NNN ...`, header lines (Content-Type, when present, must be
/// `application/ocsp-response`), and the body up to the end of the connection.
public enum OCSPReply: Equatable, Sendable {
    case incomplete
    case invalid
    case invalidContentType(String)
    case complete(status: Int, body: [UInt8])

    /// `.incomplete` until the head has ended (the body runs to the end of the
    /// connection, so the caller parses again when it closes).
    public static func parse(_ bytes: [UInt8]) -> OCSPReply {
        var position = 0
        /// The next line without its CR LF, or nil when it is not complete.
        func nextLine() -> ArraySlice<UInt8>? {
            guard let lf = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            var line = bytes[position..<lf]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            position = lf + 1
            return line
        }
        guard let statusLine = nextLine() else {
            return statusLinePrefixIsValid(bytes[...]) ? .incomplete : .invalid
        }
        guard let status = statusCode(statusLine) else { return .invalid }
        while let line = nextLine() {
            if line.isEmpty { return .complete(status: status, body: Array(bytes[position...])) }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return .invalid }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isNameByte) else { return .invalid }
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingSpaces
            if String(decoding: name, as: UTF8.self).lowercased() == "content-type"
                && value.lowercased() != "application/ocsp-response"
            {
                return .invalidContentType(value)
            }
        }
        return .incomplete
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        ASCII.isDigit(b) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(ASCII.lower(b)) || b == UInt8(ascii: "-")
    }

    /// `HTTP/` then digits: the start of a status line (all of it may not be there yet).
    private static func statusLinePrefixIsValid(_ line: ArraySlice<UInt8>) -> Bool {
        let http = Array("HTTP/".utf8)
        for (k, b) in line.prefix(5).enumerated() where b != http[k] { return false }
        return true
    }

    /// The code of `HTTP/d.d NNN[ text]`, or nil when the line is malformed.
    private static func statusCode(_ line: ArraySlice<UInt8>) -> Int? {
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("HTTP/") else { return nil }
        let parts = text.dropFirst(5).split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let version = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard version.count == 2, version.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }),
            parts.count == 2
        else { return nil }
        let rest = parts[1].drop { $0 == " " }
        let digits = rest.prefix(3)
        guard digits.count == 3, digits.allSatisfy(\.isASCIIDigit), let code = Int(digits) else { return nil }
        let after = rest.dropFirst(3).first
        guard after == nil || after == " " || after == "." else { return nil }
        return code
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
