// Clocks: a monotonic millisecond clock for timers and the coarse wall clock for
// `Date:` headers and logs (both cheap vDSO calls), and a plain sleep for background
// threads.

import Glibc

public enum Clock {
    /// Monotonic milliseconds.
    @inline(__always)
    public static func monotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Monotonic milliseconds to the millisecond (the coarse clock above moves in steps of
    /// the kernel tick, 4 ms at 250 Hz): what a per-millisecond rate needs (limit_req).
    @inline(__always)
    public static func preciseMonotonicMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Wall-clock time in milliseconds since the epoch.
    @inline(__always)
    public static func wallMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }

    /// Blocks the calling thread for `milliseconds` (a background thread's pause; never
    /// on an event loop).
    public static func sleep(milliseconds: Int) {
        var ts = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        var left = timespec()
        while nanosleep(&ts, &left) < 0 && errno == EINTR { ts = left }
    }

    /// Offset of local time from UTC in seconds, at `epochSeconds`.
    public static func utcOffset(at epochSeconds: Int) -> Int {
        var t = time_t(epochSeconds)
        var tmv = tm()
        localtime_r(&t, &tmv)
        return Int(tmv.tm_gmtoff)
    }
}
