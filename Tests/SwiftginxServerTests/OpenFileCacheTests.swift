// OpenFileCache without open_file_cache: one stat() per file and loop turn. A file
// changed after its turn's stat() is seen from the next turn on, whatever changed
// (bytes in place, a replacement by rename, a removal), and a lookup within the turn
// shares the first one's answer.

import Foundation
import SwiftginxConfig
import Testing

@testable import SwiftginxServer

@Suite struct OpenFileCacheTests {
    let dir = NSTemporaryDirectory() + "ofc-\(getpid())-\(UInt32.random(in: 0...UInt32.max))/"

    func look(_ cache: OpenFileCache, _ path: String) -> String? {
        var bytes = Array(path.utf8)
        bytes.append(0)
        let found = bytes.withUnsafeBufferPointer { p in
            cache.lookup(
                path: bytes, cpath: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self), now: 0,
                policy: OpenFileCache.Policy(OpenFileCacheSettings()))
        }
        guard case .file(let e) = found, let c = e.contents else { return nil }
        return String(decoding: c, as: UTF8.self)
    }

    @Test func oneStatPerFileAndTurn() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "a.txt"
        try "first".write(toFile: path, atomically: false, encoding: .utf8)
        let cache = OpenFileCache()
        cache.turn = 1
        #expect(look(cache, path) == "first")
        // Rewritten in place within the turn: the turn's requests share the first look.
        let fh = try #require(FileHandle(forWritingAtPath: path))
        fh.write(Data("FIRST, longer".utf8))
        try fh.close()
        #expect(look(cache, path) == "first")
        cache.turn = 2
        #expect(look(cache, path) == "FIRST, longer")
        // Replaced by a rename, then removed: each seen in the next turn.
        try "second".write(toFile: dir + "b.txt", atomically: false, encoding: .utf8)
        #expect(rename(dir + "b.txt", path) == 0)
        #expect(look(cache, path) == "FIRST, longer")
        cache.turn = 3
        #expect(look(cache, path) == "second")
        unlink(path)
        cache.turn = 4
        #expect(look(cache, path) == nil)
    }
}
