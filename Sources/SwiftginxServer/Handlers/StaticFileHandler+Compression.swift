// On-the-fly compression of static files (`gzip`, `brotli`, `zstd` and their
// `_types`, `_comp_level`, `_min_length`), as nginx's gzip filter does it for a
// file: the decision is ResponseCompression's (shared with the other content
// handlers). The whole file is compressed once and the result is kept on the
// open-file-cache entry (files up to 1 MiB), so a popular asset is compressed
// once per worker, not per request; it is then sent with a Content-Length. Files
// over 8 MiB are compressed while they are sent, block by block as the socket takes
// them (chunked): the ResponseWriter pulls each block with `produceCompressedBlock`.
// ETags become weak, as in nginx.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxPosix

extension StaticFileHandler {
    static let compressLimit: Int64 = 8 << 20
    static let compressCacheLimit: Int64 = 1 << 20

    /// Sends the file compressed when the configuration and the client allow it.
    func sendCompressed(_ entry: OpenFileCache.Entry, settings s: LocationSettings, etag: [UInt8]?) -> Bool {
        guard s.gzip.enabled || s.brotli.enabled || s.zstd.enabled else { return false }
        let size = entry.info.size
        let type = fileType(entry, settings: s)
        let compression = ResponseCompression(request: request)
        guard let (coding, config) = compression.dynamicCoding(settings: s, type: type, length: size, isFile: true)
        else {
            return false
        }
        if request.isHeadOnly {
            // HEAD: the compressed response's head (its length unknown, as nginx's gzip
            // filter clears it), without compressing anything.
            request.beginHead(200)
            request.appendContentType(type)
            request.output.appendHeader("Last-Modified", entry.lastModified)
            request.finishHead(settings: s, mtime: entry.info.mtime) { o in
                if let etag { o.appendHeader("ETag", etag.first == UInt8(ascii: "W") ? etag : Array("W/".utf8) + etag) }
                o.appendHeader("Content-Encoding", Array(coding.rawValue.utf8))
                if s.gzipVary { o.append("Vary: Accept-Encoding\r\n") }
            }
            request.flushResponse()
            return true
        }
        if size > Self.compressLimit {
            return startCompressedStream(
                entry, coding: coding, level: config.level, type: type, settings: s, etag: etag)
        }
        let body: [UInt8]
        if let cached = entry.compressed[coding], cached.level == config.level {
            body = cached.bytes
        } else {
            guard let fresh = compress(entry, coding: coding, level: config.level) else { return false }
            if size <= Self.compressCacheLimit { entry.compressed[coding] = (config.level, fresh) }
            body = fresh
        }
        request.beginHead(200)
        request.appendContentType(type)
        request.appendContentLength(Int64(body.count))
        request.output.appendHeader("Last-Modified", entry.lastModified)
        request.finishHead(settings: s, mtime: entry.info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag.first == UInt8(ascii: "W") ? etag : Array("W/".utf8) + etag) }
            o.appendHeader("Content-Encoding", Array(coding.rawValue.utf8))
            if s.gzipVary { o.append("Vary: Accept-Encoding\r\n") }
        }
        request.appendBody(body)
        request.flushResponse()
        return true
    }

    /// A large file compressed while it is sent: read in 64 KiB blocks only when the socket
    /// has taken the previous output, sent chunked (HTTP/1.1) or until close (HTTP/1.0).
    private func startCompressedStream(
        _ entry: OpenFileCache.Entry, coding: ContentCoding, level: Int, type: String, settings s: LocationSettings,
        etag: [UInt8]?
    ) -> Bool {
        guard let encoder = try? StreamingEncoder(coding: coding, level: level) else { return false }
        let chunked = request.head.version == .http11
        if !chunked { request.keepAlive = false }
        request.beginHead(200)
        request.appendContentType(type)
        if chunked { request.output.append("Transfer-Encoding: chunked\r\n") }
        request.output.appendHeader("Last-Modified", entry.lastModified)
        request.finishHead(settings: s, mtime: entry.info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag.first == UInt8(ascii: "W") ? etag : Array("W/".utf8) + etag) }
            o.appendHeader("Content-Encoding", Array(coding.rawValue.utf8))
            if s.gzipVary { o.append("Vary: Accept-Encoding\r\n") }
        }
        request.writer.sendFile(entry, offset: 0, length: 0)
        request.writer.compressedStream = CompressedStream(encoder: encoder, size: entry.info.size, chunked: chunked)
        request.flushResponse()
        return true
    }

    /// Produces the next block of the request's compressed stream into its output; false
    /// when it has ended. Called by ResponseWriter.flush when the socket took the last one.
    func produceCompressedBlock() -> Bool {
        let writer = request.writer
        guard let cs = writer.compressedStream, !cs.done, let entry = writer.fileEntry else { return false }
        let block = Int(min(Int64(cs.input.count), cs.size - cs.offset))
        cs.staging.removeAll(keepingCapacity: true)
        do {
            if block > 0 {
                let ok = cs.input.withUnsafeMutableBytes {
                    FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: block, offset: cs.offset)
                }
                if !ok {
                    // The file shrank under us: the framing is broken, close.
                    request.logError(
                        "pread() of \"\(String(decoding: request.pathBuffer, as: UTF8.self))\" came up short")
                    request.keepAlive = false
                    cs.done = true
                    return false
                }
                cs.offset += Int64(block)
                var failure: CompressionError? = nil
                var staging = cs.staging
                cs.staging = []
                cs.input.withUnsafeBytes { raw in
                    do throws(CompressionError) {
                        try cs.encoder.compress(UnsafeRawBufferPointer(rebasing: raw[0..<block]), into: &staging)
                    } catch {
                        failure = error
                    }
                }
                cs.staging = staging
                if let failure { throw failure }
            }
            if cs.offset >= cs.size {
                try cs.encoder.finish(into: &cs.staging)
                cs.done = true
            }
        } catch {
            request.logError("\(cs.encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            request.keepAlive = false
            cs.done = true
            return false
        }
        let output = request.output
        if !cs.staging.isEmpty {
            if cs.chunked {
                output.append(string: String(cs.staging.count, radix: 16))
                output.append("\r\n")
            }
            output.append(cs.staging)
            if cs.chunked { output.append("\r\n") }
            writer.bodyBytesSent += Int64(cs.staging.count)
        }
        if cs.done && cs.chunked { output.append("0\r\n\r\n") }
        return true
    }

    /// Reads and compresses the whole file.
    private func compress(_ entry: OpenFileCache.Entry, coding: ContentCoding, level: Int) -> [UInt8]? {
        let size = Int(entry.info.size)
        var original: [UInt8]
        if let contents = entry.contents {
            original = contents
        } else {
            original = [UInt8](repeating: 0, count: size)
            let ok = original.withUnsafeMutableBytes {
                FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: size, offset: 0)
            }
            if !ok { return nil }
        }
        return ResponseCompression(request: request).compressWhole(original, coding: coding, level: level)
    }
}

/// The state of one streamed compressed response.
final class CompressedStream {
    let encoder: StreamingEncoder
    let size: Int64
    let chunked: Bool
    var offset: Int64 = 0
    var done = false
    var input = [UInt8](repeating: 0, count: 64 * 1024)
    var staging: [UInt8] = []

    init(encoder: StreamingEncoder, size: Int64, chunked: Bool) {
        self.encoder = encoder
        self.size = size
        self.chunked = chunked
    }
}
