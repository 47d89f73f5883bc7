// A configuration value that may contain variables ("$host$request_uri", "${uri}x").
// Parsed once when the configuration is compiled; the server evaluates it per
// request by asking a resolver for each variable's bytes. A value without
// variables is `isStatic` and its bytes are available without evaluation.

/// A variable that a value in the configuration refers to.
public enum Variable: Sendable, Hashable {
    case remoteAddr, remotePort, remoteUser, timeLocal, timeISO8601, msec, request, status
    case bodyBytesSent, bytesSent, requestTime, host, hostname, uri, documentUri, args, queryString
    case isArgs, requestUri, requestMethod, requestLength, scheme, serverName, serverPort, serverAddr
    case serverProtocol, connection, connectionRequests, contentType, contentLength, documentRoot
    case realpathRoot, requestFilename, pid, nginxVersion, pipe
    /// `$http_<name>`: a request header; name is lowercased with '_' standing for '-'.
    case httpHeader(String)
    /// `$sent_http_<name>`: a response header.
    case sentHeader(String)
    /// `$arg_<name>`: a query argument.
    case arg(String)
    /// `$cookie_<name>`.
    case cookie(String)
    /// `$1` … `$9`: a capture of the last matched regular expression.
    case capture(Int)
    /// A capture named in a regular expression (`(?<name>...)`).
    case namedCapture(String)
}

/// A piece of a complex value.
public enum ValueSegment: Sendable, Hashable {
    case literal([UInt8])
    case variable(Variable)
}

/// A value made of literal bytes and variables, compiled once.
public struct ComplexValue: Sendable, Hashable {
    public let segments: [ValueSegment]
    /// The source text as written in the configuration (for messages and `-T`).
    public let source: String

    public init(segments: [ValueSegment], source: String) {
        self.segments = segments
        self.source = source
    }

    /// A value that is only literal text.
    public init(literal: String) {
        self.segments = literal.isEmpty ? [] : [.literal(Array(literal.utf8))]
        self.source = literal
    }

    /// True when the value has no variables.
    @inlinable public var isStatic: Bool {
        for s in segments { if case .variable = s { return false } }
        return true
    }

    /// The bytes of a static value (variables, if any, are skipped).
    public var staticBytes: [UInt8] {
        var out: [UInt8] = []
        for s in segments { if case .literal(let b) = s { out += b } }
        return out
    }
}
