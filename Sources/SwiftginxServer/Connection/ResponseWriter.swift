// What a request answers through: the response bytes in memory (head and small
// bodies; for HTTP/1 several pipelined responses share the buffer and go out in one
// write), then a file region sent with sendfile, the further parts of a multipart
// body, or a body produced as the socket takes it (a large file compressed on the
// fly). It counts what was sent for `$bytes_sent`/`$body_bytes_sent` and keeps the
// head for `$sent_http_*`. `flush` moves it all to a Transport with back-pressure:
// it stops at the first write that would block and continues on the next call.
// The head itself is serialized by Request+ResponseHead.swift.

import SwiftginxPosix

/// A piece of a multipart body sent after the current one: bytes, then a file region.
struct BodyPart {
    let prefix: [UInt8]
    let offset: Int64
    let length: Int64
}

final class ResponseWriter {
    enum FlushResult {
        case done
        case blocked
        case failed(SystemError)
    }

    /// The worker owns this object and outlives it; `unowned(unsafe)` reads it without
    /// the checked reference count `unowned` costs (about 490 instructions per request).
    unowned(unsafe) let worker: Worker
    let output: ByteBuffer
    /// Where the current response starts in `output`.
    var responseStart = 0
    /// Size of the current response head, and body bytes produced or sent.
    var responseHeadLength = 0
    var bodyBytesSent: Int64 = 0
    /// A file body sent with sendfile after `output`.
    var fileEntry: OpenFileCache.Entry? = nil
    var fileOffset: Int64 = 0
    var fileRemaining: Int64 = 0
    /// Further pieces of a multipart/byteranges body: bytes, then a file region.
    var pendingParts: [BodyPart] = []
    /// A large file being compressed as it is sent.
    var compressedStream: CompressedStream? = nil
    /// The last response head written (`$sent_http_*`).
    var lastResponseHead: [UInt8] = []
    /// True while `add_header` values are evaluated: `$sent_http_*` then reads the head
    /// being written (as nginx's headers filter sees the fields added before).
    var buildingHead = false

    init(worker: Worker, capacity: Int = 1024) {
        self.worker = worker
        output = ByteBuffer(capacity: capacity)
    }

    func reset() {
        output.clear()
        responseStart = 0
        responseHeadLength = 0
        bodyBytesSent = 0
        releaseFile()
    }

    /// A new response starts after what is still unsent in `output`.
    @inline(__always) func beginResponse() {
        responseStart = output.writerIndex
        responseHeadLength = 0
        bodyBytesSent = 0
        if !lastResponseHead.isEmpty { lastResponseHead.removeAll(keepingCapacity: true) }
    }

    /// The whole response is in `output` (no file, parts or stream to follow).
    @inline(__always) var isInMemory: Bool {
        fileRemaining == 0 && pendingParts.isEmpty && compressedStream == nil
    }

    /// Appends a body held in memory.
    func appendBody(_ bytes: UnsafeRawBufferPointer) {
        output.append(bytes)
        bodyBytesSent += Int64(bytes.count)
    }

    func appendBody(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { appendBody($0) }
    }

    /// Sends a file region after what is in memory.
    func sendFile(_ entry: OpenFileCache.Entry, offset: Int64, length: Int64) {
        worker.files.retain(entry)
        fileEntry = entry
        fileOffset = offset
        fileRemaining = length
    }

    /// Writes pending output to `transport`; `.done` when everything was sent.
    /// The request's static handler produces the blocks of a compressed stream; the
    /// request hears of a file that shrank under us (then the connection cannot be kept).
    func flush(_ transport: Transport, request: Request) -> FlushResult {
        do {
            while true {
                // limit_rate: what the rate allows now (Connection/SendRate.swift).
                let allowed = request.clientAllowance()
                if allowed == 0 && (output.readableCount > 0 || fileRemaining > 0) { return .blocked }
                if output.readableCount > 0 {
                    let more = fileRemaining > 0
                    let count = min(output.readableCount, allowed)
                    switch try transport.write(output.base + output.readerIndex, count, more: more) {
                    case .wouldBlock: return .blocked
                    case .processed(let n):
                        output.readerIndex += n
                        request.clientSent(n)
                    }
                    continue
                }
                if fileRemaining > 0 {
                    let chunk = Int(min(fileRemaining, Int64(min(allowed, 1 << 30))))
                    switch try transport.sendfile(
                        fileEntry?.fd ?? -1, offset: &fileOffset, count: chunk, bounce: worker.tlsBuffer)
                    {
                    case .wouldBlock: return .blocked
                    case .processed(0):
                        // The file shrank under us: the framing is broken, close.
                        request.fileTruncated()
                        fileRemaining = 0
                        pendingParts.removeAll()
                    case .processed(let n):
                        fileRemaining -= Int64(n)
                        bodyBytesSent += Int64(n)
                        request.clientSent(n)
                    }
                    continue
                }
                if compressedStream != nil && StaticFileHandler(request: request).produceCompressedBlock() {
                    continue
                }
                if !pendingParts.isEmpty {
                    let part = pendingParts.removeFirst()
                    output.append(part.prefix)
                    fileOffset = part.offset
                    fileRemaining = part.length
                    continue
                }
                return .done
            }
        } catch {
            return .failed(error)
        }
    }

    /// Drops the file body (and what follows it) of the current response.
    func releaseFile() {
        if let e = fileEntry {
            worker.files.release(e)
            fileEntry = nil
        }
        fileRemaining = 0
        if !pendingParts.isEmpty { pendingParts.removeAll() }
        compressedStream = nil
    }
}
