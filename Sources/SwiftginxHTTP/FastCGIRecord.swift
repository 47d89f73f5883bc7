// The FastCGI record layer (https://fastcgi-archives.github.io/FastCGI_Specification.html)
// as nginx's `fastcgi_pass` speaks it: one request per connection at a time, request id 1,
// the responder role. The encoder writes what goes upstream — BEGIN_REQUEST (with the
// keep-connection flag for `fastcgi_keep_conn on`), the parameters as one PARAMS record
// of name-value pairs (1-byte lengths up to 127, else 4 bytes with the high bit set)
// padded to 8 bytes, the empty PARAMS record, and the 8-byte headers of the STDIN records
// that frame the request body. The decoder takes the upstream's bytes however they are
// split across reads and reports the content of STDOUT and STDERR records as ranges of the
// buffer it is given, the end of STDOUT (an empty STDOUT record) and END_REQUEST, with
// nginx's error-log wording for what it refuses (another version, record type or
// request id). It keeps no more than a record header's worth of state between calls.

/// Record types (the spec's FCGI_* values).
public enum FastCGIRecordType: UInt8, Sendable {
    case beginRequest = 1, abortRequest, endRequest, params, stdin, stdout, stderr, data
    case getValues, getValuesResult, unknownType
}

/// Encoder of the records swiftginx sends.
public enum FastCGIRecord {
    /// Length of a record header.
    public static let headerLength = 8
    /// Largest content of one record.
    public static let maxContent = 65535
    /// The empty STDIN record: the end of the request body.
    public static let stdinEnd: [UInt8] = [1, 5, 0, 1, 0, 0, 0, 0]

    /// Appends a record header (version 1, request id 1).
    @inlinable
    public static func appendHeader(
        _ type: FastCGIRecordType, contentLength: Int, padding: Int = 0, to out: inout [UInt8]
    ) {
        out.append(1)
        out.append(type.rawValue)
        out.append(0)
        out.append(1)
        out.append(UInt8(truncatingIfNeeded: contentLength >> 8))
        out.append(UInt8(truncatingIfNeeded: contentLength))
        out.append(UInt8(truncatingIfNeeded: padding))
        out.append(0)
    }

    /// Bytes one name-value pair takes in a PARAMS record.
    @inlinable
    public static func pairSize(keyCount: Int, valueCount: Int) -> Int {
        (keyCount > 127 ? 4 : 1) &+ keyCount &+ (valueCount > 127 ? 4 : 1) &+ valueCount
    }

    @inlinable
    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        if n > 127 {
            out.append(UInt8(truncatingIfNeeded: n >> 24) | 0x80)
            out.append(UInt8(truncatingIfNeeded: n >> 16))
            out.append(UInt8(truncatingIfNeeded: n >> 8))
            out.append(UInt8(truncatingIfNeeded: n))
        } else {
            out.append(UInt8(n))
        }
    }

    /// Appends BEGIN_REQUEST (responder role), one PARAMS record holding `params` in order
    /// and the empty PARAMS record. Returns the size of the parameters instead (and leaves
    /// `out` unchanged) when they do not fit one record (nginx: "fastcgi request record is
    /// too big", answered 500).
    @inlinable
    public static func appendRequestStart(
        params: [(key: [UInt8], value: [UInt8])], keepConnection: Bool, to out: inout [UInt8]
    ) -> Int? {
        var size = 0
        for p in params { size &+= pairSize(keyCount: p.key.count, valueCount: p.value.count) }
        if size > maxContent { return size }
        let padding = (8 &- size % 8) % 8
        out.reserveCapacity(out.count &+ 40 &+ size &+ padding)
        appendHeader(.beginRequest, contentLength: 8, to: &out)
        out.append(0)
        out.append(1)  // FCGI_RESPONDER
        out.append(keepConnection ? 1 : 0)  // FCGI_KEEP_CONN
        out.append(contentsOf: [0, 0, 0, 0, 0] as [UInt8])
        if !params.isEmpty {
            appendHeader(.params, contentLength: size, padding: padding, to: &out)
            for p in params {
                appendLength(p.key.count, to: &out)
                appendLength(p.value.count, to: &out)
                out.append(contentsOf: p.key)
                out.append(contentsOf: p.value)
            }
            for _ in 0..<padding { out.append(0) }
        }
        appendHeader(.params, contentLength: 0, to: &out)
        return nil
    }
}

/// Why a FastCGI response was refused (nginx logs these at `error` and answers 502).
public enum FastCGIRecordError: Error, Sendable, Equatable {
    case unsupportedVersion(UInt8)
    case invalidType(UInt8)
    case unexpectedRequestIDHigh(UInt8)
    case unexpectedRequestIDLow(UInt8)

    /// nginx's error-log text.
    public var logMessage: String {
        switch self {
        case .unsupportedVersion(let v): "upstream sent unsupported FastCGI protocol version: \(v)"
        case .invalidType(let t): "upstream sent invalid FastCGI record type: \(t)"
        case .unexpectedRequestIDHigh(let b): "upstream sent unexpected FastCGI request id high byte: \(b)"
        case .unexpectedRequestIDLow(let b): "upstream sent unexpected FastCGI request id low byte: \(b)"
        }
    }
}

/// Incremental decoder of the records a FastCGI application answers with.
///
/// Call `next` with the bytes read so far and an offset into them; it returns one event
/// and advances the offset past what it consumed. Ranges returned index the same buffer.
/// A record header split across reads is kept inside the decoder, so the caller may
/// discard consumed bytes between calls.
public struct FastCGIRecordDecoder: Sendable {
    public enum Event: Sendable, Equatable {
        /// Content bytes of a STDOUT record.
        case stdout(Range<Int>)
        /// Content bytes of a STDERR record (a record may come in several pieces).
        case stderr(Range<Int>)
        /// An empty STDOUT record: the application's output ended.
        case stdoutClosed
        /// END_REQUEST, its body and padding read: the request is over.
        case endRequest(appStatus: UInt32, protocolStatus: UInt8)
        /// Everything given was consumed; call again with more bytes.
        case needMore
        case error(FastCGIRecordError)
    }

    @usableFromInline
    enum State: UInt8, Sendable { case header, content, padding, failed }

    @usableFromInline var state: State = .header
    @usableFromInline var headerFill = 0
    @usableFromInline var header: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
    @usableFromInline var type: UInt8 = 0
    @usableFromInline var contentLeft = 0
    @usableFromInline var paddingLeft = 0
    /// END_REQUEST's 8-byte body as it arrives.
    @usableFromInline var endBody: UInt64 = 0
    @usableFromInline var endFill = 0
    @usableFromInline var failure: FastCGIRecordError? = nil

    public init() {}

    /// Back to the start of a record stream (for the next request on a kept connection).
    public mutating func reset() { self = FastCGIRecordDecoder() }

    /// Whether the decoder stands between records (nothing of a record is pending).
    public var atRecordBoundary: Bool { state == .header && headerFill == 0 }

    public mutating func next(_ buf: UnsafeRawBufferPointer, offset: inout Int) -> Event {
        while true {
            switch state {
            case .failed:
                return .error(failure ?? .invalidType(0))
            case .header:
                while headerFill < 8 {
                    if offset >= buf.count { return .needMore }
                    let c = buf[offset]
                    offset &+= 1
                    switch headerFill {
                    case 0: header.0 = c
                    case 1: header.1 = c
                    case 2: header.2 = c
                    case 3: header.3 = c
                    case 4: header.4 = c
                    case 5: header.5 = c
                    case 6: header.6 = c
                    default: header.7 = c
                    }
                    headerFill &+= 1
                    // Checked byte by byte, as nginx's state machine does.
                    if let e = check(headerFill - 1, c) { return fail(e) }
                }
                headerFill = 0
                type = header.1
                contentLeft = Int(header.4) << 8 | Int(header.5)
                paddingLeft = Int(header.6)
                endBody = 0
                endFill = 0
                state = .content
                if contentLeft == 0 {
                    state = .padding
                    if type == FastCGIRecordType.stdout.rawValue { return .stdoutClosed }
                }
            case .content:
                if offset >= buf.count { return .needMore }
                let take = min(contentLeft, buf.count &- offset)
                let range = offset..<(offset &+ take)
                offset &+= take
                contentLeft &-= take
                if contentLeft == 0 { state = .padding }
                switch type {
                case FastCGIRecordType.stdout.rawValue: return .stdout(range)
                case FastCGIRecordType.stderr.rawValue: return .stderr(range)
                default:
                    // END_REQUEST: appStatus (u32 BE), protocolStatus, 3 reserved bytes.
                    for i in range where endFill < 8 {
                        endBody = endBody << 8 | UInt64(buf[i])
                        endFill &+= 1
                    }
                }
            case .padding:
                let take = min(paddingLeft, buf.count &- offset)
                offset &+= take
                paddingLeft &-= take
                if paddingLeft > 0 { return .needMore }
                state = .header
                if type == FastCGIRecordType.endRequest.rawValue {
                    let body = endBody << (8 &* UInt64(8 &- min(endFill, 8)))
                    return .endRequest(
                        appStatus: UInt32(truncatingIfNeeded: body >> 32),
                        protocolStatus: UInt8(truncatingIfNeeded: body >> 24))
                }
            }
        }
    }

    @usableFromInline
    func check(_ index: Int, _ c: UInt8) -> FastCGIRecordError? {
        switch index {
        case 0: return c == 1 ? nil : .unsupportedVersion(c)
        case 1:
            switch c {
            case FastCGIRecordType.stdout.rawValue, FastCGIRecordType.stderr.rawValue,
                FastCGIRecordType.endRequest.rawValue:
                return nil
            default: return .invalidType(c)
            }
        case 2: return c == 0 ? nil : .unexpectedRequestIDHigh(c)
        case 3: return c == 1 ? nil : .unexpectedRequestIDLow(c)
        default: return nil
        }
    }

    @usableFromInline
    mutating func fail(_ e: FastCGIRecordError) -> Event {
        state = .failed
        failure = e
        return .error(e)
    }
}
