// A configuration value that may contain variables ("$host$request_uri", "${uri}x").
// Parsed once when the configuration is compiled; the server evaluates it per
// request by asking a resolver for each variable's bytes. A value without
// variables is `isStatic` and its bytes are available without evaluation.
// `ComplexValue.parse` follows nginx's script compiler: `$name`, `${name}`, `$1`..`$9`,
// names are case-insensitive, and an unknown name is an error.

/// A variable that a value in the configuration refers to.
public enum Variable: Sendable, Hashable {
    case remoteAddr, remotePort, remoteUser, timeLocal, timeISO8601, msec, request, status
    case bodyBytesSent, bytesSent, requestTime, host, hostname, uri, documentUri, args, queryString
    case isArgs, requestUri, requestMethod, requestLength, scheme, serverName, serverPort, serverAddr
    case serverProtocol, connection, connectionRequests, contentType, contentLength, documentRoot
    case realpathRoot, requestFilename, pid, nginxVersion, pipe
    case requestId, binaryRemoteAddr, https, requestCompletion, requestBody, requestBodyFile
    case requestPort, isRequestPort
    case proxyAddXForwardedFor, proxyHost, proxyPort
    case fastcgiScriptName, fastcgiPathInfo
    case connectionTime
    /// The SSI module's `$date_local`, `$date_gmt`.
    case dateLocal, dateGMT
    /// `$http2`: "h2" (TLS) or "h2c" on an HTTP/2 connection, empty otherwise.
    case http2
    case upstreamAddr, upstreamStatus, upstreamResponseTime, upstreamConnectTime, upstreamHeaderTime
    case upstreamResponseLength, upstreamCacheStatus, limitRate, upstreamBytesReceived, upstreamBytesSent
    case connectionsActive, connectionsReading, connectionsWriting, connectionsWaiting
    case realipRemoteAddr, realipRemotePort, limitConnStatus, limitReqStatus
    /// `$ssl_protocol`, `$ssl_cipher`, `$ssl_client_verify`, ...
    case ssl(SSLField)
    /// `$proxy_protocol_addr`, `_port`, `_server_addr`, `_server_port`.
    case proxyProtocol(ProxyProtocolField)
    /// `$proxy_protocol_tlv_<name>`.
    case proxyProtocolTLV(ProxyProtocolTLVKey)
    /// `$upstream_http_<name>`: a header of the upstream response ('_' standing for '-').
    case upstreamHeader(String)
    /// `$upstream_cookie_<name>`: a cookie the upstream set (Set-Cookie), by name.
    case upstreamCookie(String)
    /// `$http_<name>`: a request header; name is lowercased with '_' standing for '-'.
    case httpHeader(String)
    /// `$sent_http_<name>`: a response header.
    case sentHeader(String)
    /// `$sent_trailer_<name>`: a trailer field added so far (`add_trailer`).
    case sentTrailer(String)
    /// `$arg_<name>`: a query argument.
    case arg(String)
    /// `$cookie_<name>`.
    case cookie(String)
    /// `$1` … `$9`: a capture of the last matched regular expression.
    case capture(Int)
    /// A capture named in a regular expression (`(?<name>...)`).
    case namedCapture(String)
    /// A variable declared with `set $name`.
    case custom(String)
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

    /// True when the value is `$binary_remote_addr` alone (the usual limit zone key).
    @inlinable public var isBinaryRemoteAddr: Bool {
        if segments.count == 1, case .variable(.binaryRemoteAddr) = segments[0] { return true }
        return false
    }

    /// The bytes of a static value (variables, if any, are skipped).
    public var staticBytes: [UInt8] {
        var out: [UInt8] = []
        for s in segments { if case .literal(let b) = s { out += b } }
        return out
    }
}

/// A ComplexValue that failed to parse; `description` is nginx's wording.
public struct ComplexValueError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Variable {
    private static let plain: [String: Variable] = [
        "remote_addr": .remoteAddr, "remote_port": .remotePort, "remote_user": .remoteUser,
        "time_local": .timeLocal, "time_iso8601": .timeISO8601, "msec": .msec, "request": .request,
        "date_local": .dateLocal, "date_gmt": .dateGMT,
        "status": .status, "body_bytes_sent": .bodyBytesSent, "bytes_sent": .bytesSent,
        "request_time": .requestTime, "host": .host, "hostname": .hostname, "uri": .uri,
        "document_uri": .documentUri, "args": .args, "query_string": .queryString, "is_args": .isArgs,
        "request_uri": .requestUri, "request_method": .requestMethod, "request_length": .requestLength,
        "scheme": .scheme, "server_name": .serverName, "server_port": .serverPort, "server_addr": .serverAddr,
        "server_protocol": .serverProtocol, "connection": .connection,
        "connection_time": .connectionTime, "http2": .http2,
        "connection_requests": .connectionRequests, "content_type": .contentType,
        "content_length": .contentLength, "document_root": .documentRoot, "realpath_root": .realpathRoot,
        "request_filename": .requestFilename, "pid": .pid, "nginx_version": .nginxVersion, "pipe": .pipe,
        "request_id": .requestId, "binary_remote_addr": .binaryRemoteAddr, "https": .https,
        "request_completion": .requestCompletion, "request_body": .requestBody,
        "request_body_file": .requestBodyFile, "request_port": .requestPort, "is_request_port": .isRequestPort,
        "proxy_add_x_forwarded_for": .proxyAddXForwardedFor, "proxy_host": .proxyHost, "proxy_port": .proxyPort,
        "fastcgi_script_name": .fastcgiScriptName, "fastcgi_path_info": .fastcgiPathInfo,
        "upstream_addr": .upstreamAddr, "upstream_status": .upstreamStatus,
        "upstream_response_time": .upstreamResponseTime, "upstream_connect_time": .upstreamConnectTime,
        "upstream_header_time": .upstreamHeaderTime, "upstream_response_length": .upstreamResponseLength,
        "upstream_bytes_received": .upstreamBytesReceived, "upstream_bytes_sent": .upstreamBytesSent,
        "upstream_cache_status": .upstreamCacheStatus, "request_scheme": .scheme, "limit_rate": .limitRate,
        "connections_active": .connectionsActive, "connections_reading": .connectionsReading,
        "connections_writing": .connectionsWriting, "connections_waiting": .connectionsWaiting,
        "realip_remote_addr": .realipRemoteAddr, "realip_remote_port": .realipRemotePort,
        "limit_conn_status": .limitConnStatus, "limit_req_status": .limitReqStatus,
    ]

    /// The variable nginx knows by `name` (without '$', any case), or nil.
    /// (`$ssl_*` names are the SSLField cases.)
    /// `namedCaptures` are the `(?<name>...)` groups of the configuration's regexes.
    /// `customNames` are the variables declared so far with `set`.
    /// Built-in variables `set` and `auth_request_set` may change (nginx's
    /// NGX_HTTP_VAR_CHANGEABLE ones that are built here).
    public static let changeable: Set<String> = ["args"]

    public init?(name: String, namedCaptures: Set<String> = [], customNames: Set<String> = []) {
        let lower = name.lowercased()
        if let v = Variable.plain[lower] {
            self = v
            return
        }
        if lower.hasPrefix("ssl_"), let f = SSLField(rawValue: String(lower.dropFirst(4))) {
            self = .ssl(f)
            return
        }
        if lower.hasPrefix("proxy_protocol_"), let v = Variable.proxyProtocol(lower) {
            self = v
            return
        }
        func suffix(_ prefix: String) -> String? {
            lower.hasPrefix(prefix) ? String(lower.dropFirst(prefix.count)) : nil
        }
        func headerName(_ s: String) -> String { String(s.map { $0 == "_" ? "-" : $0 }) }
        if let s = suffix("http_") {
            self = .httpHeader(headerName(s))
        } else if let s = suffix("sent_http_") {
            self = .sentHeader(headerName(s))
        } else if let s = suffix("sent_trailer_") {
            self = .sentTrailer(headerName(s))
        } else if let s = suffix("upstream_http_") {
            self = .upstreamHeader(headerName(s))
        } else if let s = suffix("upstream_cookie_") {
            self = .upstreamCookie(s)
        } else if let s = suffix("arg_") {
            self = .arg(s)
        } else if let s = suffix("cookie_") {
            self = .cookie(s)
        } else if namedCaptures.contains(name) {
            self = .namedCapture(name)
        } else if namedCaptures.contains(lower) {
            self = .namedCapture(lower)
        } else if customNames.contains(lower) {
            self = .custom(lower)
        } else {
            return nil
        }
    }
}

extension ComplexValue {
    /// Parses configuration text with variables, as nginx's script compiler does:
    /// `$name` (letters, digits, '_'), `${name}`, and `$1`…`$9` (one digit).
    /// Errors: `invalid variable name`, `the closing bracket in "x" variable is missing`,
    /// `unknown "x" variable`.
    public static func parse(
        _ text: String, namedCaptures: Set<String> = [], customNames: Set<String> = []
    ) throws(ComplexValueError) -> ComplexValue {
        let bytes = Array(text.utf8)
        var segments: [ValueSegment] = []
        var literal: [UInt8] = []
        func isNameByte(_ c: UInt8) -> Bool {
            (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x5F
        }
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            guard c == UInt8(ascii: "$") else {
                literal.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { throw ComplexValueError("invalid variable name") }
            if !literal.isEmpty {
                segments.append(.literal(literal))
                literal = []
            }
            if bytes[i] >= UInt8(ascii: "1") && bytes[i] <= UInt8(ascii: "9") {
                segments.append(.variable(.capture(Int(bytes[i] - UInt8(ascii: "0")))))
                i += 1
                continue
            }
            var bracket = false
            if bytes[i] == UInt8(ascii: "{") {
                bracket = true
                i += 1
            }
            let start = i
            while i < bytes.count && isNameByte(bytes[i]) { i += 1 }
            let name = String(decoding: bytes[start..<i], as: UTF8.self)
            if bracket {
                guard i < bytes.count && bytes[i] == UInt8(ascii: "}") else {
                    if name.isEmpty { throw ComplexValueError("invalid variable name") }
                    throw ComplexValueError("the closing bracket in \"\(name)\" variable is missing")
                }
                i += 1
            }
            guard !name.isEmpty else { throw ComplexValueError("invalid variable name") }
            guard let variable = Variable(name: name, namedCaptures: namedCaptures, customNames: customNames) else {
                throw ComplexValueError("unknown \"\(name.lowercased())\" variable")
            }
            segments.append(.variable(variable))
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        return ComplexValue(segments: segments, source: text)
    }
}

/// The TLS variables of the ssl module (`$ssl_` + raw value).
public enum SSLField: String, Sendable, Hashable {
    case `protocol`, cipher, serverName = "server_name", sessionReused = "session_reused"
    case sessionID = "session_id", earlyData = "early_data", alpnProtocol = "alpn_protocol"
    case clientVerify = "client_verify", clientSubjectDN = "client_s_dn", clientIssuerDN = "client_i_dn"
    case clientSerial = "client_serial", clientFingerprint = "client_fingerprint", clientCert = "client_cert"
    case clientRawCert = "client_raw_cert"
    case ciphers, curve, curves, clientEscapedCert = "client_escaped_cert"
    case clientSubjectDNLegacy = "client_s_dn_legacy", clientIssuerDNLegacy = "client_i_dn_legacy"
    case clientValidFrom = "client_v_start", clientValidUntil = "client_v_end"
    case clientValidDays = "client_v_remain"
}
