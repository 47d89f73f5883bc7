// The epoll instance of one event loop, plus the eventfd used to wake it from
// another thread. Registrations carry a 64-bit token so the loop can dispatch
// with a switch and drop stale events.

import CSwiftginxShims
import Glibc

public struct EpollEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let readable = EpollEvents(rawValue: EPOLLIN.rawValue)
    public static let writable = EpollEvents(rawValue: EPOLLOUT.rawValue)
    public static let readHangup = EpollEvents(rawValue: EPOLLRDHUP.rawValue)
    public static let hangup = EpollEvents(rawValue: EPOLLHUP.rawValue)
    public static let error = EpollEvents(rawValue: EPOLLERR.rawValue)
    public static let edgeTriggered = EpollEvents(rawValue: EPOLLET.rawValue)
}

public final class Epoll {
    public let fd: Int32
    let events: UnsafeMutablePointer<epoll_event>
    public let capacity: Int

    public init(capacity: Int = 512) throws(SystemError) {
        fd = try syscall("epoll_create1", swiftginx_epoll_create1(Int32(EPOLL_CLOEXEC)))
        self.capacity = capacity
        events = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        Glibc.close(fd)
    }

    public func add(_ target: Int32, _ ev: EpollEvents, token: UInt64) throws(SystemError) {
        _ = try syscall("epoll_ctl", swiftginx_epoll_ctl(fd, EPOLL_CTL_ADD, target, ev.rawValue, token))
    }

    public func modify(_ target: Int32, _ ev: EpollEvents, token: UInt64) throws(SystemError) {
        _ = try syscall("epoll_ctl", swiftginx_epoll_ctl(fd, EPOLL_CTL_MOD, target, ev.rawValue, token))
    }

    public func remove(_ target: Int32) {
        _ = swiftginx_epoll_ctl(fd, EPOLL_CTL_DEL, target, 0, 0)
    }

    /// Waits up to `timeout` ms (-1 forever); returns the number of ready events.
    public func wait(timeout: Int32) -> Int {
        let n = swiftginx_epoll_wait(fd, events, Int32(capacity), timeout)
        return n < 0 ? 0 : Int(n)
    }

    @inline(__always) public func token(at i: Int) -> UInt64 { swiftginx_epoll_event_data(events + i) }
    @inline(__always) public func events(at i: Int) -> EpollEvents {
        EpollEvents(rawValue: swiftginx_epoll_event_events(events + i))
    }
}

/// An eventfd that another thread writes to wake a loop.
public final class EventNotifier: @unchecked Sendable {
    public let fd: Int32
    public init() throws(SystemError) {
        fd = try syscall("eventfd", swiftginx_eventfd(0, Int32(EFD_NONBLOCK) | Int32(EFD_CLOEXEC)))
    }
    deinit { Glibc.close(fd) }
    public func notify() {
        var one: UInt64 = 1
        _ = Glibc.write(fd, &one, 8)
    }
    public func drain() {
        var v: UInt64 = 0
        _ = Glibc.read(fd, &v, 8)
    }
}
