// The header lines of the request parser: the usual line checked in one pass (a name of
// letters, digits and `-`, a value 8 bytes at a time), the general check of the rarer
// ones (nginx's invalid names, `ignore_invalid_headers`, `underscores_in_headers`), and
// what the server acts on in a kept line (Host, framing fields, Connection, Upgrade,
// Expect, the fields nginx takes once).

extension RequestParser {
    /// The usual header line in one pass from `start`: a name of letters, digits and
    /// `-`, then `:` and value bytes (HTAB, SP, VCHAR, obs-text) up to a CR or LF before
    /// `end`, whose position goes to `lineEnd`. Returns the colon's position, or -1 when
    /// the line is not (yet) that: the general path then finds its end and judges it.
    @inline(__always)
    func checkedField(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int, lineEnd: inout Int) -> Int {
        var p = start
        while p < end, ByteScan.inSet(buf[p], ByteScan.nameLo, ByteScan.nameHi) { p &+= 1 }
        guard p > start, p < end, buf[p] == 0x3A else { return -1 }
        let colon = p
        p &+= 1
        while true {
            p = ByteScan.firstControl(buf, from: p, to: end)
            if p >= end { return -1 }
            let c = buf[p]
            if c == ASCII.htab {
                p &+= 1
                continue
            }
            if c == ASCII.cr || c == ASCII.lf {
                lineEnd = p
                return colon
            }
            return -1
        }
    }

    /// `checkedColon` >= 0: `checkedField` found the line valid with its name ending there.
    mutating func parseHeaderLine(
        _ buf: UnsafeRawBufferPointer, _ line: Range<Int>, _ head: inout RequestHead, checkedColon: Int
    ) -> RequestParseError? {
        let s = line.lowerBound
        let e = line.upperBound
        var p = s
        var invalidName = false
        if checkedColon >= 0 {
            p = checkedColon
        } else if let error = checkHeaderLine(buf, line, colon: &p, invalidName: &invalidName) {
            return error
        }
        let field = HeaderField(name: s..<p, value: ASCII.trimOWS(buf, (p &+ 1)..<e))
        if invalidName && options.ignoreInvalidHeaders { return nil }
        if head.headers.count >= options.maxHeaders { return .headerTooLarge("client sent too many header lines") }
        head.headers.append(field)
        if invalidName { return nil }
        return recordHeader(buf, field, &head)
    }

    /// The general header line check: the name's bytes (a tchar nginx does not take makes
    /// the name invalid, anything else the line), the colon, the value's bytes.
    func checkHeaderLine(
        _ buf: UnsafeRawBufferPointer, _ line: Range<Int>, colon p: inout Int, invalidName: inout Bool
    ) -> RequestParseError? {
        let invalid = RequestParseError.badRequest("client sent invalid header line")
        let s = line.lowerBound
        let e = line.upperBound
        while p < e {
            let c = buf[p]
            if c == 0x3A { break }
            if (c | 0x20) &- 0x61 < 26 || ASCII.isDigit(c) || c == 0x2D {
                // valid name byte
            } else if c == 0x5F {
                if !options.underscoresInHeaders { invalidName = true }
            } else if ASCII.isTchar(c) {
                invalidName = true
            } else {
                return invalid  // SP/HTAB (also obs-fold), controls, separators, obs-text
            }
            p &+= 1
        }
        if p == e || p == s { return invalid }
        if !options.controlsInValues {
            var i = p &+ 1
            while i < e {
                if !ASCII.isFieldValueByte(buf[i]) { return invalid }
                i &+= 1
            }
        }
        return nil
    }

    /// What the server acts on in a header line it keeps: Host, the framing fields,
    /// Connection, Upgrade, Expect, and the fields nginx takes once.
    mutating func recordHeader(
        _ buf: UnsafeRawBufferPointer, _ field: HeaderField, _ head: inout RequestHead
    ) -> RequestParseError? {
        let name = buf.slice(field.name)
        switch field.name.count {
        // "host" as one little-endian word, each byte's 0x20 bit set (only the letters of
        // a tchar name map to these bytes).
        case 4
        where buf.loadUnaligned(fromByteOffset: field.name.lowerBound, as: UInt32.self) | 0x2020_2020
            == 0x7473_6F68:
            if let prev = hostField { return duplicate(buf, field, prev) }
            hostField = field
            guard let hostName = RequestParser.validateHost(buf, field.value) else {
                return .badRequest("client sent invalid host header")
            }
            if !hostFromTarget {
                head.host = field.value
                head.hostName = hostName
            }
        case 14 where ASCII.equalsLowercased(name, "content-length"):
            if let prev = contentLengthField { return duplicate(buf, field, prev) }
            contentLengthField = field
        case 17 where ASCII.equalsLowercased(name, "transfer-encoding"):
            if let prev = transferEncodingField { return duplicate(buf, field, prev) }
            transferEncodingField = field
        case 10 where ASCII.equalsLowercased(name, "connection"):
            ASCII.forEachListElement(buf, field.value) { t in
                let token = buf.slice(t)
                if ASCII.equalsLowercased(token, "close") {
                    connectionClose = true
                } else if ASCII.equalsLowercased(token, "keep-alive") {
                    connectionKeepAlive = true
                } else if ASCII.equalsLowercased(token, "upgrade") {
                    connectionUpgrade = true
                }
                return true
            }
        case 7 where ASCII.equalsLowercased(name, "upgrade"):
            if upgradeField == nil { upgradeField = field.value }
        case 6 where ASCII.equalsLowercased(name, "expect"):
            if let e = unique(.expect, buf, field, &head) { return e }
            if ASCII.equalsLowercased(buf.slice(field.value), "100-continue") { expect100 = true }
        case 8:
            if ASCII.equalsLowercased(name, "if-match") { return unique(.ifMatch, buf, field, &head) }
            if ASCII.equalsLowercased(name, "if-range") { return unique(.ifRange, buf, field, &head) }
        case 13:
            if ASCII.equalsLowercased(name, "authorization") { return unique(.authorization, buf, field, &head) }
            if ASCII.equalsLowercased(name, "if-none-match") { return unique(.ifNoneMatch, buf, field, &head) }
            if ASCII.equalsLowercased(name, "content-range") { return unique(.contentRange, buf, field, &head) }
        case 17 where ASCII.equalsLowercased(name, "if-modified-since"):
            return unique(.ifModifiedSince, buf, field, &head)
        case 19:
            if ASCII.equalsLowercased(name, "if-unmodified-since") {
                return unique(.ifUnmodifiedSince, buf, field, &head)
            }
            if ASCII.equalsLowercased(name, "proxy-authorization") {
                return unique(.proxyAuthorization, buf, field, &head)
            }
        default:
            break
        }
        return nil
    }

    func duplicate(_ buf: UnsafeRawBufferPointer, _ field: HeaderField, _ prev: HeaderField)
        -> RequestParseError
    {
        .badRequest(
            "client sent duplicate header line: \"\(logString(buf, field.name)): \(logString(buf, field.value))\", "
                + "previous value: \"\(logString(buf, prev.name)): \(logString(buf, prev.value))\"")
    }
}
