// `try_files` (nginx's precontent phase): test each candidate under the location's
// root (a trailing "/" asks for a directory); the first that exists becomes the
// request's URI and the location's content step serves it. Otherwise the last parameter decides: an
// internal redirect to a URI, a named location, or a status code.

import SwiftginxConfig
import SwiftginxPosix

extension Request {
    func runTryFiles(_ t: TryFiles) -> StepResult {
        guard let location else { return .done }
        let s = location.settings
        for candidate in t.candidates {
            let value = evaluate(candidate)
            let wantsDirectory = value.last == UInt8(ascii: "/")
            var path: [UInt8] = []
            if let alias = s.alias {
                // As nginx: the alias replaces the location prefix in the candidate.
                path = evaluate(alias)
                let prefix = location.prefix.utf8.count
                path += value.count >= prefix ? value[prefix...] : value[...]
            } else {
                path = evaluate(s.root)
                if path.last == UInt8(ascii: "/") { path.removeLast() }
                path += value
            }
            if wantsDirectory && path.count > 1 { path.removeLast() }
            path.append(0)
            let info = path.withUnsafeBufferPointer { p in
                try? FileSystem.info(path: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
            guard let info, wantsDirectory ? info.isDirectory : !info.isDirectory else {
                trace?.note(
                    "candidate \(candidate.source): \(String(decoding: path.dropLast(), as: UTF8.self)) missing")
                continue
            }
            trace?.note("candidate \(candidate.source): \(String(decoding: path.dropLast(), as: UTF8.self)) exists")
            // Found: serve it from this location under the new URI (args are kept).
            var uri = value
            if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
                self.args = Array(uri[(q + 1)...])
                self.hasArgs = true
                uri = Array(uri[..<q])
            }
            self.uri = uri
            return .next
        }
        switch t.fallback {
        case .code(let code):
            trace?.note("no candidate exists: \(code)")
            respondError(code)
        case .named(let name):
            guard let server = self.server, let named = server.locations.named(name) else {
                logError("could not find named location \"\(name)\"")
                respondError(500)
                return .done
            }
            self.isInternal = true
            runLocation(named, captures: self.captures)
            return .done
        case .uri(let value):
            let uri = evaluate(value)
            if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
                internalRedirect(to: Array(uri[..<q]), args: Array(uri[(q + 1)...]))
            } else {
                internalRedirect(to: uri, args: nil)
            }
        }
        return .done
    }
}
