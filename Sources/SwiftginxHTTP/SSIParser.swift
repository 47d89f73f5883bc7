// The parser of nginx's server-side includes (ngx_http_ssi_module): it finds the
// commands `<!--# name param="value" ... -->` in a body and hands back the text
// around them and each command with its parameters. It is incremental: bytes are fed
// as they arrive, a command (or the `<!--#` opening itself) may be split across any
// number of reads, and text that might begin a command is held back until it is known
// not to. Pure (no sockets, no configuration): the SSI filter in SwiftginxServer runs
// the commands; tests feed it every split of their input.
//
// Syntax as nginx parses it: the command name follows `<!--#` (leading white space
// allowed), parameters are `name="value"` or `name='value'` separated by white space,
// a backslash before the quote character keeps it in the value, and `-->` ends the
// command. A command name or parameter name over 32 bytes, a value over the
// `ssi_value_length` limit, or a malformed command is an error: the text up to the
// closing `-->` is dropped and `.error` reported in its place.

/// One parsed SSI command.
public struct SSICommand: Equatable, Sendable {
    public var name: [UInt8]
    public var params: [(name: [UInt8], value: [UInt8])]

    public init(name: [UInt8], params: [(name: [UInt8], value: [UInt8])]) {
        self.name = name
        self.params = params
    }

    /// The value of the first parameter called `name`.
    public func param(_ name: String) -> [UInt8]? {
        let key = Array(name.utf8)
        return params.first { $0.name == key }?.value
    }

    public var nameString: String { String(decoding: name, as: UTF8.self) }

    public static func == (a: SSICommand, b: SSICommand) -> Bool {
        a.name == b.name && a.params.count == b.params.count
            && zip(a.params, b.params).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// What the parser found.
public enum SSIEvent: Equatable, Sendable {
    /// Body bytes to pass on unchanged.
    case text([UInt8])
    case command(SSICommand)
    /// A malformed command (dropped); the message is nginx's error-log wording.
    case error(String)
}

public struct SSIParser: Sendable {
    public static let maxNameLength = 32
    private static let opening: [UInt8] = Array("<!--#".utf8)

    private enum State: Sendable {
        case text
        /// `matched` bytes of "<!--#" seen.
        case opening(matched: Int)
        case preCommand
        case command
        case preParam
        case param
        case preEqual
        case preValue
        case value(quote: UInt8)
        case escaped(quote: UInt8)
        case postValue
        /// `dashes` of "--" seen, then '>'.
        case closing(dashes: Int)
        /// A malformed command: skip to "-->"; `dashes` seen.
        case skipping(dashes: Int, message: String)
    }

    private var state: State = .text
    private let valueLimit: Int
    private var name: [UInt8] = []
    private var params: [(name: [UInt8], value: [UInt8])] = []
    private var paramName: [UInt8] = []
    private var value: [UInt8] = []

    /// `valueLength`: `ssi_value_length` (256 by default).
    public init(valueLength: Int = 256) {
        valueLimit = valueLength
    }

    @inline(__always) private static func isSpace(_ c: UInt8) -> Bool {
        c == 32 || c == 9 || c == 10 || c == 13
    }

    @inline(__always) private static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95
    }

    /// Parses `bytes`, reporting text and commands in order. Text that may start a
    /// command stays held until the next call (or `finish`).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (SSIEvent) -> Void) {
        var textStart = 0
        var i = 0
        let n = bytes.count
        func flushText(upTo end: Int) {
            if end > textStart { emit(.text(Array(bytes[textStart..<end]))) }
        }
        while i < n {
            let c = bytes[i]
            switch state {
            case .text:
                // Fast scan to the next '<'.
                var j = i
                while j < n && bytes[j] != 60 { j += 1 }
                if j == n {
                    i = n
                    continue
                }
                flushText(upTo: j)
                textStart = j
                state = .opening(matched: 1)
                i = j + 1
                continue
            case .opening(let matched):
                if c == Self.opening[matched] {
                    if matched + 1 == Self.opening.count {
                        // Drop the held opening from the text of this call (if it began here).
                        textStart = i + 1
                        name.removeAll(keepingCapacity: true)
                        params.removeAll()
                        state = .preCommand
                    } else {
                        state = .opening(matched: matched + 1)
                    }
                    i += 1
                    continue
                }
                // Not a command: the held bytes are text. Those before this call are
                // re-emitted here (they were never part of this buffer).
                let heldBefore = matched - min(matched, i - textStart)
                if heldBefore > 0 { emit(.text(Array(Self.opening[0..<heldBefore]))) }
                state = .text
                continue  // re-examine c as text
            case .preCommand:
                if Self.isSpace(c) {
                } else if Self.isNameByte(c) {
                    name.append(c)
                    state = .command
                } else {
                    state = .skipping(dashes: 0, message: "invalid SSI command")
                    continue
                }
            case .command:
                if Self.isNameByte(c) {
                    if name.count == Self.maxNameLength {
                        state = .skipping(dashes: 0, message: "too long SSI command")
                        continue
                    }
                    name.append(c)
                } else if Self.isSpace(c) {
                    state = .preParam
                } else if c == 45 {
                    state = .closing(dashes: 1)
                } else {
                    state = .skipping(dashes: 0, message: "invalid character in SSI command")
                    continue
                }
            case .preParam:
                if Self.isSpace(c) {
                } else if c == 45 {
                    state = .closing(dashes: 1)
                } else if Self.isNameByte(c) {
                    paramName = [c]
                    state = .param
                } else {
                    state = .skipping(dashes: 0, message: "invalid SSI parameter")
                    continue
                }
            case .param:
                if Self.isNameByte(c) {
                    if paramName.count == Self.maxNameLength {
                        state = .skipping(dashes: 0, message: "too long SSI parameter name")
                        continue
                    }
                    paramName.append(c)
                } else if c == 61 {
                    state = .preValue
                } else if Self.isSpace(c) {
                    state = .preEqual
                } else {
                    state = .skipping(dashes: 0, message: "invalid character in SSI parameter")
                    continue
                }
            case .preEqual:
                if Self.isSpace(c) {
                } else if c == 61 {
                    state = .preValue
                } else {
                    state = .skipping(dashes: 0, message: "invalid SSI parameter")
                    continue
                }
            case .preValue:
                if Self.isSpace(c) {
                } else if c == 34 || c == 39 {
                    value.removeAll(keepingCapacity: true)
                    state = .value(quote: c)
                } else {
                    state = .skipping(dashes: 0, message: "invalid SSI parameter value")
                    continue
                }
            case .value(let quote):
                if c == quote {
                    params.append((paramName, value))
                    state = .postValue
                } else if c == 92 {
                    state = .escaped(quote: quote)
                } else {
                    if value.count == valueLimit {
                        state = .skipping(dashes: 0, message: "too long SSI parameter value")
                        continue
                    }
                    value.append(c)
                }
            case .escaped(let quote):
                // A backslash keeps the quote character; before anything else it stays.
                if c != quote { value.append(92) }
                if value.count >= valueLimit {
                    state = .skipping(dashes: 0, message: "too long SSI parameter value")
                    continue
                }
                value.append(c)
                state = .value(quote: quote)
            case .postValue:
                if Self.isSpace(c) {
                    state = .preParam
                } else if c == 45 {
                    state = .closing(dashes: 1)
                } else {
                    state = .skipping(dashes: 0, message: "invalid character after SSI parameter value")
                    continue
                }
            case .closing(let dashes):
                if dashes == 1 {
                    guard c == 45 else {
                        state = .skipping(dashes: 0, message: "invalid SSI command end")
                        continue
                    }
                    state = .closing(dashes: 2)
                } else {
                    guard c == 62 else {
                        state = .skipping(dashes: 0, message: "invalid SSI command end")
                        continue
                    }
                    emit(.command(SSICommand(name: name, params: params)))
                    state = .text
                    textStart = i + 1
                }
            case .skipping(let dashes, let message):
                if c == 45 {
                    state = .skipping(dashes: min(dashes + 1, 2), message: message)
                } else if c == 62 && dashes == 2 {
                    emit(.error(message))
                    state = .text
                    textStart = i + 1
                } else {
                    state = .skipping(dashes: 0, message: message)
                }
            }
            i += 1
        }
        switch state {
        case .text:
            flushText(upTo: n)
        case .opening(let matched):
            // The held opening bytes of this call stay held; what came before is text.
            let heldHere = min(matched, n - textStart)
            flushText(upTo: n - heldHere)
        default:
            break
        }
    }

    public mutating func feed(_ bytes: [UInt8], _ emit: (SSIEvent) -> Void) {
        bytes.withUnsafeBytes { feed($0, emit) }
    }

    /// The body ended: held opening bytes are text; an unfinished command is dropped.
    public mutating func finish(_ emit: (SSIEvent) -> Void) {
        switch state {
        case .opening(let matched):
            emit(.text(Array(Self.opening[0..<matched])))
        case .text:
            break
        default:
            emit(.error("unexpected end of file in SSI command"))
        }
        state = .text
    }
}
