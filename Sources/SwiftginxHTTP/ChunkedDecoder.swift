// Decoder for the chunked transfer coding (RFC 9112 §7.1) of request bodies and of
// upstream response bodies, strict:
// chunk-size is 1*HEXDIG (no sign, "0x", spaces or overflow), whitespace after the size is
// allowed only as BWS before ";", extensions must follow the grammar (token or
// quoted-string values, no bare CR/LF) and are capped, chunk data must be followed by
// CRLF, and the trailer section is checked as field lines and then ignored (framing fields
// there never change framing; kept only for an HTTP/2 stream, which sends them on). Any violation is nginx's "client sent invalid chunked body"
// (400); on a response body the proxy logs nginx's "upstream sent invalid chunked
// response" instead and closes both connections (the client's response is already under
// way). Unlike nginx, a bare LF never ends a size line, not even from an upstream.
// The decoder is resumable at every byte, so split reads give identical results.

/// Incremental chunked-body decoder. Feed it the bytes after the request or response head.
public struct ChunkedDecoder: Sendable {
    /// One decoding step.
    public enum Step: Sendable, Equatable {
        /// Body bytes: `buf[range]`.
        case data(Range<Int>)
        /// Everything given was consumed; call again with more bytes.
        case needMore
        /// The last chunk and the trailer section were consumed; `offset` is after them.
        case done
        /// The body is malformed: answer 400 and close.
        case error(RequestParseError)
    }

    /// Longest accepted chunk-size line (size digits + extensions), in bytes.
    public static let maxSizeLine = 4096
    /// Longest accepted trailer section, in bytes.
    public static let maxTrailerBytes = 8192

    @usableFromInline
    enum State: UInt8, Sendable {
        case sizeStart, size, sizeWS, extBeforeName, extName, extNameWS, extBeforeValue, extToken
        case extQuoted, extQuotedEscape, extAfterQuote, extValueWS, sizeLF
        case data, dataCR, dataLF
        case trailerLineStart, trailerName, trailerValue, trailerLF, finalLF
        case done, failed
    }

    @usableFromInline var state: State = .sizeStart
    @usableFromInline var remaining: UInt64 = 0
    @usableFromInline var lineBytes = 0
    @usableFromInline var trailerBytes = 0
    /// Keep the trailer section's field lines ("name: value\r\n" each) in
    /// `trailerSection`: an HTTP/2 stream sends them as a HEADERS frame.
    public var keepsTrailers = false
    public var trailerSection: [UInt8] = []

    public init() {}

    /// Total body bytes are not tracked here; the caller enforces `client_max_body_size`.
    public var isDone: Bool { state == .done }

    static let invalid = RequestParseError.badRequest("client sent invalid chunked body")

    /// Decodes from `buf[offset...]` and advances `offset` past what it consumed.
    public mutating func next(_ buf: UnsafeRawBufferPointer, offset: inout Int) -> Step {
        let count = buf.count
        var i = offset
        defer { offset = i }
        while true {
            switch state {
            case .done: return .done
            case .failed: return .error(ChunkedDecoder.invalid)
            case .data:
                if i >= count { return .needMore }
                let avail = UInt64(count - i)
                let n = Int(min(avail, remaining))
                remaining -= UInt64(n)
                if remaining == 0 { state = .dataCR }
                let r = i..<(i + n)
                i += n
                return .data(r)
            default:
                break
            }
            if i >= count { return .needMore }
            let c = buf[i]
            i += 1
            if !consume(c) {
                state = .failed
                return .error(ChunkedDecoder.invalid)
            }
        }
    }

    /// Advances the state machine over one control byte (everything except chunk data).
    @inline(__always)
    private mutating func consume(_ c: UInt8) -> Bool {
        switch state {
        case .sizeStart, .size:
            if let h = ASCII.hexValue(c) {
                if state == .sizeStart {
                    state = .size
                    remaining = 0
                    lineBytes = 0
                }
                if remaining > (UInt64(Int64.max) >> 4) { return false }
                remaining = remaining << 4 | UInt64(h)
                return countLine()
            }
            guard state == .size else { return false }
            switch c {
            case 0x0D: state = .sizeLF
            case 0x3B: state = .extBeforeName
            case 0x20, 0x09: state = .sizeWS
            default: return false
            }
            return countLine()
        case .sizeWS:
            switch c {
            case 0x20, 0x09: break
            case 0x3B: state = .extBeforeName
            default: return false
            }
            return countLine()
        case .extBeforeName:
            if ASCII.isOWS(c) { return countLine() }
            guard ASCII.isTchar(c) else { return false }
            state = .extName
            return countLine()
        case .extName:
            if ASCII.isTchar(c) { return countLine() }
            switch c {
            case 0x20, 0x09: state = .extNameWS
            case 0x3D: state = .extBeforeValue
            case 0x3B: state = .extBeforeName
            case 0x0D: state = .sizeLF
            default: return false
            }
            return countLine()
        case .extNameWS:
            switch c {
            case 0x20, 0x09: break
            case 0x3D: state = .extBeforeValue
            case 0x3B: state = .extBeforeName
            default: return false
            }
            return countLine()
        case .extBeforeValue:
            if ASCII.isOWS(c) { return countLine() }
            if c == 0x22 {
                state = .extQuoted
            } else if ASCII.isTchar(c) {
                state = .extToken
            } else {
                return false
            }
            return countLine()
        case .extToken:
            if ASCII.isTchar(c) { return countLine() }
            switch c {
            case 0x20, 0x09: state = .extValueWS
            case 0x3B: state = .extBeforeName
            case 0x0D: state = .sizeLF
            default: return false
            }
            return countLine()
        case .extQuoted:
            switch c {
            case 0x22: state = .extAfterQuote
            case 0x5C: state = .extQuotedEscape
            default: if !ASCII.isFieldValueByte(c) { return false }
            }
            return countLine()
        case .extQuotedEscape:
            guard ASCII.isFieldValueByte(c) else { return false }
            state = .extQuoted
            return countLine()
        case .extAfterQuote:
            switch c {
            case 0x20, 0x09: state = .extValueWS
            case 0x3B: state = .extBeforeName
            case 0x0D: state = .sizeLF
            default: return false
            }
            return countLine()
        case .extValueWS:
            switch c {
            case 0x20, 0x09: break
            case 0x3B: state = .extBeforeName
            default: return false
            }
            return countLine()
        case .sizeLF:
            guard c == 0x0A else { return false }
            if remaining == 0 {
                state = .trailerLineStart
                trailerBytes = 0
            } else {
                state = .data
            }
            return true
        case .dataCR:
            guard c == 0x0D else { return false }
            state = .dataLF
            return true
        case .dataLF:
            guard c == 0x0A else { return false }
            state = .sizeStart
            return true
        case .trailerLineStart:
            if c == 0x0D {
                state = .finalLF
                return true
            }
            guard ASCII.isTchar(c) else { return false }
            state = .trailerName
            return countTrailer(c)
        case .trailerName:
            if c == 0x3A {
                state = .trailerValue
            } else if !ASCII.isTchar(c) {
                return false
            }
            return countTrailer(c)
        case .trailerValue:
            if c == 0x0D {
                state = .trailerLF
            } else if !ASCII.isFieldValueByte(c) {
                return false
            }
            return countTrailer(c)
        case .trailerLF:
            guard c == 0x0A else { return false }
            state = .trailerLineStart
            return countTrailer(c)
        case .finalLF:
            guard c == 0x0A else { return false }
            state = .done
            return true
        case .data, .done, .failed:
            return false
        }
    }

    @inline(__always)
    private mutating func countLine() -> Bool {
        lineBytes += 1
        return lineBytes <= ChunkedDecoder.maxSizeLine
    }

    @inline(__always)
    private mutating func countTrailer(_ c: UInt8) -> Bool {
        if keepsTrailers { trailerSection.append(c) }
        trailerBytes += 1
        return trailerBytes <= ChunkedDecoder.maxTrailerBytes
    }
}
