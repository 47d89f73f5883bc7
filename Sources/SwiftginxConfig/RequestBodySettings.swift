// How a request body is kept while a content handler (a proxy) reads it, as nginx's
// core module configures it: `client_body_in_file_only` (always a file, kept or
// removed after the request), `client_body_in_single_buffer` and `client_body_temp_path`
// (the directory and its levels of subdirectories for the files). The directives are
// parsed in ConfigCompiler+Request.swift; the server names and opens the files
// (RequestBodyFile.swift).

/// `client_body_in_file_only off|on|clean`.
public enum ClientBodyInFileOnly: UInt8, Sendable {
    /// Memory up to `client_body_buffer_size`, then a temporary file removed after the request.
    case off
    /// Always a file, kept after the request (its name is `$request_body_file`).
    case on
    /// Always a file, removed after the request.
    case clean
}

/// A temporary-file directory with nginx's `levels`: `client_body_temp_path dir 1 2`
/// puts file `0000012345` in `dir/5/34/`.
public struct TempPath: Sendable, Equatable {
    /// The directory (absolute); empty for the default `<prefix>client_body_temp`.
    public var directory: String
    /// Lengths of the subdirectory names (each 1 or 2, at most 3 levels).
    public var levels: [Int]

    public init(directory: String = "", levels: [Int] = []) {
        self.directory = directory
        self.levels = levels
    }

    /// The file's path for temporary file number `n` (ten digits, as nginx names them),
    /// and the directories it needs (the temporary directory, then the levels).
    public func file(number n: UInt32, prefix: String) -> (path: String, directories: [String]) {
        let digits = String(n)
        let name = String(repeating: "0", count: max(0, 10 - digits.count)) + digits
        var dir = directory.isEmpty ? prefix + "client_body_temp" : directory
        var dirs = [dir]
        var end = name.endIndex
        for level in levels {
            let start = name.index(end, offsetBy: -level)
            dir += "/" + name[start..<end]
            dirs.append(dir)
            end = start
        }
        return (dir + "/" + name, dirs)
    }
}
