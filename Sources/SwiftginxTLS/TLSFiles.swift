// Where TLS files come from. Normally OpenSSL opens certificates, keys, CA lists, CRLs
// and password files by path (TLSFileCache and the loaders open every one through
// `TLSFiles.bio`). A serving process that has dropped root (see the Privileged rooms of
// the server) cannot open root-only keys on reload, so it installs an opener that asks
// its privileged supervisor for a descriptor and reads it; every TLS file read then goes
// through a memory BIO filled with those bytes, with the same messages either way.

import COpenSSL
import Synchronization

public enum TLSFiles {
    /// The whole contents of `path`, or nil when it cannot be opened or read.
    public typealias Reader = @Sendable (String) -> [UInt8]?

    private static let reader = Mutex<Reader?>(nil)

    /// Routes every later TLS file read through `read` (nil: back to plain paths).
    public static func install(_ read: Reader?) {
        reader.withLock { $0 = read }
    }

    /// A BIO positioned at the start of `path`'s contents, or nil.
    static func bio(_ path: String) -> OpaquePointer? {
        guard let read = reader.withLock({ $0 }) else { return BIO_new_file(path, "r") }
        guard let bytes = read(path), let bio = BIO_new(BIO_s_mem()) else { return nil }
        if !bytes.isEmpty && BIO_write(bio, bytes, Int32(bytes.count)) != Int32(bytes.count) {
            BIO_free(bio)
            return nil
        }
        return bio
    }
}
