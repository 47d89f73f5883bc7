// Test support: a pick as the peer it chose, so that a test expecting a peer fails
// (`try #require(pick.peerIndex)`) instead of ending early when there is none.

import SwiftginxUpstream

extension RoundRobinBalancer.Pick {
    /// The chosen peer, or nil for `.noLivePeers`.
    var peerIndex: Int? {
        if case .peer(let i) = self { return i }
        return nil
    }
}
