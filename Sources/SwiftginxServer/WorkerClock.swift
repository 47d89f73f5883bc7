// The per-worker wall clock: the `Date:` header line and `$time_local` are
// rebuilt at most once a second, not per request, and the wall clock is read once a
// second (in between it follows the monotonic clock the worker reads every turn).

import SwiftginxHTTP
import SwiftginxPosix

final class WorkerClock {
    /// Wall-clock milliseconds at the last update.
    private(set) var milliseconds: Int64 = 0
    private(set) var seconds: Int = -1
    /// "Date: Sun, 22 Nov 2026 01:19:49 GMT\r\n"
    private(set) var dateHeader: [UInt8] = []
    /// "Sun, 22 Nov 2026 01:19:49 GMT"
    private(set) var httpDate: [UInt8] = []
    private var timeLocalCache: [UInt8] = []
    private var timeLocalSecond = -1
    private var isoCache: [UInt8] = []
    private var isoSecond = -1
    private var utcOffset = 0

    /// Wall-clock minus monotonic milliseconds at the last reading of the wall clock,
    /// and when (monotonic) to read it again.
    private var wallOffset: Int64 = 0
    private var nextWallReading: Int64 = .min

    init() { update(monotonic: Clock.preciseMonotonicMilliseconds()) }

    /// The wall clock at `monotonic` (the worker's `now`, read once per loop turn). The
    /// wall clock itself is read once a second, its offset from the monotonic one kept
    /// in between: one clock reading per turn instead of two (a system call where the
    /// vDSO is not used). A step of the wall clock shows within a second.
    func update(monotonic: Int64) {
        if monotonic >= nextWallReading {
            wallOffset = Clock.wallMilliseconds() - monotonic
            nextWallReading = monotonic + 1000
        }
        milliseconds = monotonic + wallOffset
        let s = Int(milliseconds / 1000)
        if s != seconds {
            seconds = s
            httpDate = HTTPDate.format(s)
            dateHeader = Array("Date: ".utf8) + httpDate + [13, 10]
        }
    }

    /// `$time_local`: "22/Nov/2026:01:19:49 +0000".
    var timeLocal: [UInt8] {
        if timeLocalSecond != seconds {
            if timeLocalSecond / 3600 != seconds / 3600 { utcOffset = Clock.utcOffset(at: seconds) }
            timeLocalSecond = seconds
            timeLocalCache = HTTPDate.formatCommonLog(seconds, utcOffsetSeconds: utcOffset)
        }
        return timeLocalCache
    }

    /// `$time_iso8601`.
    var timeISO8601: [UInt8] {
        if isoSecond != seconds {
            isoSecond = seconds
            isoCache = HTTPDate.formatISO8601(seconds, utcOffsetSeconds: Clock.utcOffset(at: seconds))
        }
        return isoCache
    }
}
