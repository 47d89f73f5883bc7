// The byte-string hash table behind the server-name and location indexes.

import Testing

@testable import SwiftginxRouting

@Suite struct ByteTableTests {
    func get(_ t: ByteTable, _ key: String) -> Int? {
        var k = key
        return k.withUTF8 { t.lookup(UnsafeRawBufferPointer($0)) }
    }

    @Test func lookups() {
        let keys = (0..<500).map { ("/path/\($0)", $0) }
        let t = ByteTable(keys.map { (Array($0.0.utf8), $0.1) })
        #expect(t.count == 500)
        for (k, v) in keys { #expect(get(t, k) == v) }
        #expect(get(t, "/path/500") == nil)
        #expect(get(t, "") == nil)
        #expect(get(ByteTable([]), "x") == nil)
    }

    @Test func firstDuplicateWinsAndEmptyKey() {
        let t = ByteTable([(Array("a".utf8), 1), (Array("a".utf8), 2), ([], 3)])
        #expect(get(t, "a") == 1)
        #expect(get(t, "") == 3)
        #expect(t.count == 2)
    }

    @Test func caseInsensitive() {
        let t = ByteTable([(Array("Example.COM".utf8), 7)], caseInsensitive: true)
        #expect(get(t, "example.com") == 7)
        #expect(get(t, "EXAMPLE.com") == 7)
        #expect(get(ByteTable([(Array("A".utf8), 1)]), "a") == nil)
    }
}
