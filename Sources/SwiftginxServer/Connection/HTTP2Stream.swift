// One HTTP/2 stream of an HTTP2Connection: the request it carries and the answer on
// its way back. The header list nghttp2 decoded becomes the same `RequestHead` an
// HTTP/1 request has (an HTTP/1.1 head is written from the pseudo-headers and fields
// and parsed by the one RequestParser, so every limit and check is the same; the
// request line then reads "GET / HTTP/2.0", as nginx's `$request`), and the stream's
// `Request` runs the same phases and handlers. The answer comes back as the bytes
// every handler writes (a response head, then the body, chunked when the head says
// so): the head becomes a HEADERS frame (split by HTTP2Stream+ResponseHead.swift), the
// body DATA frames pulled by nghttp2 as flow control allows (a static file is read
// straight into the frame, no other copy). The request head's checks are in
// HTTP2Stream+Head.swift, the request body and its flow control in +Body, trailers in
// +Trailers, WebSockets over HTTP/2 in +Tunnel.

import CNghttp2
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

final class HTTP2Stream {
    unowned let connection: HTTP2Connection
    let id: Int32
    /// From the worker's pool of requests (shared with HTTP/1 connections), and back to
    /// it when the stream goes away holding the only reference (see `deinit`).
    private(set) var request: Request
    let writer: ResponseWriter
    /// The synthesized HTTP/1.1 head the request's ranges index into.
    let input: ByteBuffer

    // The request head as nghttp2 decodes it (checked as nginx checks it:
    // HTTP2Stream+Head.swift).
    var method: [UInt8] = []
    var path: [UInt8] = []
    var authority: [UInt8] = []
    var hostValue: [UInt8] = []
    var fields: [UInt8] = []
    var cookies: [UInt8] = []
    var pseudoSeen: PseudoHeaders = []
    /// A regular field came: pseudo-header fields are no longer allowed.
    var regularSeen = false
    var hasHost = false
    /// A Host line was written from :authority (max_headers counts the client's fields).
    var addedHost = false
    var hasContentLength = false
    var hasTE = false
    /// `:protocol` of an extended CONNECT, and whether the stream is such a tunnel.
    var tunnelProtocol: [UInt8] = []
    var isTunnel = false
    /// The back end accepted the tunnel (its 101 became the stream's 200).
    var tunnelOpened = false
    /// The tunnel's END_STREAM went out before the client's: the client's END_STREAM
    /// is awaited (until `deadline`, lingering_timeout) for a clean close, then the
    /// stream is reset with NO_ERROR (HTTP2Stream+Tunnel.swift).
    var tunnelClosing = false
    /// END_STREAM came with the head (a body announced then is missing).
    var headEndedStream = false
    /// The connection-specific fields nginx refuses on HTTP/2 (TE other than "trailers").
    var forbiddenField: String? = nil
    /// The first fault nginx finds in the head: the stream is answered with it.
    var rejection: RequestParseError? = nil
    /// Decoded header list size (names and values, nginx's measure).
    var headerListSize = 0

    /// `$request_length`: the payload of the HEADERS and CONTINUATION frames (and of
    /// the DATA frames read so far), as nginx counts it.
    var requestLength = 0
    /// The client's half: END_STREAM received.
    var endStreamReceived = false
    var started = false
    /// Request body bytes in the framing the head announces.
    let bodyIn = ByteBuffer(capacity: 0)
    var chunkedBody = false
    /// The request's content handler waits for body bytes or for room to write.
    var waiting = false
    /// The Content-Length field's value (nil: none, or not a number).
    var declaredLength: Int64? = nil
    /// Body bytes received in DATA frames, and those whose window was given back.
    var bodyReceived: Int64 = 0
    var bodyConsumed: Int64 = 0
    /// The request has begun reading the body (its window is open).
    var readingBody = false
    /// The body broke its Content-Length (more, or END_STREAM with less): nginx's 400.
    var bodyFault = false

    // The answer.
    /// A content handler produces the answer later (proxy), driven by events.
    var active = false
    /// No more bytes will be written for the answer.
    var finished = false
    /// The handler has returned with its whole answer written (a stream without a
    /// response head then is reset). Not so after a limit_req delay: `respond()` comes
    /// before the phases run on.
    var answerComplete = false
    /// Bytes of the response head until its empty line.
    var headAccum: [UInt8] = []
    var headParsed = false
    var headSubmitted = false
    var noBody = false
    var status = 0
    var responseChunked: ChunkedDecoder? = nil
    /// `add_trailer` applies to an answer made at once: the trailers are evaluated and
    /// sent after its body (HTTP2Stream+Trailers.swift).
    var trailersAtEnd = false
    /// The response head's fields as nghttp2 name/value pairs (lower-case names).
    var headerBlock: [UInt8] = []
    var headerOffsets: [(name: Range<Int>, value: Range<Int>)] = []
    /// Body bytes queued for DATA frames.
    let out = ByteBuffer(capacity: 0)
    var dataDeferred = false
    /// Held back for a stream nginx would send first (HTTP2Connection+Priority.swift),
    /// and whether the last DATA frame has been produced.
    var priorityDeferred = false
    var eofProduced = false
    /// The stream is gone (closed by either side); its request was ended.
    var closed = false
    var logged = false
    /// Monotonic ms at which the request's content handler wants its timer (0: none).
    var deadline: Int64 = 0

    init(connection: HTTP2Connection, id: Int32) {
        self.connection = connection
        self.id = id
        let worker = connection.worker
        let r =
            worker.takeRequest()
            ?? Request(worker: worker, writer: ResponseWriter(worker: worker), input: ByteBuffer(capacity: 1024))
        request = r
        writer = r.writer
        input = r.input
    }

    /// A stream's request and its buffers serve the next stream or connection, unless
    /// something still holds the request (then it is simply released).
    deinit {
        guard isKnownUniquelyReferenced(&request) else { return }
        let r = request
        r.writer.reset()
        r.input.clear()
        r.input.shrink(to: 1024)
        r.head.reset()
        r.head.headLength = 0
        r.stream = nil
        r.shuttingDown = false
        r.discardRemaining = 0
        r.discardChunked = nil
        r.reset()
        r.worker.returnRequest(r)
    }

    /// How many body bytes may wait for DATA frames before writers are told to wait.
    var queueLimit: Int { max(65536, 2 * chunkSize) }

    /// `http2_chunk_size` of the request's location.
    var chunkSize: Int { request.location?.settings.http2ChunkSize ?? 8192 }

    // MARK: the answer

    /// Bytes of the answer as a handler writes them (head, then body); how many were
    /// taken (0 with room for none: the writer waits).
    func accept(_ p: UnsafeRawPointer, _ count: Int) -> Int {
        var taken = 0
        if !headParsed {
            while taken < count && !headParsed {
                let rest = UnsafeRawBufferPointer(start: p + taken, count: count - taken)
                guard let end = headEnd(in: rest) else {
                    headAccum.append(contentsOf: rest)
                    return count
                }
                headAccum.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<end]))
                taken += end
                parseHead()
            }
            // The head alone goes out at once (a tunnel's 200, a slow upstream's body).
            if headParsed { connection.dataReady(self) }
            if taken == count { return taken }
        }
        if noBody { return count }
        if out.readableCount >= queueLimit { return taken }
        let n = min(count - taken, queueLimit - out.readableCount + 16384)
        let bytes = UnsafeRawBufferPointer(start: p + taken, count: n)
        if responseChunked != nil {
            var off = 0
            decode: while true {
                switch responseChunked!.next(bytes, offset: &off) {
                case .data(let r): out.append(UnsafeRawBufferPointer(rebasing: bytes[r]))
                case .needMore, .done, .error: break decode
                }
            }
        } else {
            out.append(bytes)
        }
        connection.dataReady(self)
        return taken + n
    }

    /// Where the response head being accumulated ends in `bytes` (one past the CRLFCRLF,
    /// which may begin in what `headAccum` holds), or nil.
    @inline(__always)
    private func headEnd(in bytes: UnsafeRawBufferPointer) -> Int? {
        var window: UInt32 = 0
        for b in headAccum.suffix(3) { window = window << 8 | UInt32(b) }
        for i in 0..<bytes.count {
            window = window << 8 | UInt32(bytes[i])
            if window == 0x0D0A_0D0A { return i + 1 }
        }
        return nil
    }

    /// Whether everything of the answer has been queued or read into frames.
    var drained: Bool {
        finished && out.readableCount == 0 && (active || writer.isDrained)
    }

    /// Moves what the writer holds (a handler answered at once) into the queue: the
    /// head and bytes in memory, the parts of a multipart body, compressed blocks. A
    /// file region stays where it is: the DATA callback reads it into the frame.
    func pumpWriter() {
        while true {
            let o = writer.output
            if o.readableCount > 0 {
                let n = accept(o.base + o.readerIndex, o.readableCount)
                o.readerIndex += n
                request.clientSent(n)
                if o.readableCount > 0 { return }
                o.clear()
                continue
            }
            if !headParsed || writer.fileRemaining > 0 { return }
            if writer.compressedStream != nil && StaticFileHandler(request: request).produceCompressedBlock() {
                continue
            }
            if !writer.pendingParts.isEmpty {
                let part = writer.pendingParts.removeFirst()
                o.append(part.prefix)
                writer.fileOffset = part.offset
                writer.fileRemaining = part.length
                continue
            }
            return
        }
    }

    /// nghttp2 asks for the next DATA frame's payload.
    func produce(_ buf: UnsafeMutablePointer<UInt8>, _ length: Int, _ flags: UnsafeMutablePointer<UInt32>) -> Int {
        let max = min(length, chunkSize)
        var n = 0
        if out.readableCount > 0 {
            n = min(max, out.readableCount)
            UnsafeMutableRawPointer(buf).copyMemory(from: out.base + out.readerIndex, byteCount: n)
            out.readerIndex += n
            if out.readableCount == 0 { out.clear() }
            if active && waiting {
                connection.wantsResume(self)
            } else if !active && writer.output.readableCount > 0 {
                // An answer made at once in memory (an SSI page, a long error page) larger
                // than the queue: the rest moves in as the queue drains.
                pumpWriter()
            }
        } else if !active && writer.fileRemaining > 0, let fd = writer.fileEntry?.fd {
            let count = Int(min(Int64(max), writer.fileRemaining))
            switch try? FileSystem.pread(
                fd, into: UnsafeMutableRawPointer(buf), count: count, offset: writer.fileOffset)
            {
            case .processed(let got)? where got > 0:
                n = got
                writer.fileOffset += Int64(got)
                writer.fileRemaining -= Int64(got)
                writer.bodyBytesSent += Int64(got)
                request.clientSent(got)
            default:
                request.fileTruncated()
                writer.releaseFile()
                return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
            }
            if writer.fileRemaining == 0 { pumpWriter() }
        }
        if drained {
            eofProduced = true
            flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
            if hasTrailers && submitTrailers() { flags.pointee |= NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue }
            return n
        }
        if n == 0 {
            dataDeferred = true
            return Int(NGHTTP2_ERR_DEFERRED.rawValue)
        }
        return n
    }
}

extension ResponseWriter {
    /// Nothing is left in memory, in a file region, in parts or a compressed stream.
    var isDrained: Bool { output.readableCount == 0 && isInMemory }
}
