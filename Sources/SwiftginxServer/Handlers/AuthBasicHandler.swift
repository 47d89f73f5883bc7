// `auth_basic realm` and `auth_basic_user_file file` (nginx's access phase): the
// `Authorization: Basic` credentials are checked against a password file read for each
// request, as nginx's ngx_http_auth_basic_module does. No or bad credentials, an unknown
// user or a wrong password are a 401 with `WWW-Authenticate: Basic realm="..."`; a
// missing file is a 403, any other file error a 500 (nginx's statuses and log lines).
// Password formats as nginx's ngx_crypt: `{PLAIN}`, `{SHA}`, `{SSHA}`, `$apr1$` (Apache
// MD5, done here: libcrypt does not know it) and whatever crypt_r(3) knows ($1$, $5$,
// $6$, bcrypt, DES). The decoded user is also `$remote_user`, with or without auth_basic.
//
// `check` decides without answering (the hook for `satisfy any`, which combines it with
// the other access modules); `run`, the phase step, answers the denial itself.

import COpenSSL
import Glibc
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxRouting

enum AuthBasicHandler {
    /// The outcome of the check, as nginx's access handler return codes.
    enum Verdict: Equatable {
        /// Not configured for this request (the realm evaluated to "off"): NGX_DECLINED.
        case declined
        /// The credentials are right: NGX_OK.
        case allowed
        /// Refused with this status (401 with the challenge already in the request's
        /// carried headers, 403 for a missing file, 500 for other failures).
        case denied(Int)
    }

    /// The phase step: declined goes on; allowed and denied go through the request's
    /// `satisfy` rule (a 500 — an unreadable file — ends the request at once, as nginx).
    static func run(_ r: Request) -> Request.StepResult {
        if let trace = r.trace {
            trace.note("auth_basic: the Basic credentials are checked against the user file; explained as allowed")
            return .next
        }
        switch check(r) {
        case .declined: return .next
        case .allowed: return r.accessGranted()
        case .denied(let status) where status == 401 || status == 403: return r.denyAccess(status)
        case .denied(let status):
            ErrorPages.respond(r, status)
            return .done
        }
    }

    /// Checks the request against its location's `auth_basic` settings. On a 401 the
    /// `WWW-Authenticate` challenge is added to the response, as nginx's set_realm does.
    static func check(_ r: Request) -> Verdict {
        guard let settings = r.location?.settings, let realmValue = settings.authBasic,
            let fileValue = settings.authBasicUserFile
        else { return .declined }
        let realm = Variables.evaluate(r, realmValue)
        if realm == Array("off".utf8) { return .declined }
        guard let (user, password) = credentials(r) else {
            r.logInfo("no user/password was provided for basic authentication")
            return challenge(r, realm)
        }
        var path = Variables.evaluate(r, fileValue)
        if path.first != UInt8(ascii: "/") {
            // A value with variables resolves against the conf prefix per request.
            path = settings.authBasicUserFileBase + path
        }
        let pathText = String(decoding: path, as: UTF8.self)
        let file: [UInt8]
        do {
            file = try PasswordFiles.read(path)
        } catch {
            // nginx: a missing file is a 403 logged at error level, anything else a 500 at crit.
            let missing = error.call == "open" && error.errno == ENOENT
            let reason = "(\(error.errno): \(SystemError.message(error.errno)))"
            r.logError("\(error.call)() \"\(pathText)\" failed \(reason)", level: missing ? .error : .crit)
            return .denied(missing ? 403 : 500)
        }
        let userText = String(decoding: user, as: UTF8.self)
        guard let stored = storedHash(in: file, user: user) else {
            r.logError("user \"\(userText)\" was not found in \"\(pathText)\"")
            return challenge(r, realm)
        }
        let key = password.prefix { $0 != 0 }
        if let computed = hash(Array(key), setting: stored), constantTimeEqual(computed, stored) {
            return .allowed
        }
        r.logError("user \"\(userText)\": password mismatch")
        return challenge(r, realm)
    }

    /// 401 with `WWW-Authenticate: Basic realm="<realm>"` (the realm as it is: nginx
    /// does not escape quotes in it).
    private static func challenge(_ r: Request, _ realm: [UInt8]) -> Verdict {
        r.carriedHeaders += Array("WWW-Authenticate: Basic realm=\"".utf8) + realm + [UInt8(ascii: "\""), 13, 10]
        return .denied(401)
    }

    // MARK: - credentials

    /// `$remote_user`: the user of the request's Basic credentials, if any.
    static func appendUser(_ r: Request, to out: ByteBuffer) {
        if let (user, _) = credentials(r) { out.append(user) }
    }

    /// The user and password of `Authorization: Basic <base64 of user:password>`, parsed
    /// as nginx's ngx_http_auth_basic_user: nil when there is no such header, the scheme
    /// is not Basic, the base64 is bad, or the user is empty or has no ":".
    static func credentials(_ r: Request) -> (user: [UInt8], password: [UInt8])? {
        guard r.head.headLength > 0 else { return nil }
        let buf = r.headBytes
        guard let range = r.head.header(HeaderName.authorization, in: buf) else { return nil }
        let value = buf[range]
        let scheme = Array("basic ".utf8)
        guard value.count >= scheme.count else { return nil }
        var i = value.startIndex
        for c in scheme {
            let b = value[i]
            guard (b >= 65 && b <= 90 ? b | 0x20 : b) == c else { return nil }
            i += 1
        }
        while i < value.endIndex && value[i] == UInt8(ascii: " ") { i += 1 }
        guard i < value.endIndex, let decoded = Base64.decode(value[i...]) else { return nil }
        guard let colon = decoded.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return nil }
        return (Array(decoded[..<colon]), Array(decoded[(colon + 1)...]))
    }

    // MARK: - the password file

    /// The stored hash of `user`: the first line `user:hash[:comment]` (nginx's parser:
    /// lines starting with `#` or CR are skipped; the hash ends at LF, CR or ":").
    static func storedHash(in file: [UInt8], user: [UInt8]) -> [UInt8]? {
        var start = 0
        let n = file.count
        while start < n {
            var end = start
            while end < n && file[end] != 10 { end += 1 }
            defer { start = end + 1 }
            let first = file[start]
            if start == end || first == UInt8(ascii: "#") || first == 13 { continue }
            guard end - start > user.count, file[start + user.count] == UInt8(ascii: ":") else { continue }
            var same = true
            for k in 0..<user.count where file[start + k] != user[k] {
                same = false
                break
            }
            guard same else { continue }
            var p = start + user.count + 1
            let from = p
            while p < end && file[p] != 13 && file[p] != UInt8(ascii: ":") { p += 1 }
            return Array(file[from..<p])
        }
        return nil
    }

    // MARK: - password hashes (nginx's ngx_crypt)

    /// The hash of `key` in the format of `setting`; nil when it cannot be computed.
    static func hash(_ key: [UInt8], setting: [UInt8]) -> [UInt8]? {
        if setting.starts(with: Array("$apr1$".utf8)) { return apr1(key, setting: setting) }
        if setting.starts(with: Array("{PLAIN}".utf8)) { return Array("{PLAIN}".utf8) + key }
        if setting.starts(with: Array("{SSHA}".utf8)) {
            // The stored base64 is the SHA-1 digest followed by the salt.
            var decoded = Base64.decode(setting[6...]) ?? []
            if decoded.count < 20 { decoded = [UInt8](repeating: 0, count: 20) }
            let salt = Array(decoded[20...])
            return Array("{SSHA}".utf8) + Base64.encode(digest(key + salt, EVP_sha1()) + salt)
        }
        if setting.starts(with: Array("{SHA}".utf8)) {
            return Array("{SHA}".utf8) + Base64.encode(digest(key, EVP_sha1()))
        }
        return PasswordFiles.crypt(key: key, setting: setting)
    }

    /// Apache's MD5 crypt (`$apr1$salt$hash`), as nginx's ngx_crypt_apr1.
    static func apr1(_ key: [UInt8], setting: [UInt8]) -> [UInt8] {
        let magic = Array("$apr1$".utf8)
        var salt: [UInt8] = []
        for c in setting.dropFirst(magic.count) {
            if c == UInt8(ascii: "$") || salt.count == 8 { break }
            salt.append(c)
        }
        var final = digest(key + salt + key, EVP_md5())
        var ctx = key + magic + salt
        var n = key.count
        while n > 0 {
            ctx += final.prefix(min(n, 16))
            n -= 16
        }
        var i = key.count
        while i > 0 {
            ctx.append(i & 1 == 1 ? 0 : key.first ?? 0)
            i >>= 1
        }
        final = digest(ctx, EVP_md5())
        for i in 0..<1000 {
            var c: [UInt8] = i & 1 == 1 ? key : final
            if i % 3 != 0 { c += salt }
            if i % 7 != 0 { c += key }
            c += i & 1 == 1 ? final : key
            final = digest(c, EVP_md5())
        }
        var out = magic + salt + [UInt8(ascii: "$")]
        func to64(_ v: Int, _ count: Int) {
            var v = v
            for _ in 0..<count {
                out.append(cryptAlphabet[v & 0x3f])
                v >>= 6
            }
        }
        for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
            to64(Int(final[a]) << 16 | Int(final[b]) << 8 | Int(final[c]), 4)
        }
        to64(Int(final[11]), 2)
        return out
    }

    private static let cryptAlphabet = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    private static func digest(_ data: [UInt8], _ md: OpaquePointer?) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        _ = EVP_Digest(data, data.count, &out, &length, md, nil)
        return Array(out.prefix(Int(length)))
    }

    /// Equal bytes, in time that depends only on the lengths.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// Base64 (RFC 4648) as nginx's ngx_decode_base64 reads it: the text ends at the first
/// "=", any other byte outside the alphabet is an error, and a length of 4n+1 is too.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let values: [UInt8] = {
        var t = [UInt8](repeating: 0xff, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    static func decode<C: Collection>(_ text: C) -> [UInt8]? where C.Element == UInt8 {
        var sextets: [UInt8] = []
        sextets.reserveCapacity(text.count)
        for c in text {
            if c == UInt8(ascii: "=") { break }
            let v = values[Int(c)]
            if v == 0xff { return nil }
            sextets.append(v)
        }
        if sextets.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(sextets.count * 3 / 4)
        var i = 0
        while sextets.count - i > 3 {
            let (a, b, c, d) = (sextets[i], sextets[i + 1], sextets[i + 2], sextets[i + 3])
            out += [a << 2 | b >> 4, b << 4 | c >> 2, c << 6 | d]
            i += 4
        }
        let left = sextets.count - i
        if left > 1 { out.append(sextets[i] << 2 | sextets[i + 1] >> 4) }
        if left > 2 { out.append(sextets[i + 1] << 4 | sextets[i + 2] >> 2) }
        return out
    }

    static func encode(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4)
        var i = 0
        while i < data.count {
            let b0 = Int(data[i])
            let b1 = i + 1 < data.count ? Int(data[i + 1]) : 0
            let b2 = i + 2 < data.count ? Int(data[i + 2]) : 0
            out.append(alphabet[b0 >> 2])
            out.append(alphabet[(b0 & 3) << 4 | b1 >> 4])
            out.append(i + 1 < data.count ? alphabet[(b1 & 15) << 2 | b2 >> 6] : UInt8(ascii: "="))
            out.append(i + 2 < data.count ? alphabet[b2 & 63] : UInt8(ascii: "="))
            i += 3
        }
        return out
    }
}
