// TLSError: every OpenSSL failure as one line in nginx's wording, with the thread's
// OpenSSL error queue drained into it, e.g.
// `SSL_do_handshake() failed (SSL: error:0A000076:SSL routines::no suitable signature algorithm)`.

import COpenSSL
import CSwiftginxTLSShims
import Glibc

/// A failed OpenSSL call, worded as nginx logs it.
public struct TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public var description: String { message }

    public init(_ message: String) {
        self.message = message
    }

    /// `what` followed by the drained error queue: `what (SSL: error:... error:...)`.
    /// The queue is per thread, so this must run on the thread that made the failing call.
    static func openSSL(_ what: String) -> TLSError {
        TLSError(what + drainErrorQueue())
    }

    /// `what (errno: strerror)`, nginx's wording for a failed syscall under OpenSSL.
    static func system(_ what: String, errno code: Int32) -> TLSError {
        ERR_clear_error()
        return TLSError("\(what) (\(code): \(String(cString: strerror(code))))")
    }

    /// Empties the queue into ` (SSL: error:... error:...)`, or "" when it is empty.
    static func drainErrorQueue() -> String {
        var text = ""
        var buffer = [CChar](repeating: 0, count: 256)
        while true {
            var data: UnsafePointer<CChar>? = nil
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 { break }
            ERR_error_string_n(code, &buffer, buffer.count)
            text += text.isEmpty ? " (SSL: " : " "
            text += buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            if let data, data.pointee != 0, flags & ERR_TXT_STRING != 0 {
                text += ":" + String(cString: data)
            }
        }
        return text.isEmpty ? "" : text + ")"
    }
}
