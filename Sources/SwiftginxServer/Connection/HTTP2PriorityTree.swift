// The RFC 7540 dependency tree as nginx keeps it, for the order of DATA frames
// (HTTP2Connection+Priority.swift). nghttp2 decodes the PRIORITY frames and the HEADERS
// priority fields; this only records what they say, with nginx's rules: a stream's
// place is its rank (1 under the root, one more per ancestor) and its relative weight
// (weight / 256, times its parent's); a PRIORITY frame for a stream not open yet makes
// a node that the stream's HEADERS keeps unless it carries its own priority; a stream
// that closes leaves its node in the tree, and past 32 such nodes the oldest goes, its
// children taking its place with their share of its weight; a dependency on a
// descendant first moves that descendant up to the node's place. (nghttp2's own tree
// drops a PRIORITY frame's node when the stream opens, and so differs from nginx's.)
// A tree exists only on a connection whose client sent priority information.

final class HTTP2PriorityTree {
    final class Node {
        let id: Int32
        var parent: Node? = nil
        var inTree = false
        var weight = 16
        var rank = 1
        var relWeight = 16.0 / 256
        var children: [Node] = []
        /// A stream is open on the node (else it is in `closed`, for reuse).
        var open = false
        init(id: Int32) { self.id = id }
    }

    private(set) var nodes: [Int32: Node] = [:]
    private var roots: [Node] = []
    /// Nodes without an open stream, oldest first (nginx keeps up to 32).
    private var closed: [Node] = []

    /// A parent and its children hold each other (every node in the tree is in
    /// `nodes`): the links are cut when the connection's tree goes, or its nodes would
    /// outlive it.
    deinit {
        for (_, node) in nodes {
            node.parent = nil
            node.children = []
        }
    }

    /// nginx's place of a stream: rank and relative weight (a stream without a node is
    /// where nginx puts one: under the root with weight 16).
    func place(_ id: Int32) -> (rank: Int, weight: Double) {
        guard let n = nodes[id] else { return (1, 16.0 / 256) }
        return (n.rank, n.relWeight)
    }

    /// A PRIORITY frame.
    func priority(_ id: Int32, dependsOn depend: Int32, exclusive: Bool, weight: Int) {
        let node = self.node(id)
        node.weight = weight
        if !node.open { touch(node) }
        setDependency(node, depend, exclusive)
    }

    /// A stream opened by HEADERS, with its priority fields when it has them.
    func opened(_ id: Int32, dependsOn depend: Int32?, exclusive: Bool, weight: Int) {
        let node = self.node(id)
        closed.removeAll { $0 === node }
        node.open = true
        if depend != nil || !node.inTree {
            node.weight = depend != nil ? weight : 16
            setDependency(node, depend ?? 0, exclusive)
        }
    }

    /// A stream closed: its node stays for the streams that depend on it.
    func streamClosed(_ id: Int32) {
        guard let node = nodes[id], node.open else { return }
        node.open = false
        closed.append(node)
    }

    private func touch(_ node: Node) {
        closed.removeAll { $0 === node }
        closed.append(node)
    }

    private func node(_ id: Int32) -> Node {
        if let n = nodes[id] { return n }
        if closed.count >= 32 { reuseOldest() }
        let n = Node(id: id)
        nodes[id] = n
        return n
    }

    /// The oldest closed node leaves the tree; its children take its place.
    private func reuseOldest() {
        let node = closed.removeFirst()
        nodes[node.id] = nil
        detach(node)
        let sum = node.children.reduce(0) { $0 + $1.weight }
        let parent = node.parent
        for child in node.children {
            child.parent = parent
            child.weight = max(1, sum > 0 ? node.weight * child.weight / sum : 1)
        }
        if let parent {
            node.rank = parent.rank
            node.relWeight = parent.relWeight
        } else {
            node.rank = 0
            node.relWeight = 1
        }
        update(node)
        if let parent { parent.children += node.children } else { roots += node.children }
        node.children = []
        node.inTree = false
    }

    private func detach(_ node: Node) {
        guard node.inTree else { return }
        if let p = node.parent { p.children.removeAll { $0 === node } } else { roots.removeAll { $0 === node } }
    }

    /// ngx_http_v2_set_dependency.
    private func setDependency(_ node: Node, _ depend: Int32, _ exclusiveAsked: Bool) {
        var exclusive = exclusiveAsked
        let parent = depend != 0 ? nodes[depend] : nil
        if parent == nil {
            if depend != 0 { exclusive = false }
            node.rank = 1
            node.relWeight = Double(node.weight) / 256
        } else if let parent {
            if node.inTree {
                // A dependency on a descendant: the descendant takes the node's place.
                var next = parent.parent
                var steps = 0
                while let n = next, n.rank >= node.rank, steps < Self.maxDepth {
                    steps += 1
                    if n === node {
                        detach(parent)
                        let siblings = node.parent.map { $0.children } ?? roots
                        let at = (siblings.firstIndex { $0 === node } ?? siblings.count - 1) + 1
                        if let np = node.parent {
                            np.children.insert(parent, at: at)
                        } else {
                            roots.insert(parent, at: at)
                        }
                        parent.parent = node.parent
                        parent.rank = (node.parent?.rank ?? 0) + 1
                        parent.relWeight = (node.parent?.relWeight ?? 1) / 256 * Double(parent.weight)
                        if !exclusive { update(parent) }
                        break
                    }
                    next = n.parent
                }
            }
            node.rank = parent.rank + 1
            node.relWeight = parent.relWeight / 256 * Double(node.weight)
            if !parent.open { touch(parent) }
        }
        detach(node)
        if exclusive {
            let moved = (parent?.children ?? roots).filter { $0 !== node }
            for child in moved { child.parent = node }
            node.children += moved
            if let parent { parent.children = [] } else { roots = [] }
        }
        if let parent { parent.children.append(node) } else { roots.append(node) }
        node.parent = parent
        node.inTree = true
        update(node)
    }

    /// ngx_http_v2_node_children_update.
    private func update(_ node: Node, depth: Int = 0) {
        guard depth < Self.maxDepth else { return }
        for child in node.children where child !== node {
            child.rank = node.rank + 1
            child.relWeight = node.relWeight / 256 * Double(child.weight)
            update(child, depth: depth + 1)
        }
    }

    /// Walks and updates stop this deep whatever a client built (the tree holds at most
    /// the open streams and 32 closed nodes).
    static let maxDepth = 1024
}
