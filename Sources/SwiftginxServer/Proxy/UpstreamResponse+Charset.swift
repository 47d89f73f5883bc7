// nginx's charset filter on a proxied response: the location's `charset` is announced
// in the Content-Type when the upstream gave none (for `charset_types`), or replaces
// the upstream's with `override_charset on`; when the two charsets differ and a
// `charset_map` links them byte for byte, the body is recoded as it is relayed
// (UpstreamResponse+Relay.swift); a table to or from UTF-8 changes the length, so the
// answer is then sent chunked (or until close).

import SwiftginxConfig

extension UpstreamResponse {
    /// The client's Content-Type for the upstream's `raw` one, or nil to keep it; sets
    /// `recoder` when the body must be recoded.
    func charsetContentType(_ raw: Slice<UnsafeRawBufferPointer>, location l: Location, _ x: ProxyExchange)
        -> [UInt8]?
    {
        // The upstream's X-Accel-Charset names the charset to send, whatever the location says.
        var accel: String? = nil
        if !request.worker.generation.config.charsetMaps.isEmptyOfNames,
            !x.settings.ignoreHeaders.contains("x-accel-charset"), let v = headerValue("x-accel-charset")
        {
            let name = String(decoding: v, as: UTF8.self)
            if request.worker.generation.config.charsetMaps.isKnown(name) {
                accel = name
            } else {
                request.logError("unknown charset \"\(name)\" to override")
            }
        }
        guard var charset = accel ?? l.settings.charset else { return nil }
        let text = Array(raw)
        // "type; charset=name": the type part and the upstream's charset, if any.
        let semicolon = text.firstIndex(of: UInt8(ascii: ";")) ?? text.endIndex
        var typeEnd = semicolon
        while typeEnd > 0, text[typeEnd - 1] == 32 || text[typeEnd - 1] == 9 { typeEnd -= 1 }
        let type = Array(text[..<typeEnd])
        var upstreamCharset: String? = nil
        let lower = text.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        let key = Array("charset=".utf8)
        if lower.count >= key.count {
            for i in semicolon..<max(semicolon, lower.count - key.count + 1)
            where lower[i..<(i + key.count)].elementsEqual(key) {
                var name = text[(i + key.count)...].prefix { $0 != UInt8(ascii: ";") && $0 != 32 }
                if name.first == UInt8(ascii: "\""), name.last == UInt8(ascii: "\""), name.count >= 2 {
                    name = name.dropFirst().dropLast()
                }
                upstreamCharset = String(decoding: name, as: UTF8.self)
                break
            }
        }
        if accel != nil {
            // As asked: no type or override_charset check.
        } else if upstreamCharset != nil {
            guard l.settings.overrideCharset else { return nil }
        } else {
            let t = String(decoding: type, as: UTF8.self).lowercased()
            guard l.settings.charsetTypes.contains(t) || l.settings.charsetTypes.contains("*") else { return nil }
        }
        if accel == nil, let v = l.settings.charsetVariable {
            charset = String(decoding: request.evaluate(v), as: UTF8.self)
            if charset.isEmpty { return nil }
        }
        let source = upstreamCharset ?? l.settings.sourceCharset
        if let source, source.lowercased() != charset.lowercased() {
            // A content-encoded body cannot be recoded: left as it is, as nginx does.
            if hasUpstreamHeader("content-encoding") { return nil }
            guard let table = request.worker.generation.config.charsetMaps.table(from: source, to: charset) else {
                request.logError("no \"charset_map\" between the charsets \"\(source)\" and \"\(charset)\"")
                return nil
            }
            recoder = table
        }
        return type + Array("; charset=".utf8) + Array(charset.utf8)
    }
}
