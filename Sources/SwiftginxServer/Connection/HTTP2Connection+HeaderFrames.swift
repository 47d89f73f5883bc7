// A response header block in as few frames as the client allows. nghttp2 cuts every
// header block it sends into 16 KiB pieces (a HEADERS frame and CONTINUATION frames),
// whatever SETTINGS_MAX_FRAME_SIZE the client announced; nginx sends a block as one
// HEADERS frame up to the client's maximum frame size (nginx's suite checks that a
// 96 KiB head comes in one frame to a client that allows 128 KiB frames). So, as the
// frames nghttp2 made are queued, a CONTINUATION frame is joined to the frame before it
// in the same block while the joined payload stays within the client's limit: the
// 9-byte frame head of the earlier frame gets the new length (and the END_HEADERS flag
// when the joined frame had it), and the CONTINUATION's head is dropped. Nothing is
// decoded: the header block's bytes (HPACK, nghttp2's) pass through untouched, and a
// block nghttp2 pads or prioritises is left as it is.

import CNghttp2

extension HTTP2Connection {
    /// Queues one chunk nghttp2 produced (a whole frame), joining a CONTINUATION frame
    /// to the open HEADERS or CONTINUATION frame of its block where the client allows.
    func queueFrame(_ frame: UnsafeRawBufferPointer) {
        let length = frame.count >= 9 ? Int(frame[0]) << 16 | Int(frame[1]) << 8 | Int(frame[2]) : -1
        guard length == frame.count - 9 else {
            // Not one whole frame (nghttp2 hands out one per call; never assumed blindly).
            openHeaderFrame = -1
            pendingOut.append(frame)
            return
        }
        let type = frame[3]
        let flags = frame[4]
        let endHeaders = flags & UInt8(NGHTTP2_FLAG_END_HEADERS.rawValue) != 0
        if type == UInt8(NGHTTP2_CONTINUATION.rawValue), openHeaderFrame >= 0, let s = session {
            let head = (pendingOut.base + pendingOut.readerIndex + openHeaderFrame).assumingMemoryBound(to: UInt8.self)
            let joined = (Int(head[0]) << 16 | Int(head[1]) << 8 | Int(head[2])) + length
            let limit = Int(nghttp2_session_get_remote_settings(s, NGHTTP2_SETTINGS_MAX_FRAME_SIZE))
            if joined <= limit && frame[5..<9].elementsEqual(UnsafeRawBufferPointer(start: head + 5, count: 4)) {
                head[0] = UInt8(truncatingIfNeeded: joined >> 16)
                head[1] = UInt8(truncatingIfNeeded: joined >> 8)
                head[2] = UInt8(truncatingIfNeeded: joined)
                if endHeaders {
                    head[4] |= UInt8(NGHTTP2_FLAG_END_HEADERS.rawValue)
                    openHeaderFrame = -1
                }
                pendingOut.append(UnsafeRawBufferPointer(rebasing: frame[9...]))
                return
            }
        }
        let plainHeaders =
            type == UInt8(NGHTTP2_HEADERS.rawValue)
            && flags & UInt8(NGHTTP2_FLAG_PADDED.rawValue | NGHTTP2_FLAG_PRIORITY.rawValue) == 0
        let opensBlock = !endHeaders && (plainHeaders || type == UInt8(NGHTTP2_CONTINUATION.rawValue))
        openHeaderFrame = opensBlock ? pendingOut.readableCount : -1
        pendingOut.append(frame)
    }
}
