// The charset module's recoding of a static file: with `source_charset` and `charset`
// naming two charsets a `charset_map` links (types per `charset_types`), the file is
// served recoded, as nginx's charset filter does. The file is recoded whole in memory
// (files up to 16 MiB; a larger one is served as it is, with a warning); a
// byte-for-byte table keeps lengths, so ranges still apply. What Content-Type announces
// is decided in Request.charset(for:) (Request+ResponseHead.swift).

import SwiftginxConfig
import SwiftginxPosix

extension StaticFileHandler {
    static let recodeLimit: Int64 = 16 << 20

    /// The file's bytes recoded, when a charset_map applies to this response.
    func recodedContents(_ entry: OpenFileCache.Entry, settings s: LocationSettings) -> (
        bytes: [UInt8], keepsLength: Bool
    )? {
        let type = fileType(entry, settings: s)
        guard let table = request.charsetRecoding(for: type) else { return nil }
        let size = entry.info.size
        if size > Self.recodeLimit {
            request.logError(
                "\"\(String(decoding: request.pathBuffer, as: UTF8.self))\" is too large to recode, sent as it is",
                level: .warn)
            return nil
        }
        var original: [UInt8]
        if let contents = entry.contents {
            original = contents
        } else {
            original = [UInt8](repeating: 0, count: Int(size))
            let ok = original.withUnsafeMutableBytes {
                FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: Int(size), offset: 0)
            }
            if !ok { return nil }
        }
        var out: [UInt8] = []
        out.reserveCapacity(original.count)
        table.recode(original, into: &out)
        return (out, table.keepsLength)
    }
}
