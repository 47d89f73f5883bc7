// `try_files` (nginx's precontent phase): test each candidate under the location's
// root (a trailing "/" asks for a directory); the first that exists becomes the
// request's URI and the location's content step serves it. Otherwise the last
// parameter decides: an internal redirect to a URI, a named location, or a status
// code. A namespace of functions taking the request, run by the phase engine.

import SwiftginxConfig
import SwiftginxPosix

enum TryFilesHandler {
    static func run(_ r: Request, _ t: TryFiles) -> Request.StepResult {
        guard let location = r.location else { return .done }
        let s = location.settings
        for candidate in t.candidates {
            // A trailing "/" written in the parameter asks for a directory; it is not part
            // of the name tested (nor of the URI then served: a directory found is
            // redirected to "dir/"). A value that only evaluates to a name ending in "/"
            // (`$uri` for "/dir/") asks for a file, as in nginx.
            var name = Variables.evaluate(r, candidate)
            let wantsDirectory = candidate.source.hasSuffix("/")
            if wantsDirectory && name.last == UInt8(ascii: "/") { name.removeLast() }
            var path: [UInt8]
            // The alias replaces the prefix of the location that set it when the name
            // starts with it (nginx compares it with the URI's first bytes).
            var aliasCut = 0
            if let alias = s.alias {
                path = Variables.evaluate(r, alias)
                if let n = s.aliasPrefixLength, n <= r.uri.count, name.starts(with: r.uri[..<n]) {
                    aliasCut = n
                }
                path += name[aliasCut...]
            } else {
                path = Variables.evaluate(r, s.root)
                if path.last == UInt8(ascii: "/") { path.removeLast() }
                path += name
            }
            path.append(0)
            let info = path.withUnsafeBufferPointer { p in
                try? FileSystem.info(path: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
            guard let info, wantsDirectory ? info.isDirectory : !info.isDirectory, r.fileTestAllowed(path) else {
                r.trace?.note(
                    "candidate \(candidate.source): \(String(decoding: path.dropLast(), as: UTF8.self)) missing")
                continue
            }
            r.trace?.note("candidate \(candidate.source): \(String(decoding: path.dropLast(), as: UTF8.self)) exists")
            // Found: serve it from this location under the new URI (args are kept).
            var uri = name
            if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
                r.args = Array(uri[(q + 1)...])
                r.hasArgs = true
                uri = Array(uri[..<q])
            }
            if s.alias != nil {
                if let n = s.aliasPrefixLength {
                    r.uri = Array(r.uri[..<min(n, r.uri.count)]) + uri[aliasCut...]
                } else if !wantsDirectory {
                    // A regex location's alias: the file is the alias followed by the name.
                    r.uri = uri
                    r.addURIToAlias = true
                }
            } else {
                r.uri = uri
            }
            return .next
        }
        switch t.fallback {
        case .code(let code):
            r.trace?.note("no candidate exists: \(code)")
            ErrorPages.respond(r, code)
        case .named(let name):
            guard let server = r.server, let named = server.locations.named(name) else {
                r.logError("could not find named location \"\(name)\"")
                ErrorPages.respond(r, 500)
                return .done
            }
            r.runNamedLocation(named, name: name, captures: r.captures)
            return .done
        case .uri(let value):
            let uri = Variables.evaluate(r, value)
            if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
                r.internalRedirect(to: Array(uri[..<q]), args: Array(uri[(q + 1)...]))
            } else {
                r.internalRedirect(to: uri, args: nil)
            }
        }
        return .done
    }
}
