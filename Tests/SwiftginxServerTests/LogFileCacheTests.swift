// open_log_file_cache as nginx keeps log files whose path has variables: a descriptor
// is kept once a path has been used `min_uses` times, the least recently used entry
// goes when `max` is reached, a file that cannot be opened makes no entry, and a kept
// descriptor goes on writing to a file that was moved away.

import Foundation
import SwiftginxConfig
import Testing

@testable import SwiftginxServer

@Suite struct LogFileCacheTests {
    @Test func keptDescriptorsFollowNginxsRules() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("lfc-\(UUID().uuidString)").path
        let dir = root + "/dir"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = LogFileCache()
        var settings = OpenLogFileCacheSettings(max: 3)
        settings.minUses = 2
        settings.inactive = 20_000
        var errors: [String] = []
        func write(_ name: String) {
            let line = Array("/\n".utf8)
            line.withUnsafeBytes {
                cache.write(Array((dir + "/" + name).utf8), $0, settings: settings, now: 0) { errors.append($0) }
            }
        }
        for name in ["lru", "lru", "once", "first", "first", "second", "second"] { write(name) }
        try FileManager.default.moveItem(atPath: dir, toPath: root + "/moved")
        for name in ["lru", "once", "first", "second"] { write(name) }
        func lines(_ name: String) -> Int {
            ((try? String(contentsOfFile: root + "/moved/" + name, encoding: .utf8)) ?? "").filter { $0 == "\n" }.count
        }
        #expect(lines("lru") == 2)
        #expect(lines("once") == 1)
        #expect(lines("first") == 3)
        #expect(lines("second") == 3)
        #expect(errors.count == 2)
        #expect(errors.first?.contains("failed (2: No such file or directory)") == true)
        cache.closeAll()
    }
}
