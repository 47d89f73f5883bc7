// nginx's SSI filter (ngx_http_ssi_module) run over a response body: the commands the
// parser (SwiftginxHTTP/SSIParser.swift) finds are executed and their output put in
// their place — `echo`, `set`, `if`/`elif`/`else`/`endif`, `config errmsg|timefmt`,
// `block`/`endblock`, and `include virtual|file` (a subrequest whose answer is inserted
// where the command was; `set=` keeps it in a variable, `stub=` names the block shown
// when it fails). A failed command writes `errmsg` (unless `ssi_silent_errors`) and an
// error-log line. SSI variables (`set`, `include set=`) belong to the page being
// processed; `echo` and expressions read them first, then the request's variables,
// and `$date_local` / `$date_gmt` formatted with `timefmt`.
//
// The filter is fed the body in pieces as it arrives (a command split across reads is
// handled by the parser) and gives back what to send. On a static page an include
// whose answer comes later (a proxied location) does not stop the page: as nginx, every
// include starts at once and the page goes on; the place of each pending one is kept
// (`holes`) and its body goes there when it answers, in whatever order they finish.
// `set=`, `stub=` and `wait="yes"` includes wait for their answer before the page goes
// on. A page whose includes still run once it is parsed is sent as it is ready, each
// answer from its subrequest when it is next (SSIFilter+Stream.swift); one that
// completes at once is sent whole. In a proxied page being relayed, an include has to
// answer at once (a static file, `return`, another SSI page); one that does not fails
// as a command.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

final class SSIFilter {
    static let defaultErrmsg = Array("[an error occurred while processing the directive]".utf8)
    static let defaultTimefmt = Array("%A, %d-%b-%Y %H:%M:%S %Z".utf8)

    unowned let request: Request
    let settings: SSISettings
    private var parser: SSIParser
    /// What to send so far.
    var output: [UInt8] = []
    private var errmsg = SSIFilter.defaultErrmsg
    private var timefmt = SSIFilter.defaultTimefmt
    private var variables: [[UInt8]: [UInt8]] = [:]
    /// Inside `if` ... `endif`; whether the current branch is output; whether a branch was taken.
    private var conditional = false
    private var printing = true
    private var branchTaken = false
    /// `block name=` ... `endblock`: the name and its events while they are collected.
    private var collecting: (name: [UInt8], events: [SSIEvent])? = nil
    private var blocks: [[UInt8]: [SSIEvent]] = [:]
    /// The last `if` regex's groups ($0, $1, ...).
    private var captures: [[UInt8]] = []

    /// Parsed events not yet run (the page goes on from `next` after an include).
    private var queue: [SSIEvent] = []
    private var next = 0
    private var ended = false
    var completed = false
    /// The include whose subrequest is being waited for.
    private var waiting: (sub: Subrequest, stub: [UInt8]?, set: [UInt8]?)? = nil
    /// Includes running while the page goes on: where in `output` each answer goes.
    var holes: [(offset: Int, sub: Subrequest)] = []
    /// The page being sent as it is ready (SSIFilter+Stream.swift), nil until then.
    var stream: SSIStream? = nil
    /// False for a proxied page being relayed: an include must answer at once.
    var waitsForIncludes = true
    /// Called once when the whole page is processed (`output` is final).
    var completion: ((SSIFilter) -> Void)? = nil

    init(request: Request, settings: SSISettings) {
        self.request = request
        self.settings = settings
        parser = SSIParser(valueLength: settings.valueLength)
    }

    /// Processes a piece of the body.
    func feed(_ bytes: UnsafeRawBufferPointer) {
        parser.feed(bytes) { queue.append($0) }
        drain()
    }

    /// The body ended.
    func finish() {
        parser.finish { queue.append($0) }
        ended = true
        drain()
    }

    /// The output so far, taken (a relayed page passes it on as it goes).
    func takeOutput() -> [UInt8] {
        defer { output.removeAll(keepingCapacity: true) }
        return output
    }

    /// Whether the page is done (false while an include waits).
    var isComplete: Bool { completed }

    /// The whole page is parsed and no include is waited for (concurrent ones may run).
    var parsed: Bool { ended && waiting == nil && queue.isEmpty }

    private func drain() {
        while next < queue.count && waiting == nil {
            let e = queue[next]
            next += 1
            handle(e)
        }
        if next == queue.count && next > 0 {
            queue.removeAll(keepingCapacity: true)
            next = 0
        }
        if stream != nil {
            pumpStream()
            return
        }
        if ended && waiting == nil && holes.isEmpty && queue.isEmpty && !completed {
            completed = true
            // While an include updates a cache entry, the request keeps the filter
            // (its answer is held until the update ends).
            if request.hasUpdatingSubrequests {
                request.ssiFilter = self
            } else if request.ssiFilter === self {
                request.ssiFilter = nil
            }
            completion?(self)
            completion = nil
        }
    }

    /// The include's subrequest has answered: its body goes in place and the page goes on.
    func subrequestEnded() {
        guard let w = waiting else { return }
        waiting = nil
        let answer = SSISubrequest.collect(request, w.sub)
        included(answer, stub: w.stub, set: w.set, uri: [])
        drain()
    }

    /// A concurrent include's subrequest has answered: its body goes in its place.
    func includeAnswered(_ sub: Subrequest) {
        // A streamed page sends each include's answer from the subrequest when it is next.
        if stream != nil {
            pumpStream()
            return
        }
        guard let i = holes.firstIndex(where: { $0.sub === sub }) else {
            _ = SSISubrequest.collect(request, sub)
            return
        }
        let offset = holes[i].offset
        holes.remove(at: i)
        let body = SSISubrequest.collect(request, sub).body
        if !body.isEmpty {
            output.insert(contentsOf: body, at: offset)
            for k in holes.indices where holes[k].offset >= offset { holes[k].offset += body.count }
        }
        drain()
    }

    private func handle(_ event: SSIEvent) {
        if var block = collecting {
            if case .command(let c) = event, c.name == Array("endblock".utf8) {
                blocks[block.name] = block.events
                collecting = nil
                return
            }
            block.events.append(event)
            collecting = block
            return
        }
        switch event {
        case .text(let t):
            if printing { output += t }
        case .error(let message):
            if printing { fail(message) }
        case .command(let c):
            run(c)
        }
    }

    private func fail(_ message: String) {
        request.logError(message)
        if !settings.silentErrors { output += errmsg }
    }

    // MARK: commands

    private func run(_ c: SSICommand) {
        let name = c.nameString
        switch name {
        case "if", "elif", "else", "endif":
            conditionalCommand(name, c)
            return
        default:
            break
        }
        guard printing else { return }
        switch name {
        case "echo": echo(c)
        case "set": set(c)
        case "config": config(c)
        case "include": include(c)
        case "block":
            guard let n = c.param("name"), allowed(c, ["name"]) else {
                return fail("no parameter \"name\" in \"block\" SSI command")
            }
            collecting = (n, [])
        case "endblock":
            fail("unexpected \"endblock\" SSI command")
        default:
            fail("unknown SSI command \"\(name)\"")
        }
    }

    /// False (and an error) when the command has a parameter it does not know.
    private func allowed(_ c: SSICommand, _ names: [String]) -> Bool {
        for p in c.params where !names.contains(String(decoding: p.name, as: UTF8.self)) {
            fail("invalid parameter \"\(String(decoding: p.name, as: UTF8.self))\" in \"\(c.nameString)\" SSI command")
            return false
        }
        return true
    }

    private func conditionalCommand(_ name: String, _ c: SSICommand) {
        switch name {
        case "if":
            if conditional { return fail("the \"if\" command inside the \"if\" command") }
            guard let expr = c.param("expr"), allowed(c, ["expr"]) else {
                return fail("no parameter \"expr\" in \"if\" SSI command")
            }
            conditional = true
            printing = evaluateCondition(expr)
            branchTaken = printing
        case "elif":
            guard conditional else { return fail("the \"elif\" command without the \"if\" command") }
            guard let expr = c.param("expr") else { return fail("no parameter \"expr\" in \"elif\" SSI command") }
            if branchTaken {
                printing = false
            } else {
                printing = evaluateCondition(expr)
                branchTaken = printing
            }
        case "else":
            guard conditional else { return fail("the \"else\" command without the \"if\" command") }
            printing = !branchTaken
            branchTaken = true
        default:
            guard conditional else { return fail("the \"endif\" command without the \"if\" command") }
            conditional = false
            printing = true
        }
    }

    private func echo(_ c: SSICommand) {
        guard allowed(c, ["var", "default", "encoding"]) else { return }
        guard let name = c.param("var") else { return fail("no parameter \"var\" in \"echo\" SSI command") }
        let value = lookup(evaluate(name)) ?? c.param("default").map { evaluate($0) } ?? Array("(none)".utf8)
        switch c.param("encoding").map({ String(decoding: $0, as: UTF8.self) }) ?? "entity" {
        case "none": output += value
        case "url": output += SSIText.urlEscaped(value)
        case "entity": output += SSIText.htmlEscaped(value)
        case let other: fail("unknown encoding \"\(other)\" in the \"echo\" command")
        }
    }

    private func set(_ c: SSICommand) {
        guard allowed(c, ["var", "value"]) else { return }
        guard let name = c.param("var"), let value = c.param("value") else {
            return fail("no parameter \"\(c.param("var") == nil ? "var" : "value")\" in \"set\" SSI command")
        }
        variables[name] = evaluate(value)
    }

    private func config(_ c: SSICommand) {
        guard allowed(c, ["errmsg", "timefmt"]) else { return }
        if let e = c.param("errmsg") { errmsg = e }
        if let t = c.param("timefmt") { timefmt = t }
    }

    private func include(_ c: SSICommand) {
        guard allowed(c, ["virtual", "file", "wait", "set", "stub"]) else { return }
        let virtual = c.param("virtual")
        let file = c.param("file")
        if virtual != nil && file != nil {
            return fail("inclusion may be either virtual=\"\(virtual!)\" or file=\"\(file!)\"")
        }
        guard let target = virtual ?? file else {
            return fail("no parameter in \"include\" SSI command")
        }
        if let w = c.param("wait"), w != Array("yes".utf8), w != Array("no".utf8) {
            return fail("invalid value \"\(String(decoding: w, as: UTF8.self))\" in the \"wait\" parameter")
        }
        let stub = c.param("stub")
        if let stub, blocks[stub] == nil {
            return fail("\"\(String(decoding: stub, as: UTF8.self))\" SSI block is not defined")
        }
        var uri = evaluate(target)
        if uri.first != UInt8(ascii: "/") {
            // Relative to the current URI's directory.
            let current = request.uri
            let dir = current[..<((current.lastIndex(of: UInt8(ascii: "/")) ?? -1) + 1)]
            uri = Array(dir) + uri
        }
        guard let (path, args) = SSIText.includeTarget(uri) else {
            return fail("unsafe URI \"\(String(decoding: uri, as: UTF8.self))\" was detected")
        }
        // As nginx, `set=` implies waiting; a stub is shown in the command's place.
        let waits = c.param("set") != nil || stub != nil || c.param("wait") == Array("yes".utf8)
        let concurrent = waitsForIncludes && !waits
        switch SSISubrequest.start(request, uri: path, args: args, concurrent: concurrent) {
        case .answered(let answer):
            included(answer, stub: stub, set: c.param("set"), uri: path)
        case .pending(let sub) where concurrent:
            holes.append((output.count, sub))
            request.ssiFilter = self
        case .pending(let sub) where !waitsForIncludes:
            SSISubrequest.abandon(request, sub)
            if let stub { return replay(stub) }
            fail("the answer of \"\(String(decoding: path, as: UTF8.self))\" did not come at once (a proxied page)")
        case .pending(let sub):
            waiting = (sub, stub, c.param("set"))
            request.ssiFilter = self
        }
    }

    private func included(_ answer: SSISubrequest.Answer, stub: [UInt8]?, set: [UInt8]?, uri: [UInt8]) {
        if let stub, answer.status >= 300 || answer.failed { return replay(stub) }
        if let name = set {
            variables[name] = answer.body
            return
        }
        output += answer.body
    }

    private func replay(_ block: [UInt8]) {
        queue.insert(contentsOf: blocks[block] ?? [], at: next)
    }

    // MARK: values

    /// A variable's value: an SSI variable, then `$date_*`, then the request's.
    private func lookup(_ name: [UInt8]) -> [UInt8]? {
        if let v = variables[name] { return v }
        if name.count == 1, let d = name.first, d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") {
            let n = Int(d - 48)
            return n < captures.count ? captures[n] : nil
        }
        let text = String(decoding: name, as: UTF8.self).lowercased()
        switch text {
        case "date_local", "date_gmt":
            return SSIText.date(gmt: text == "date_gmt", timefmt)
        default:
            break
        }
        if let v = request.customVariables[text] { return v }
        guard let v = Variable(name: text, customNames: []) else { return nil }
        if Variables.foundWhenEmpty(request, v) { return Variables.evaluate(request, variable: v) }
        if case .arg(let arg) = v, SSIText.hasArgument(arg, in: request.args) {
            return Variables.evaluate(request, variable: v)
        }
        let value = Variables.evaluate(request, variable: v)
        return value.isEmpty ? nil : value
    }

    /// A parameter with `$name` / `${name}` replaced (a backslash keeps the next byte).
    func evaluate(_ text: [UInt8]) -> [UInt8] {
        guard text.contains(UInt8(ascii: "$")) || text.contains(92) else { return text }
        var out: [UInt8] = []
        var i = 0
        while i < text.count {
            let c = text[i]
            if c == 92, i + 1 < text.count {
                out.append(text[i + 1])
                i += 2
                continue
            }
            guard c == UInt8(ascii: "$"), i + 1 < text.count else {
                out.append(c)
                i += 1
                continue
            }
            var j = i + 1
            let braced = text[j] == UInt8(ascii: "{")
            if braced { j += 1 }
            let start = j
            while j < text.count, SSIText.isNameByte(text[j]) { j += 1 }
            let name = Array(text[start..<j])
            if braced {
                guard j < text.count, text[j] == UInt8(ascii: "}") else {
                    out += text[i..<j]
                    i = j
                    continue
                }
                j += 1
            }
            if name.isEmpty {
                out.append(c)
                i += 1
                continue
            }
            out += lookup(name) ?? []
            i = j
        }
        return out
    }

    /// nginx's SSI `if` expressions: `$a`, `$a = text`, `$a != text`, `$a = /regex/`,
    /// `$a != /regex/` (and `!` before a lone value negates it).
    private func evaluateCondition(_ expr: [UInt8]) -> Bool {
        let trimmed = Array(expr.drop { $0 == 32 }.reversed().drop { $0 == 32 }.reversed())
        var i = 0
        var inBraces = false
        while i < trimmed.count {
            let c = trimmed[i]
            if c == UInt8(ascii: "{") { inBraces = true }
            if c == UInt8(ascii: "}") { inBraces = false }
            if !inBraces
                && (c == UInt8(ascii: "=")
                    || (c == UInt8(ascii: "!") && i + 1 < trimmed.count
                        && trimmed[i + 1] == UInt8(ascii: "=")))
            {
                break
            }
            i += 1
        }
        var leftText = Array(trimmed[..<i])
        while leftText.last == 32 { leftText.removeLast() }
        if i == trimmed.count {
            var negate = false
            if leftText.first == UInt8(ascii: "!") {
                negate = true
                leftText.removeFirst()
            }
            return evaluate(leftText).isEmpty == negate
        }
        let negate = trimmed[i] == UInt8(ascii: "!")
        i += negate ? 2 : 1
        var rightText = Array(trimmed[i...].drop { $0 == 32 })
        let left = evaluate(leftText)
        let matched: Bool
        if rightText.count >= 2, rightText.first == UInt8(ascii: "/"), rightText.last == UInt8(ascii: "/") {
            rightText = Array(rightText.dropFirst().dropLast())
            let pattern = String(decoding: rightText, as: UTF8.self)
            guard let regex = try? Regex(pattern) else {
                fail("invalid regular expression \"\(pattern)\" in \"\(String(decoding: expr, as: UTF8.self))\"")
                return false
            }
            let groups = left.withUnsafeBytes { regex.match($0) }
            matched = groups != nil
            if let groups {
                // $1..$9 and named captures become SSI variables, as nginx's.
                captures = groups.map { $0.lowerBound >= 0 ? Array(left[$0]) : [] }
                for (name, index) in regex.namedGroups where index < groups.count {
                    variables[Array(name.utf8)] = captures[index]
                }
            }
        } else {
            matched = left == evaluate(rightText)
        }
        return matched != negate
    }
}
