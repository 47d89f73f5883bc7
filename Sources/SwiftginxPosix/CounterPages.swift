// Counters written by one thread and read by any (the metrics): pages of Int cells,
// each page allocated by its writer on first use and published to readers with a
// release store; a cell is bumped with a relaxed load and store (no locked
// instruction, no cache line shared with another writer) and read with a relaxed load.
// Pages are never freed while the process runs, so a reader never sees one go.

import CSwiftginxShims

public final class CounterPages: @unchecked Sendable {
    public let cellsPerSlot: Int
    /// 64 slots a page (a shift and a mask per lookup), 4096 pages.
    public static let pageShift = 6
    public static let maxPages = 4096
    private let pages: UnsafeMutablePointer<UnsafeMutableRawPointer?>

    public init(cellsPerSlot: Int) {
        self.cellsPerSlot = cellsPerSlot
        pages = .allocate(capacity: Self.maxPages)
        pages.initialize(repeating: nil, count: Self.maxPages)
    }

    /// The first cell of page `page` for its writer (made on first use); the caller
    /// checked `page < maxPages`. With a constant slot size the caller's offset math
    /// folds (`cells(_:)` does the same with the stored size).
    @inline(__always)
    public func writerPage(_ page: Int) -> UnsafeMutablePointer<Int> {
        (pages[page] ?? makePage(page)).assumingMemoryBound(to: Int.self)
    }

    /// The cells of slot `id` for its writer (the page is made on first use); nil past
    /// the last page.
    @inline(__always)
    public func cells(_ id: Int) -> UnsafeMutablePointer<Int>? {
        let page = id &>> Self.pageShift
        guard page < Self.maxPages else { return nil }
        let base: UnsafeMutableRawPointer
        if let p = pages[page] {
            base = p
        } else {
            base = makePage(page)
        }
        return base.assumingMemoryBound(to: Int.self) + (id & (1 &<< Self.pageShift - 1)) &* cellsPerSlot
    }

    private func makePage(_ page: Int) -> UnsafeMutableRawPointer {
        let count = (1 << Self.pageShift) * cellsPerSlot
        let p = UnsafeMutableRawPointer.allocate(byteCount: count * 8, alignment: 64)
        p.initializeMemory(as: Int.self, repeating: 0, count: count)
        swiftginx_pointer_publish(
            UnsafeMutableRawPointer(pages + page).assumingMemoryBound(to: UnsafeMutableRawPointer?.self), p)
        return p
    }

    /// A reader's view of slot `id` (nil: never written).
    public func read(_ id: Int) -> UnsafeMutablePointer<Int>? {
        let page = id >> Self.pageShift
        guard page < Self.maxPages,
            let p = swiftginx_pointer_load(
                UnsafeRawPointer(pages + page).assumingMemoryBound(to: UnsafeMutableRawPointer?.self))
        else { return nil }
        return p.assumingMemoryBound(to: Int.self) + (id & (1 << Self.pageShift - 1)) * cellsPerSlot
    }

    /// The writer's add.
    @inline(__always)
    public static func add(_ cell: UnsafeMutablePointer<Int>, _ n: Int) {
        swiftginx_counter_add(UnsafeMutableRawPointer(cell).assumingMemoryBound(to: CLong.self), CLong(n))
    }

    /// A reader's load.
    @inline(__always)
    public static func load(_ cell: UnsafeMutablePointer<Int>) -> Int {
        Int(swiftginx_counter_load(UnsafeRawPointer(cell).assumingMemoryBound(to: CLong.self)))
    }
}
