// The tries of one proxied request, one record per peer tried: what the $upstream_*
// variables list (nginx's ", " lists) and the upstream metrics read. One array of
// records rather than one array per value: a try starts with one append and a request
// ends with one removal (eight arrays cost eight uniqueness checks and appends per
// request). The per-value views below are lazy maps, so reading them makes no array.

/// One try of an exchange at a peer.
struct UpstreamTry {
    /// The peer's address text (the group's name when no peer was live).
    var address: String
    /// The answer's status; 0 while the try has none (`$upstream_status` shows "-").
    var status: Int
    /// Milliseconds to connect, to the head, to the end; -1 when the try did not get there.
    var connectTime: Int64 = -1
    var headerTime: Int64 = -1
    var responseTime: Int64 = -1
    /// Body bytes of the answer (`$upstream_response_length`).
    var responseLength: Int64 = 0
    /// `$upstream_bytes_received` / `$upstream_bytes_sent`: all bytes of the try, heads included.
    var bytesReceived: Int64 = 0
    var bytesSent: Int64 = 0
}

extension ProxyExchange {
    typealias TryValues<T> = LazyMapCollection<[UpstreamTry], T>

    // Read-only views of the tries, one value each (the variables and the metrics).
    var addresses: TryValues<String> { tryRecords.lazy.map { $0.address } }
    var statuses: TryValues<Int> { tryRecords.lazy.map { $0.status } }
    var connectTimes: TryValues<Int64> { tryRecords.lazy.map { $0.connectTime } }
    var headerTimes: TryValues<Int64> { tryRecords.lazy.map { $0.headerTime } }
    var responseTimes: TryValues<Int64> { tryRecords.lazy.map { $0.responseTime } }
    var responseLengths: TryValues<Int64> { tryRecords.lazy.map { $0.responseLength } }
    var bytesReceived: TryValues<Int64> { tryRecords.lazy.map { $0.bytesReceived } }
    var bytesSent: TryValues<Int64> { tryRecords.lazy.map { $0.bytesSent } }

    /// The current try (the last); the exchange has begun one when this is called.
    @inline(__always) var currentTry: UpstreamTry {
        get { tryRecords[tryRecords.count &- 1] }
        _modify { yield &tryRecords[tryRecords.count &- 1] }
    }

    /// Ends the current try's clock (`$upstream_response_time`) unless it was ended.
    @inline(__always) func endTryClockIfRunning() {
        let last = tryRecords.count - 1
        if last >= 0 && tryRecords[last].responseTime < 0 {
            tryRecords[last].responseTime = worker.clock.milliseconds - tryStartedAt
        }
    }
}
