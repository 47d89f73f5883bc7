// The cache's storage pieces without a server: md5 file names under `levels` as nginx
// lays them out, the entry file's header, writing an entry through a temporary file
// that only a commit renames into place, the loader rebuilding the index (and removing
// what a crash left), the manager keeping max_size, and the stored head's framing.

import Foundation
import SwiftginxConfig
import SwiftginxHTTP
import Testing

@testable import SwiftginxServer

@Suite struct CacheZoneTests {
    func zone(levels: [Int] = [1, 2], maxSize: Int64 = .max) -> (CacheZone, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        var c = CachePathConfig(name: "z", size: 1 << 20, path: dir)
        c.levels = levels
        c.maxSize = maxSize
        return (CacheZone(c), dir)
    }

    @Test func namesAndPathsAsNginx() {
        // nginx: md5("http://127.0.0.1:8081/t.html")'s last hex digit, then the two before it.
        let hash = CacheKeyHash(md5: ProxyExchange.md5(Array("http://127.0.0.1:8081/t.html".utf8)))
        let hex = String(decoding: hash.hex, as: UTF8.self)
        #expect(hex.count == 32)
        #expect(CacheKeyHash(hex: hash.hex) == hash)
        let (z, dir) = zone()
        let last = hex.suffix(1)
        let before = hex.dropLast().suffix(2)
        #expect(z.path(hash) == "\(dir)/\(last)/\(before)/\(hex)")
        // md5 of the empty string, a known value.
        #expect(
            String(decoding: CacheKeyHash(md5: ProxyExchange.md5([])).hex, as: UTF8.self)
                == "d41d8cd98f00b204e9800998ecf8427e")
    }

    @Test func headerRoundTrip() {
        var h = CacheEntryHeader()
        h.validUntil = 1_800_000_000
        h.storedAt = 1_700_000_000
        h.bodyOffset = 80
        h.bodyLength = 12345
        h.headLength = 77
        h.keyLength = 16
        h.updatingSeconds = 30
        h.errorSeconds = 600
        let back = CacheEntryHeader(h.bytes)
        #expect(back?.validUntil == h.validUntil && back?.bodyLength == h.bodyLength && back?.keyLength == 16)
        #expect(back?.updatingSeconds == 30 && back?.errorSeconds == 600)
        var damaged = h.bytes
        damaged[0] = 0
        #expect(CacheEntryHeader(damaged) == nil)
    }

    @Test func anEntryAppearsOnlyWhenCommittedAndTheLoaderFindsIt() throws {
        let (z, dir) = zone()
        let key = Array("key".utf8)
        let hash = CacheKeyHash(md5: ProxyExchange.md5(key))
        let head = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".utf8)
        do {
            let w = try #require(CacheWriter(zone: z, hash: hash, key: key))
            Array("hel".utf8).withUnsafeBytes { w.append($0) }
            // Dropped before its commit: nothing under the entry's name, no temporary file.
        }
        #expect(CacheEntry.load(z.path(hash)) == nil)
        #expect(!FileManager.default.fileExists(atPath: z.path(hash)))
        let w = try #require(CacheWriter(zone: z, hash: hash, key: key))
        Array("hello".utf8).withUnsafeBytes { w.append($0) }
        #expect(w.commit(head: head, validUntil: 4_000_000_000, now: 1, keyLength: key.count))
        let e = try #require(CacheEntry.load(z.path(hash)))
        #expect(e.key == key && e.head == head && e.header.bodyLength == 5)
        close(e.fd)
        // A file a crash left mid-write, and a damaged entry, are removed by the loader.
        let dirOfEntry = z.directory(hash)
        _ = FileManager.default.createFile(
            atPath: dirOfEntry + "/0123456789abcdef0123456789abcdef.77.1", contents: Data([1]))
        _ = FileManager.default.createFile(
            atPath: dirOfEntry + "/0123456789abcdef0123456789abcdef", contents: Data([1]))
        let fresh = CacheZone(z.config)
        CacheLoader.load(fresh)
        let node = fresh.lookup(hash, now: 2)
        #expect(node.exists && node.validUntil == 4_000_000_000)
        let names = try FileManager.default.contentsOfDirectory(atPath: dirOfEntry)
        #expect(names == [String(decoding: hash.hex, as: UTF8.self)])
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func theManagerKeepsMaxSize() throws {
        let (z, dir) = zone(levels: [], maxSize: 3000)
        var hashes: [CacheKeyHash] = []
        for i in 0..<5 {
            let key = Array("k\(i)".utf8)
            let hash = CacheKeyHash(md5: ProxyExchange.md5(key))
            hashes.append(hash)
            _ = z.lookup(hash, now: Int64(i))
            let w = try #require(CacheWriter(zone: z, hash: hash, key: key))
            [UInt8](repeating: 7, count: 900).withUnsafeBytes { w.append($0) }
            #expect(w.commit(head: Array("HTTP/1.1 200 OK\r\n\r\n".utf8), validUntil: 100, now: Int64(i), keyLength: 2))
        }
        // The manager's passes: the least recently used go first.
        for _ in 0..<3 { z.unlinkAll(z.manage(now: 5).victims) }
        #expect(!FileManager.default.fileExists(atPath: z.path(hashes[0])))
        #expect(FileManager.default.fileExists(atPath: z.path(hashes[4])))
        let total = z.store.state.withLock { $0.totalSize }
        #expect(total <= 3000)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func aReloadKeepsTheIndexAndTakesTheNewLimits() {
        var c = CachePathConfig(name: "z", size: 1 << 20, path: "/tmp/nowhere-\(UUID().uuidString)")
        let first = CacheZone.zones(
            RuntimeConfig(main: MainSettings(), listenGroups: [], sources: [], cachePaths: ["z": c]), previous: [:],
            load: false)
        c.inactive = 5
        let second = CacheZone.zones(
            RuntimeConfig(main: MainSettings(), listenGroups: [], sources: [], cachePaths: ["z": c]), previous: first,
            load: false)
        #expect(second["z"]?.config.inactive == 5)
        #expect(second["z"]?.store === first["z"]?.store)
        c.path += "-moved"
        let third = CacheZone.zones(
            RuntimeConfig(main: MainSettings(), listenGroups: [], sources: [], cachePaths: ["z": c]), previous: second,
            load: false)
        #expect(third["z"]?.store !== second["z"]?.store)
    }

    @Test func storedHeadCarriesTheBodyLength() throws {
        var parser = ResponseParser()
        var head = ResponseHead()
        let raw = Array(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nConnection: keep-alive\r\n\r\n".utf8)
        _ = raw.withUnsafeBytes { parser.parse($0, into: &head) }
        let stored = ProxyExchange.storedHead(raw, head, bodyLength: 42)
        #expect(String(decoding: stored, as: UTF8.self) == "HTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 42\r\n\r\n")
    }

    /// FastCGI and SCGI heads have no status line: the entry gets the one they meant.
    @Test func aCGIHeadIsStoredWithItsStatusLine() throws {
        func stored(_ text: String) -> String {
            var parser = ResponseParser()
            parser.kind = .cgi
            var head = ResponseHead()
            let raw = Array(text.utf8)
            _ = raw.withUnsafeBytes { parser.parse($0, into: &head) }
            return String(decoding: ProxyExchange.storedHead(raw, head, bodyLength: 3), as: UTF8.self)
        }
        #expect(
            stored("Status: 404 Gone Away\r\nX-A: 1\r\n\r\n")
                == "HTTP/1.1 404 Gone Away\r\nX-A: 1\r\nContent-Length: 3\r\n\r\n")
        #expect(
            stored("Location: http://x/\r\nContent-Type: text/html\r\n\r\n")
                == "HTTP/1.1 302 Moved Temporarily\r\nLocation: http://x/\r\nContent-Type: text/html\r\n"
                + "Content-Length: 3\r\n\r\n")
        #expect(stored("X-B: 2\r\n\r\n") == "HTTP/1.1 200 OK\r\nX-B: 2\r\nContent-Length: 3\r\n\r\n")
        #expect(stored("\r\n") == "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n")
    }
}

@Suite struct MD5Tests {
    @Test func matchesOpenSSLForEveryLengthAroundTheBlocks() {
        for n in [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let ours = bytes.withUnsafeBytes { MD5.hash($0) }
            #expect(ours == CacheKeyHash(md5: ProxyExchange.md5(bytes)), "length \(n)")
        }
        let abc = Array("abc".utf8).withUnsafeBytes { MD5.hash($0) }
        #expect(String(decoding: abc.hex, as: UTF8.self) == "900150983cd24fb0d6963f7d28e17f72")
    }
}
