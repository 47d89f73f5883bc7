// The temporary file a request body goes to when it outgrows `client_body_buffer_size`
// (or always, with `client_body_in_file_only`), named as nginx names it: ten digits in
// `client_body_temp_path` and its level subdirectories. `$request_body_file` is its
// name. With `client_body_in_file_only off` the name is removed as soon as the file is
// open (nginx's non-persistent temporary file: nothing is left behind, even by a crash);
// `clean` removes it when the request ends; `on` keeps it.

import Synchronization
import SwiftginxConfig
import SwiftginxPosix

/// Numbers of temporary files, shared by the worker threads.
enum TempFileNumbers {
    static let counter = Atomic<UInt32>(UInt32.random(in: 0..<1_000_000_000))

    static func next() -> UInt32 {
        counter.wrappingAdd(1, ordering: .relaxed).newValue % 4_000_000_000
    }
}

extension ProxyExchange {
    /// Creates the body's file; throws when it cannot be created.
    func openBodyFile() throws(SystemError) {
        let settings = request.location?.settings
        let mode = settings?.clientBodyInFileOnly ?? .off
        let path = settings?.clientBodyTempPath ?? TempPath()
        for _ in 0..<100 {
            let (name, dirs) = path.file(number: TempFileNumbers.next(), prefix: worker.state.prefix)
            guard let fd = try FileSystem.createNew(name, directories: dirs) else { continue }
            bodyFile = fd
            bodyFileName = name
            bodyFileRemoveAtEnd = mode == .clean
            if mode == .off { FileSystem.unlink(name) }
            request.logError(
                "a client request body is buffered to a temporary file \(name)", level: mode == .off ? .warn : .notice)
            return
        }
        throw SystemError("open", errno: 17)  // EEXIST: every name tried was taken
    }

    /// Closes the body's file at the end of the request (removing it for `clean`).
    func releaseBodyFile() {
        if bodyFile >= 0 {
            FileSystem.close(bodyFile)
            bodyFile = -1
        }
        if let name = bodyFileName {
            if bodyFileRemoveAtEnd { FileSystem.unlink(name) }
            bodyFileName = nil
        }
        bodyFileSize = 0
    }
}
