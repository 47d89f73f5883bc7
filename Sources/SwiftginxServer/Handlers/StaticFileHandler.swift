// Static content, as nginx's index and static modules do it: map the URI to a
// path under `root` (or `alias`), try `index` files for a directory URI with an
// internal redirect, redirect a directory without its slash, find the file (or a
// precompressed variant of it) in the open-file cache, and answer the errors a
// lookup can end in. `StaticFileHandler` is made per request by the content phase
// (`StaticFileHandler(request:).serve(_:)`) and lives for that call: it is the
// request reference and nothing else, so making it costs nothing. Conditional
// requests, ranges and the body are in StaticFileHandler+Response.swift, on-the-fly
// compression in StaticFileHandler+Compression.swift, listings in
// StaticFileHandler+Autoindex.swift.

import Glibc
import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

/// The static file content handler: answers one request from the file system.
struct StaticFileHandler {
    /// The request being answered; the handler reads its head and answers through it.
    let request: Request

    func serve(_ location: Location) {
        // The settings are read through `location` in place: binding or passing the whole
        // LocationSettings struct copies it (about 150 instructions a copy), so only the
        // rare paths below pass it whole.
        let method =
            (request.errorPageUsed || request.methodIsGET) && request.head.method != .head
            ? HTTPMethod.get : request.head.method
        if method != .get && method != .head {
            request.trace?.note(
                "handler: static files answer \(String(decoding: request.headBytes[request.head.methodBytes], as: UTF8.self)) with 405"
            )
            request.keepAlive = request.keepAlive && !request.bodyPending
            request.respondError(405)
            return
        }
        var path = request.pathBuffer
        request.pathBuffer = []  // hand the storage over without a copy; returned below
        defer { request.pathBuffer = path }
        documentPath(location, into: &path)
        if request.uri.last == UInt8(ascii: "/") {
            request.trace?.note("handler: index in \(String(decoding: path, as: UTF8.self))")
            serveIndex(location, directory: path)
            return
        }
        request.trace?.note("handler: static file \(String(decoding: path, as: UTF8.self))")
        if location.settings.disableSymlinks != .off,
            let e = request.symlinkViolation(path, settings: location.settings)
        {
            request.logError(
                "open() \"\(String(decoding: path, as: UTF8.self))\" failed (\(e.errno): \(SystemError.message(e.errno)))"
            )
            request.respondError(403)
            return
        }
        let precompressed =
            location.settings.gzipStatic != .off || location.settings.brotliStatic != .off
            || location.settings.zstdStatic != .off
        if precompressed, let (variant, coding) = precompressedVariant(path: &path, settings: location.settings) {
            sendFile(variant, location, encoding: coding, vary: true)
            return
        }
        switch lookupFile(&path, policy: OpenFileCache.Policy(location.settings.openFileCache)) {
        case .file(let entry):
            sendFile(entry, location, vary: precompressed)
        case .directory:
            // The URI escaped as nginx escapes a Location (a space is %20 again).
            var target = URIEscape.uri.escaped(request.uri)
            target.append(UInt8(ascii: "/"))
            if request.hasArgs {
                target.append(UInt8(ascii: "?"))
                target += request.args
            }
            request.sendRedirect(301, location: target, settings: location.settings)
        case .notRegular:
            request.logError("\"\(String(decoding: path, as: UTF8.self))\" is not a regular file")
            request.respondError(404)
        case .failure(let error, let call):
            if call == "fstat" {
                request.logError(
                    "fstat() \"\(String(decoding: path, as: UTF8.self))\" failed (\(error.errno): \(SystemError.message(error.errno)))",
                    level: .crit)
                request.respondError(500)
            } else {
                fileError(error, path: path, settings: location.settings)
            }
        }
    }

    /// The open-file-cache lookup of `path` (passed inout only to append the NUL in place).
    private func lookupFile(_ path: inout [UInt8], policy: OpenFileCache.Policy) -> OpenFileCache.Lookup {
        // The cache key is the NUL-terminated path, usable as a C string as it is.
        path.append(0)
        defer { path.removeLast() }
        let worker = request.worker
        return path.withUnsafeBufferPointer { p in
            worker.files.lookup(
                path: path, cpath: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self),
                now: worker.now, policy: policy)
        }
    }

    /// `gzip_static` / `brotli_static` / `zstd_static`: the precompressed file next to
    /// `path` (".gz", ".br", ".zst") for the best coding the client accepts (q-values;
    /// ties go to br, zstd, gzip), or the first existing one switched to `always`. As in
    /// nginx the original file need not exist. HTTP/1.0 clients get no variant unless
    /// `always` (nginx's gzip_http_version 1.1).
    private func precompressedVariant(path: inout [UInt8], settings s: LocationSettings) -> (
        OpenFileCache.Entry, String
    )? {
        // Bit i of a mask stands for Self.staticCodings[i]; no arrays are built per request.
        var enabled = 0
        var always = 0
        func note(_ m: StaticCompression, _ bit: Int) {
            if m != .off { enabled |= bit }
            if m == .always { always |= bit }
        }
        note(s.brotliStatic, 1)
        note(s.zstdStatic, 2)
        note(s.gzipStatic, 4)
        let buf = request.headBytes
        let acceptValue =
            request.head.version == .http11 ? request.head.header(HeaderName.acceptEncoding, in: buf) : nil
        var remaining = enabled
        while remaining != 0 {
            let index: Int
            if remaining & always != 0 {
                index = (remaining & always).trailingZeroBitCount
            } else if let v = acceptValue,
                let coding = AcceptEncoding.preferred(
                    UnsafeRawBufferPointer(rebasing: buf[v]), available: Self.codingSets[remaining]),
                let i = Self.staticCodings.firstIndex(of: coding)
            {
                index = i
            } else {
                return nil
            }
            remaining &= ~(1 << index)
            let base = path.count
            path.append(contentsOf: Self.staticSuffixes[index])
            let lookup = lookupFile(&path, policy: OpenFileCache.Policy(s.openFileCache))
            path.removeLast(path.count - base)
            if case .file(let entry) = lookup { return (entry, Self.staticCodings[index].rawValue) }
        }
        return nil
    }

    /// Precompressed codings in preference order, their file suffixes, and the
    /// coding list for every subset (indexed by bit mask).
    static let staticCodings: [ContentCoding] = [.br, .zstd, .gzip]
    static let staticSuffixes: [[UInt8]] = [Array(".br".utf8), Array(".zst".utf8), Array(".gz".utf8)]
    static let codingSets: [[ContentCoding]] = (0..<8).map { mask in
        staticCodings.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
    }

    /// root + uri, or alias + (uri without the location's prefix) (`$request_filename`).
    func documentPath(_ location: Location) -> [UInt8] {
        var p: [UInt8] = []
        documentPath(location, into: &p)
        return p
    }

    func documentPath(_ location: Location, into p: inout [UInt8]) {
        if location.settings.alias == nil, location.settings.root.segments.count == 1,
            case .literal(let root) = location.settings.root.segments[0]
        {
            // The usual case, a literal root: its bytes replace the last path at once.
            p.replaceAll(with: root)
            if p.last == UInt8(ascii: "/") { p.removeLast() }
            p += request.uri
            return
        }
        let s = location.settings
        p.removeAll(keepingCapacity: true)
        if let alias = s.alias {
            appendValue(alias, to: &p)
            // try_files found a file under a regex location's alias: alias + URI.
            if request.addURIToAlias {
                p += request.uri
                return
            }
            guard let prefixCount = s.aliasPrefixLength else { return }
            if request.uri.count >= prefixCount {
                p += request.uri[prefixCount...]
            }
            return
        }
        appendValue(s.root, to: &p)
        if p.last == UInt8(ascii: "/") { p.removeLast() }
        p += request.uri
    }

    /// Appends a value without allocating when it is a single literal.
    private func appendValue(_ v: ComplexValue, to p: inout [UInt8]) {
        if v.segments.count == 1, case .literal(let b) = v.segments[0] {
            p += b
        } else {
            p += request.evaluate(v)
        }
    }

    /// A URI ending in '/': the first existing index file, by internal redirect.
    private func serveIndex(_ location: Location, directory: [UInt8]) {
        let s = location.settings
        for index in s.index {
            let name = request.evaluate(index)
            if name.first == UInt8(ascii: "/") {
                // An absolute index is used as it is, as the last resort (nginx).
                request.internalRedirect(to: name, args: nil)
                return
            }
            var candidate = directory + name
            candidate.append(0)
            let exists = candidate.withUnsafeBufferPointer { p in
                (try? FileSystem.info(path: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)))
                    != nil
            }
            request.trace?.note(
                "index \(String(decoding: candidate.dropLast(), as: UTF8.self)): \(exists ? "exists" : "missing")")
            if exists {
                request.internalRedirect(to: request.uri + name, args: nil)
                return
            }
        }
        var dir = directory
        dir.append(0)
        let dirInfo = dir.withUnsafeBufferPointer { p in
            Result { () throws(SystemError) in
                try FileSystem.info(path: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
        }
        let dirPath = String(decoding: directory, as: UTF8.self)
        switch dirInfo {
        case .success(let info) where info.isDirectory:
            if s.autoindex {
                sendAutoindex(directory: directory, settings: s)
                return
            }
            request.logError("directory index of \"\(dirPath)\" is forbidden")
            request.respondError(403)
        case .success:
            request.respondError(404)
        case .failure(let e):
            if e.errno == ENOENT || e.errno == ENOTDIR {
                if s.logNotFound {
                    let first = s.index.first.map { String(decoding: request.evaluate($0), as: UTF8.self) } ?? ""
                    request.logError("\"\(dirPath)\(first)\" is not found (2: No such file or directory)")
                }
                request.respondError(404)
            } else {
                fileError(e, path: directory, settings: s)
            }
        }
    }

    /// An open() failure answered as nginx does: 404 (logged when log_not_found), 403, 500.
    private func fileError(_ e: SystemError, path: [UInt8], settings: LocationSettings) {
        func text() -> String {
            "open() \"\(String(decoding: path, as: UTF8.self))\" failed (\(e.errno): \(SystemError.message(e.errno)))"
        }
        switch e.errno {
        case ENOENT, ENOTDIR, ENAMETOOLONG:
            if settings.logNotFound { request.logError(text()) }
            request.respondError(404)
        case EACCES:
            request.logError(text())
            request.respondError(403)
        default:
            request.logError(text(), level: .crit)
            request.respondError(500)
        }
    }
}
