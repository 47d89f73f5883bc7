// Clocks: a monotonic millisecond clock for timers and the coarse wall clock for
// `Date:` headers and logs (both cheap vDSO calls).

import Glibc

public enum Clock {
    /// Monotonic milliseconds.
    @inline(__always)
    public static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Wall-clock time in milliseconds since the epoch.
    @inline(__always)
    public static func wallMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Offset of local time from UTC in seconds, at `epochSeconds`.
    public static func utcOffset(at epochSeconds: Int) -> Int {
        var t = time_t(epochSeconds)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return Int(tmv.tm_gmtoff)
    }
}
