// nginx's order for DATA frames of several streams (RFC 7540 priorities). nghttp2 keeps
// the dependency tree the client builds with PRIORITY frames and HEADERS priority
// fields, and its scheduler shares the connection among the streams by weight, charging
// each stream for what it sent before. nginx instead sends the frames it has ready in a
// strict order: a stream higher in the tree (fewer ancestors) first, then the one of
// larger relative weight (its weight / 256, times its parent's relative weight), then
// first come first served. That order is kept on top of nghttp2's scheduler: when
// nghttp2 asks a stream for its next DATA frame while another stream that nginx would
// serve first can send one now (data ready, its window open), the asked stream is
// deferred (NGHTTP2_ERR_DEFERRED) and resumed once a frame went out, so nghttp2 picks
// the next. Nothing is framed or reordered by hand, and a connection whose client sent
// no priority information (most; and every one with a single stream) skips all of it.

import CNghttp2

extension HTTP2Connection {
    /// Whether nghttp2 should ask another stream first (called before `produce`).
    func yieldsPriority(_ stream: HTTP2Stream) -> Bool {
        guard let tree = priorityTree, !priorityPass, streams.count > 1, let s = session else { return false }
        let mine = tree.place(stream.id)
        for (_, other) in streams where other !== stream {
            guard !other.closed, other.headSubmitted, !other.noBody, !other.dataDeferred, !other.priorityDeferred,
                !other.eofProduced, other.hasDataReady,
                nghttp2_session_get_stream_remote_window_size(s, other.id) > 0
            else { continue }
            let theirs = tree.place(other.id)
            if theirs.rank < mine.rank || theirs.rank == mine.rank && theirs.weight > mine.weight {
                stream.priorityDeferred = true
                priorityHeld.append(stream)
                return true
            }
        }
        return false
    }

    /// The streams held back go back to nghttp2's queue (after a frame went out, or when
    /// nothing else could be sent: then none is held back again in this round).
    func resumePriorityHeld() {
        guard let s = session else { return }
        for stream in priorityHeld where stream.priorityDeferred {
            stream.priorityDeferred = false
            if !stream.closed { nghttp2_session_resume_data(s, stream.id) }
        }
        priorityHeld.removeAll(keepingCapacity: true)
    }

    /// A PRIORITY frame, or a request's HEADERS: recorded in nginx's tree (made at the
    /// first priority information the client sends).
    func recordPriority(_ frame: nghttp2_frame) {
        let hd = frame.hd
        if hd.type == UInt8(NGHTTP2_PRIORITY.rawValue) {
            let spec = frame.priority.pri_spec
            if priorityTree == nil { priorityTree = HTTP2PriorityTree() }
            priorityTree!.priority(
                hd.stream_id, dependsOn: spec.stream_id, exclusive: spec.exclusive != 0, weight: Int(spec.weight))
            return
        }
        guard frame.headers.cat == NGHTTP2_HCAT_REQUEST else { return }
        if hd.flags & UInt8(NGHTTP2_FLAG_PRIORITY.rawValue) != 0 {
            let spec = frame.headers.pri_spec
            if priorityTree == nil { priorityTree = HTTP2PriorityTree() }
            priorityTree!.opened(
                hd.stream_id, dependsOn: spec.stream_id, exclusive: spec.exclusive != 0, weight: Int(spec.weight))
        } else {
            priorityTree?.opened(hd.stream_id, dependsOn: nil, exclusive: false, weight: 16)
        }
    }
}

extension HTTP2Stream {
    /// A DATA frame (or the end of the body) can be produced now.
    var hasDataReady: Bool { out.readableCount > 0 || (!active && writer.fileRemaining > 0) || drained }
}
