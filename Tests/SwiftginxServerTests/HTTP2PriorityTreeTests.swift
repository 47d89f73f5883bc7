// nginx's HTTP/2 dependency tree (HTTP2PriorityTree): the places nginx gives streams
// (rank, relative weight) for PRIORITY frames before the streams open, HEADERS priority
// fields, exclusive dependencies and a dependency on a descendant; and random frames from
// a seeded generator leave a tree without cycles and bounded as nginx bounds it.

import Testing

@testable import SwiftginxServer

@Suite struct HTTP2PriorityTreeTests {
    @Test func placesAsNginx() {
        let t = HTTP2PriorityTree()
        // PRIORITY before the streams open: 3 under 1; HEADERS without priority keep it.
        t.priority(1, dependsOn: 0, exclusive: false, weight: 16)
        t.priority(3, dependsOn: 1, exclusive: false, weight: 16)
        t.opened(1, dependsOn: nil, exclusive: false, weight: 16)
        t.opened(3, dependsOn: nil, exclusive: false, weight: 16)
        #expect(t.place(1).rank == 1 && t.place(3).rank == 2)
        #expect(t.place(3).weight == 16.0 / 256 * 16 / 256)
        // 1 made to depend on its descendant 3: 3 moves up to 1's place first.
        t.priority(1, dependsOn: 3, exclusive: false, weight: 256)
        #expect(t.place(3).rank == 1 && t.place(1).rank == 2)
        #expect(t.place(1).weight == 16.0 / 256 * 256 / 256)
        // Exclusive: 5 takes the root's children under it.
        t.opened(5, dependsOn: 0, exclusive: true, weight: 32)
        #expect(t.place(5).rank == 1 && t.place(3).rank == 2 && t.place(1).rank == 3)
        // A stream without a node is where nginx puts one.
        #expect(t.place(99).rank == 1 && t.place(99).weight == 16.0 / 256)
    }

    @Test func randomFramesKeepTheTreeSound() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        let t = HTTP2PriorityTree()
        var open: Set<Int32> = []
        var peak = 0
        for _ in 0..<20000 {
            let id = Int32(next(80) * 2 + 1)
            let dep = Int32(next(81) * 2 - 1 < 0 ? 0 : next(80) * 2 + 1)
            switch next(4) {
            case 0:
                if dep != id { t.priority(id, dependsOn: dep, exclusive: next(2) == 0, weight: next(256) + 1) }
            case 1:
                if !open.contains(id) && dep != id {
                    t.opened(id, dependsOn: next(2) == 0 ? nil : dep, exclusive: next(2) == 0, weight: next(256) + 1)
                    open.insert(id)
                    peak = max(peak, open.count)
                }
            default:
                if open.remove(id) != nil { t.streamClosed(id) }
            }
        }
        // Every node reaches the root within the tree's size: no cycle.
        for (_, node) in t.nodes {
            var n: HTTP2PriorityTree.Node? = node
            var steps = 0
            while let p = n?.parent, steps <= t.nodes.count {
                n = p
                steps += 1
            }
            #expect(steps <= t.nodes.count)
        }
        // As nginx: a node is made anew only while fewer than 32 closed ones wait, so the
        // tree never holds more than the most streams open at once and 32 more.
        #expect(t.nodes.count <= peak + 33, "\(t.nodes.count) nodes, \(peak) open at most")
    }

    /// Found by the HTTP/2 connection fuzzer (Fuzz/h2-seeds/priority): parents and
    /// children hold each other, so a connection's nodes outlived its tree (a leak per
    /// connection that sent priorities).
    @Test func nodesGoWithTheTree() {
        weak var parent: HTTP2PriorityTree.Node?
        weak var child: HTTP2PriorityTree.Node?
        do {
            let t = HTTP2PriorityTree()
            t.priority(3, dependsOn: 0, exclusive: false, weight: 200)
            t.priority(5, dependsOn: 3, exclusive: true, weight: 15)
            t.opened(1, dependsOn: 5, exclusive: false, weight: 31)
            t.opened(3, dependsOn: nil, exclusive: false, weight: 16)
            t.streamClosed(1)
            parent = t.nodes[3]
            child = t.nodes[5]
            #expect(parent != nil && child?.parent === parent)
        }
        #expect(parent == nil && child == nil)
    }
}
