// The cache's part in a proxied request (proxy_cache / uwsgi_cache), hooked into the
// exchange at three places: before connecting (`cacheStart`: the key, bypass, the
// lookup — a fresh entry is answered from its file like a static one, an expired one
// may be served stale or revalidated, a key another request is fetching may wait for
// it: the lock), when the upstream's head has arrived (`cacheResponseHead`: whether the
// answer may be stored and for how long, from X-Accel-Expires, Cache-Control, Expires
// and proxy_cache_valid; a 304 to a revalidation; a 5xx that proxy_cache_use_stale
// answers from the stale entry), and at the end of the body (`cacheBodyEnded`: the
// entry renamed into place). The body is teed into the entry by the relay
// (UpstreamResponse.cacheWriter). A location without a cache costs one flag test.

import COpenSSL
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

/// `$upstream_cache_status`.
enum CacheStatus: UInt8 {
    case none, miss, bypass, expired, stale, updating, revalidated, hit

    var text: String {
        switch self {
        case .none: ""
        case .miss: "MISS"
        case .bypass: "BYPASS"
        case .expired: "EXPIRED"
        case .stale: "STALE"
        case .updating: "UPDATING"
        case .revalidated: "REVALIDATED"
        case .hit: "HIT"
        }
    }
}

/// What one proxied request has to do with the cache.
struct CacheRequest {
    var zone: CacheZone? = nil
    var key: [UInt8] = []
    var hash = CacheKeyHash()
    /// The key's own hash (`hash` is a variant's when the key's answers vary).
    var mainHash = CacheKeyHash()
    var status: CacheStatus = .none
    /// The answer may be stored (method, min_uses, no bypass).
    var storable = false
    /// This request holds the key's lock.
    var locked = false
    /// An expired entry is on disk (for use_stale and revalidation).
    var staleExists = false
    /// Monotonic ms when waiting for another request's fetch ends (the lock).
    var lockDeadline: Int64 = 0
    /// HEAD sent upstream as GET (proxy_cache_convert_head).
    var sendGET = false
    /// Conditional fields sent upstream (proxy_cache_revalidate).
    var conditional: [UInt8] = []
    /// The stale entry's stale-if-error limit (wall-clock seconds).
    var staleErrorUntil: Int64 = 0
    /// The client has the stale entry; the upstream's answer only refreshes the cache
    /// (proxy_cache_background_update).
    var background = false
    /// The multipart boundary of a ranged answer from the entry.
    var boundary = ""
    /// The Content-Type of each part of a multipart/byteranges answer.
    var partType = ""
}

enum CacheStart { case answered, proceed, wait }

extension ProxyExchange {
    static let defaultKey = try! ComplexValue.parse("$scheme$proxy_host$request_uri")

    /// Looks the request up before anything goes upstream: a hot key's fresh entry
    /// first (ProxyExchange+CacheFastHit.swift), else the general lookup.
    func cacheStart() -> CacheStart {
        if cacheFastHit() { return .answered }
        return cacheStart(settingsStorage.value.cache)
    }

    /// The settings are borrowed from the location (not copied: no reference counting).
    private func cacheStart(_ c: borrowing UpstreamCacheSettings) -> CacheStart {
        let zoneName = c.zoneValue.map { String(decoding: request.evaluate($0), as: UTF8.self) } ?? c.zone ?? ""
        guard let zone = worker.cacheEntries.zone(named: zoneName, in: worker.generation) else {
            if c.zoneValue == nil || zoneName.isEmpty { return .proceed }
            request.logError("cache \"\(zoneName)\" not found")
            request.respondError(500)
            return .answered
        }
        let entries = worker.cacheEntries
        let key = request.evaluate(c.key ?? (pass?.proto == .http ? Self.defaultKey : ComplexValue(literal: "")))
        if !c.purge.isEmpty && Self.anyTrue(c.purge, request) {
            CachePurge.purge(zone, key: key, request: request)
            return .answered
        }
        // GET and HEAD are always cached methods; others are looked up by name.
        if request.head.method != .get && request.head.method != .head {
            let method = Array(request.headBytes[request.head.methodBytes])
            guard c.methods.contains(String(decoding: method, as: UTF8.self)) else { return .proceed }
        }
        cache.zone = zone
        cache.key = key
        cache.hash = key.withUnsafeBytes { MD5.hash($0) }
        cache.mainHash = cache.hash
        cache.sendGET = c.convertHead && pass?.proto == .http && request.isHeadOnly
        if Self.anyTrue(c.bypass, request) {
            cache.status = .bypass
            cache.storable = !Self.anyTrue(c.noCache, request)
            return .proceed
        }
        let now = Int64(worker.clock.seconds)
        var node = zone.lookup(cache.hash, now: now)
        if let names = node.vary {
            // The key's answers vary: this request's variant.
            cache.hash = CacheVary.variant(key: cache.key, names: names, request: request)
            node = zone.lookup(cache.hash, now: now)
        }
        // Fresh through the second it is valid until (nginx: stale once valid_sec < now).
        if node.errorStatus != 0 && node.validUntil >= now {
            cache.status = .hit
            request.respondError(node.errorStatus)
            return .answered
        }
        if node.exists && node.validUntil >= now {
            // A hot key's entry is already open in this worker.
            if let item = entries.get(zone, cache.hash, version: node.version, now: worker.now) {
                if cache.hash == cache.mainHash { entries.makeHot(item, key: key) }
                serveCached(item.entry, status: .hit, open: item)
                return .answered
            }
            if let e = CacheEntry.load(pathBytes: zone.pathBytes(cache.hash)) {
                var parser = ResponseParser()
                var head = ResponseHead()
                if case .complete = e.head.withUnsafeBytes({ parser.parse($0, into: &head) }) {
                    let item = entries.put(
                        zone, cache.hash, version: node.version, entry: e, head: head, files: worker.files,
                        now: worker.now)
                    if cache.hash == cache.mainHash { entries.makeHot(item, key: key) }
                    serveCached(e, status: .hit, open: item)
                } else {
                    serveCached(e, status: .hit)
                }
                return .answered
            }
            zone.remove(cache.hash)
        }
        // An expired entry may be served while another request updates it
        // (use_stale updating, or within Cache-Control's stale-while-revalidate).
        let updatingAllowed = c.useStale.contains(.updating) || now <= node.validUntil &+ node.updatingSeconds
        if node.exists {
            cache.staleExists = true
            cache.staleErrorUntil = node.validUntil &+ node.errorSeconds
            if updatingAllowed && zone.isUpdating(cache.hash, nowMs: worker.now, age: c.lockAge),
                let e = CacheEntry.load(zone.path(cache.hash))
            {
                serveCached(e, status: .updating)
                return .answered
            }
        }
        cache.storable = (node.uses >= c.minUses || node.exists) && rangeAllowsStoring(c)
        cache.status = node.exists ? .expired : .miss
        if cache.storable {
            if zone.tryLock(cache.hash, nowMs: worker.now, age: c.lockAge) {
                cache.locked = true
            } else if c.lock {
                cache.lockDeadline = worker.now + Int64(c.lockTimeout)
                return .wait
            }
        }
        if cache.staleExists && c.revalidate { prepareRevalidation() }
        if cache.staleExists && cache.locked && c.backgroundUpdate && updatingAllowed
            && (!request.isSubrequest || request.mayUpdateInBackground),
            let e = CacheEntry.load(zone.path(cache.hash))
        {
            // The stale answer is sent from memory while the update runs: bodies up to 8 MiB.
            guard e.header.bodyLength <= 8 << 20 else {
                FileSystem.close(e.fd)
                return .proceed
            }
            // The client gets the stale entry now; the upstream's answer refreshes the cache.
            serveCached(e, status: .stale, deferred: true)
            cache.background = true
            cache.storable = true
            // A subrequest's parent takes the stale answer now (Subrequest+Concurrent.swift).
            if request.isSubrequest { request.answeredBeforeUpdate() }
            _ = response.flush()
        }
        return .proceed
    }

    /// Waiting for another request's fetch of the key (proxy_cache_lock): looks again;
    /// after `proxy_cache_lock_timeout` the request goes upstream without storing.
    func cacheLockCheck() {
        guard let zone = cache.zone else { return }
        let c = settings.cache
        let now = Int64(worker.clock.seconds)
        let node = zone.lookup(cache.hash, now: now)
        if node.exists && node.validUntil >= now, let e = CacheEntry.load(zone.path(cache.hash)) {
            phase = .finished
            serveCached(e, status: .hit)
            return
        }
        if zone.tryLock(cache.hash, nowMs: worker.now, age: c.lockAge) {
            cache.locked = true
            proceedUpstream()
            return
        }
        if worker.now >= cache.lockDeadline {
            // nginx: the request goes upstream, its answer not stored.
            cache.storable = false
            proceedUpstream()
            return
        }
        wait(for: .cacheWait, timeout: 50)
    }

    /// The key's lock is released, and the entry writer dropped (its temporary file goes).
    func cacheFinished() {
        response.cacheWriter = nil
        if cache.locked, let zone = cache.zone { zone.unlock(cache.hash) }
        cache.locked = false
    }

    /// Back to no cache for the next request on the connection.
    func cacheReset() {
        cacheFinished()
        // Field by field: the buffers keep their storage (a new CacheRequest costs more).
        cache.zone = nil
        cache.key.removeAll(keepingCapacity: true)
        cache.hash = CacheKeyHash()
        cache.mainHash = cache.hash
        cache.status = .none
        cache.storable = false
        cache.locked = false
        cache.staleExists = false
        cache.lockDeadline = 0
        cache.sendGET = false
        if !cache.conditional.isEmpty { cache.conditional.removeAll(keepingCapacity: true) }
        cache.staleErrorUntil = 0
        cache.background = false
        if !cache.boundary.isEmpty { cache.boundary = "" }
        if !cache.partType.isEmpty { cache.partType = "" }
    }

    // MARK: upstream answer

    /// The upstream's head arrived: a 304 to a revalidation, a stale answer for a listed
    /// status, or the decision to store. True when the request was answered here.
    func cacheResponseHead(status: Int) -> Bool {
        guard let zone = cache.zone else { return false }
        if cache.background { return backgroundHead(status: status) }
        let c = settings.cache
        if status == 304 && !cache.conditional.isEmpty {
            if let e = CacheEntry.load(zone.path(cache.hash)) {
                if let valid = revalidatedUntil(storedHead: e.head) {
                    zone.refresh(cache.hash, validUntil: valid)
                    CacheEntry.setValidity(
                        zone.path(cache.hash), validUntil: valid, storedAt: worker.clock.milliseconds)
                }
                finishUpstream(reusable: false)
                serveCached(e, status: .revalidated)
                return true
            }
        }
        // A status answer is replaced by the stale entry only when use_stale lists it: a
        // stale-if-error window covers failures (cacheServeStale), not a 5xx (nginx 1.19.3).
        if cache.staleExists, let cond = CacheUseStale.status(status), c.useStale.contains(cond),
            let e = CacheEntry.load(zone.path(cache.hash))
        {
            finishUpstream(reusable: false)
            serveCached(e, status: .stale)
            return true
        }
        guard cache.storable, response.head.status != 101, response.head.status != 206 else { return false }
        if Self.anyTrue(c.noCache, request) { return false }
        if settings.interceptErrors && status >= 300, request.location?.settings.errorPages[status] != nil {
            // nginx remembers an intercepted error in the keys zone, without a file.
            var windows: (updating: Int64, error: Int64) = (0, 0)
            if let valid = validUntil(status: status, windows: &windows) {
                zone.unlinkAll(zone.setError(cache.hash, status: status, validUntil: valid))
                cache.locked = false
            }
            return false
        }
        var windows: (updating: Int64, error: Int64) = (0, 0)
        guard let valid = validUntil(status: status, windows: &windows) else { return false }
        let ignored = settings.ignoreHeaders
        if !ignored.contains("set-cookie") && response.hasUpstreamHeader("set-cookie") { return false }
        // An unbuffered answer (proxy_buffering off, X-Accel-Buffering: no) is not stored, as in nginx.
        if !ignored.contains("x-accel-buffering"), let v = response.headerValue("x-accel-buffering") {
            if !asciiCaseEqual(v, Array("yes".utf8)) { return false }
        } else if !settings.buffering {
            return false
        }
        var target = cache.mainHash
        var varyNames: [UInt8]? = nil
        if !ignored.contains("vary"), let names = CacheVary.names(response) {
            if names == [UInt8(ascii: "*")] { return false }
            varyNames = names
            target = CacheVary.variant(key: cache.key, names: names, request: request)
        }
        guard let writer = CacheWriter(zone: zone, hash: target, key: cache.key) else {
            request.logError("cache file could not be created in \"\(zone.config.path)\"", level: .crit)
            return false
        }
        writer.validUntil = valid
        writer.varyNames = varyNames
        writer.windows = windows
        writer.headRaw = response.headCopy
        writer.head = response.head
        response.cacheWriter = writer
        applyRangeToStoredResponse()
        return false
    }

    /// The upstream's answer to a background update: stored if it may be (the client has
    /// its answer already), else dropped.
    private func backgroundHead(status: Int) -> Bool {
        guard let zone = cache.zone else { return false }
        if status == 304 && !cache.conditional.isEmpty {
            let stored = CacheEntry.load(zone.path(cache.hash))
            if let stored { FileSystem.close(stored.fd) }
            if let valid = revalidatedUntil(storedHead: stored?.head ?? []) {
                zone.refresh(cache.hash, validUntil: valid)
                CacheEntry.setValidity(zone.path(cache.hash), validUntil: valid, storedAt: worker.clock.milliseconds)
            }
        } else if CacheUseStale.status(status) == nil
            || !settings.cache.useStale.contains(CacheUseStale.status(status)!)
        {
            cache.background = false
            _ = cacheResponseHead(status: status)
            cache.background = true
            if response.cacheWriter != nil {
                response.beginBackgroundBody(self)
                return true
            }
        }
        finishUpstream(reusable: false)
        cacheFinished()
        request.flushResponse()
        return true
    }

    /// The body is complete: the entry goes into place.
    func cacheBodyEnded() {
        guard let writer = response.cacheWriter, let zone = cache.zone else { return }
        response.cacheWriter = nil
        let head = Self.storedHead(writer.headRaw, writer.head, bodyLength: writer.bodyLength)
        if writer.commit(
            head: head, validUntil: writer.validUntil, now: Int64(worker.clock.seconds), keyLength: cache.key.count)
        {
            zone.setVary(cache.mainHash, writer.varyNames, now: Int64(worker.clock.seconds))
            if writer.hash != cache.hash && cache.locked { zone.unlock(cache.hash) }
            cache.locked = false
        }
    }

    /// An error or timeout of the upstream: the stale entry when use_stale allows.
    func cacheServeStale(errorStatus: Int) -> Bool {
        if cache.background {
            // The client has the stale entry already.
            cacheFinished()
            request.flushResponse()
            return true
        }
        guard let zone = cache.zone, cache.staleExists, !response.headerSent else { return false }
        let c = settings.cache.useStale
        let allowed =
            (errorStatus == 504 ? c.contains(.timeout) : (c.contains(.error) || c.contains(.invalidHeader)))
            || Int64(worker.clock.seconds) <= cache.staleErrorUntil
        guard allowed, let e = CacheEntry.load(zone.path(cache.hash)) else { return false }
        cacheFinished()
        serveCached(e, status: .stale)
        return true
    }

    /// The new validity of an entry a 304 revalidated, as nginx decides it: the 304's own
    /// X-Accel-Expires, Cache-Control or Expires; else the stored answer's (read again
    /// now: `max-age=1` is one more second); else proxy_cache_valid for 200.
    func revalidatedUntil(storedHead: [UInt8]) -> Int64? {
        var windows: (updating: Int64, error: Int64) = (0, 0)
        if let own = validUntil(status: 200, windows: &windows, headersOnly: true) { return own }
        var parser = ResponseParser()
        var head = ResponseHead()
        if case .complete = storedHead.withUnsafeBytes({ parser.parse($0, into: &head) }) {
            let resp = response
            let (savedHead, savedCopy) = (resp.head, resp.headCopy)
            resp.head = head
            resp.headCopy = storedHead
            defer { (resp.head, resp.headCopy) = (savedHead, savedCopy) }
            if let stored = validUntil(status: 200, windows: &windows, headersOnly: true) { return stored }
        }
        return settings.cache.validity(for: 200).flatMap { $0 > 0 ? Int64(worker.clock.seconds) + Int64($0) : nil }
    }

    /// Until when (wall-clock seconds) an answer may be stored, as nginx decides it:
    /// X-Accel-Expires (seconds, or `@` an absolute time), else Cache-Control (no-cache,
    /// no-store and private forbid; s-maxage, then max-age), else Expires, each unless
    /// ignored; else proxy_cache_valid for the status. nil when not cacheable. The
    /// Cache-Control extensions stale-while-revalidate / stale-if-error go to `windows`.
    /// `headersOnly`: nil when the fields say nothing (no proxy_cache_valid).
    func validUntil(status: Int, windows: inout (updating: Int64, error: Int64), headersOnly: Bool = false)
        -> Int64?
    {
        let ignored = settings.ignoreHeaders
        let now = Int64(worker.clock.seconds)
        var accel: Int64?? = nil
        if !ignored.contains("x-accel-expires"), let v = response.headerValue("x-accel-expires") {
            // X-Accel-Expires decides whatever Cache-Control and Expires say.
            let text = String(decoding: v, as: UTF8.self).trimmingSpaces
            if text.hasPrefix("@") {
                if let t = Self.saturating(Array(text.utf8.dropFirst())) { accel = .some(t) }
            } else if let n = Self.saturating(Array(text.utf8)) {
                accel = .some(n == 0 ? nil : now &+ n)
            }
        }
        var fromCacheControl: Int64? = nil
        if !ignored.contains("cache-control") && response.hasUpstreamHeader("cache-control") {
            let out = ByteBuffer(capacity: 64)
            response.appendHeaderValues(named: "cache-control", to: out)
            let cc = String(decoding: out.readable, as: UTF8.self).lowercased()
            // nginx: stale-while-revalidate sets both windows; stale-if-error then its own.
            if let n = Self.directiveValue(cc, "stale-while-revalidate=") { windows = (n, n) }
            if let n = Self.directiveValue(cc, "stale-if-error=") { windows.error = n }
            if let accel { return accel }
            for token in ["no-cache", "no-store", "private"] where cc.contains(token) { return nil }
            if let n = Self.directiveValue(cc, "s-maxage=") ?? Self.directiveValue(cc, "max-age=") {
                if n == 0 { return nil }
                fromCacheControl = now &+ n
            }
        }
        if let accel { return accel }
        if let fromCacheControl { return fromCacheControl }
        if !ignored.contains("expires"), let v = response.headerValue("expires") {
            guard let t = v.withUnsafeBytes({ HTTPDate.parse($0) }), Int64(t) >= now else { return nil }
            return Int64(t)
        }
        guard !headersOnly, let n = settings.cache.validity(for: status), n > 0 else { return nil }
        return now + Int64(n)
    }

    /// Decimal digits as a number, capped at a century of seconds (nil when not digits).
    static func saturating(_ digits: [UInt8]) -> Int64? {
        guard !digits.isEmpty else { return nil }
        var v: Int64 = 0
        for c in digits {
            guard c >= 48 && c <= 57 else { return nil }
            v = min(v * 10 + Int64(c - 48), 1 << 40)
        }
        return v
    }

    /// If-Modified-Since / If-None-Match from the stale entry (proxy_cache_revalidate).
    private func prepareRevalidation() {
        guard let zone = cache.zone, let e = CacheEntry.load(zone.path(cache.hash)) else { return }
        FileSystem.close(e.fd)
        var p = ResponseParser()
        var h = ResponseHead()
        // Only a stored 200 is revalidated (nginx keeps its validators for those).
        guard case .complete = e.head.withUnsafeBytes({ p.parse($0, into: &h) }), h.status == 200 else { return }
        e.head.withUnsafeBytes { buf in
            if let lm = h.header("last-modified", in: buf) {
                cache.conditional += Array("If-Modified-Since: ".utf8) + buf[lm] + [13, 10]
            }
            if let et = h.header("etag", in: buf) {
                cache.conditional += Array("If-None-Match: ".utf8) + buf[et] + [13, 10]
            }
        }
    }

    // MARK: helpers

    /// proxy_cache_max_range_offset: a range request starting beyond it (or a suffix
    /// range, or any range with 0) is passed upstream as it is and its answer not stored.
    private func rangeAllowsStoring(_ c: borrowing UpstreamCacheSettings) -> Bool {
        guard let limit = c.maxRangeOffset,
            let rv = request.head.header(HeaderName.range, in: request.headBytes)
        else { return true }
        if limit == 0 { return false }
        let v = Array(request.headBytes[rv])
        guard v.count > 6, asciiCaseEqual(v[0..<6], Array("bytes=".utf8)) else { return true }
        let spec = v[6...].drop { $0 == 32 }
        let digits = spec.prefix { $0 >= 48 && $0 <= 57 }
        guard !digits.isEmpty, let offset = Self.saturating(Array(digits)) else { return false }
        return offset <= limit
    }

    /// The number after `name` (e.g. "max-age=") in a Cache-Control value, if present.
    static func directiveValue(_ cc: String, _ name: String) -> Int64? {
        let b = Array(cc.utf8)
        let n = Array(name.utf8)
        guard b.count >= n.count else { return nil }
        for i in 0...(b.count - n.count) where Array(b[i..<(i + n.count)]) == n {
            if i > 0 && b[i - 1] != 32 && b[i - 1] != UInt8(ascii: ",") && b[i - 1] != 9 { continue }
            return saturating(Array(b[(i + n.count)...].prefix { $0 >= 48 && $0 <= 57 })) ?? 0
        }
        return nil
    }

    static func md5(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var length: UInt32 = 0
        _ = EVP_Digest(bytes, bytes.count, &out, &length, EVP_md5(), nil)
        return Array(out.prefix(16))
    }

    /// nginx's test of proxy_cache_bypass / proxy_no_cache: any value not empty and not "0".
    static func anyTrue(_ values: [ComplexValue], _ r: Request) -> Bool {
        for v in values {
            let s = r.evaluate(v)
            if !s.isEmpty && s != [UInt8(ascii: "0")] { return true }
        }
        return false
    }

    private static let framingFields: [[UInt8]] = ["content-length", "transfer-encoding", "connection", "keep-alive"]
        .map { Array($0.utf8) }
    private static let statusField = Array("status".utf8)

    /// The head stored with an entry: the upstream's, its framing replaced by the body's
    /// length. A CGI head (FastCGI, SCGI, uwsgi without a status line) gets the status
    /// line its Status field (or Location) meant, and loses that field: an entry's head
    /// is always an HTTP one.
    static func storedHead(_ raw: [UInt8], _ head: ResponseHead, bodyLength: Int64) -> [UInt8] {
        var out: [UInt8] = []
        raw.withUnsafeBytes { buf in
            let firstLineEnd = head.headers.first.map { $0.name.lowerBound } ?? head.headLength - 2
            let cgi = firstLineEnd <= 0 || !raw.starts(with: Array("HTTP/".utf8))
            if cgi {
                if head.reason.isEmpty {
                    out += HTTPStatus.statusLine(head.status)
                } else {
                    out += Array("HTTP/1.1 \(head.status) ".utf8) + buf[head.reason] + [13, 10]
                }
            } else {
                out += buf[0..<firstLineEnd]
            }
            for h in head.headers where !framingFields.contains(where: { asciiCaseEqual(buf[h.name], $0) }) {
                if cgi && asciiCaseEqual(buf[h.name], statusField) { continue }
                out += buf[h.name]
                out += Array(": ".utf8)
                out += buf[h.value]
                out += [13, 10]
            }
        }
        out += Array("Content-Length: \(bodyLength)\r\n\r\n".utf8)
        return out
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
