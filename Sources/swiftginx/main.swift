// The swiftginx command line: nginx's flags (-c -p -e -g -t -T -q -s -v -V -h),
// parsed the way nginx parses them, then config test, signal, or run.

import Glibc
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxServer

func stderrPrint(_ s: String) {
    var line = s + "\n"
    line.withUTF8 { FileSystem.writeAll(2, UnsafeRawBufferPointer($0)) }
}

func fail(_ message: String) -> Never {
    stderrPrint("swiftginx: \(message)")
    exit(1)
}

struct CommandLine_ {
    var showHelp = false
    var showVersion = false
    var showConfigure = false
    var test = false
    var dump = false
    var quiet = false
    var signal: String? = nil
    var prefix: String? = nil
    var errorLog: String? = nil
    var config: String? = nil
    var global: String? = nil
    var explain: String? = nil
}

func parseArguments(_ args: [String]) -> CommandLine_ {
    var o = CommandLine_()
    var i = 1
    while i < args.count {
        let a = Array(args[i].utf8)
        guard a.first == UInt8(ascii: "-") else { fail("invalid option: \"\(args[i])\"") }
        var j = 1
        while j < a.count {
            let c = Character(Unicode.Scalar(a[j]))
            j += 1
            switch c {
            case "?", "h": o.showHelp = true
            case "v": o.showVersion = true
            case "V":
                o.showVersion = true
                o.showConfigure = true
            case "t": o.test = true
            case "T":
                o.test = true
                o.dump = true
            case "q": o.quiet = true
            case "s", "p", "e", "c", "g", "x":
                var value: String
                if j < a.count {
                    value = String(decoding: a[j...], as: UTF8.self)
                } else {
                    i += 1
                    guard i < args.count else {
                        switch c {
                        case "s": fail("option \"-s\" requires parameter")
                        case "p": fail("option \"-p\" requires directory name")
                        case "e": fail("option \"-e\" requires file name")
                        case "c": fail("option \"-c\" requires file name")
                        case "x": fail("option \"-x\" requires a request, e.g. 'GET http://host:8080/path'")
                        default: fail("option \"-g\" requires parameter")
                        }
                    }
                    value = args[i]
                }
                j = a.count
                switch c {
                case "s":
                    guard SignalName.number(value) != nil else { fail("invalid option: \"-s \(value)\"") }
                    o.signal = value
                case "p": o.prefix = value
                case "e": o.errorLog = value
                case "c": o.config = value
                case "x": o.explain = value
                default: o.global = value
                }
            default:
                fail("invalid option: \"\(c)\"")
            }
        }
        i += 1
    }
    return o
}

let usage = """
    Usage: swiftginx [-?hvVtTq] [-s signal] [-p prefix]
                     [-e filename] [-c filename] [-g directives] [-x request]

    Options:
      -?,-h         : this help
      -v            : show version and exit
      -V            : show version and configure options then exit
      -t            : test configuration and exit
      -T            : test configuration, dump it and exit
      -q            : suppress non-error messages during configuration testing
      -s signal     : send signal to a master process: stop, quit, reopen, reload
      -p prefix     : set prefix path (default: the current directory)
      -e filename   : set error log file (default: logs/error.log)
      -c filename   : set configuration file (default: conf/swiftginx.conf)
      -g directives : set global directives out of configuration file
      -x request    : explain how a request is routed, e.g. -x 'GET http://host:8080/path'
    """

func currentDirectory() -> String { FileSystem.currentDirectory() ?? "/" }

func absolute(_ path: String, against base: String) -> String {
    path.hasPrefix("/") ? path : base + path
}

let opts = parseArguments(CommandLine.arguments)

if opts.showVersion || opts.showHelp {
    if opts.showConfigure {
        for line in BuildInfo.versionReport { stderrPrint(line) }
    } else {
        stderrPrint(ServerVersion.versionLine)
    }
    if opts.showHelp { stderrPrint(usage) }
    if !opts.test { exit(0) }
}

var prefix = opts.prefix.map { absolute($0, against: currentDirectory() + "/") } ?? currentDirectory()
if !prefix.hasSuffix("/") { prefix += "/" }
let configPath = absolute(opts.config ?? "conf/swiftginx.conf", against: prefix)
let startupLog = opts.errorLog.map { $0 == "stderr" ? $0 : absolute($0, against: prefix) }

let config: RuntimeConfig
do {
    config = try ConfigLoader.load(
        path: configPath, prefix: prefix, environment: PosixConfigEnvironment(), globalDirectives: opts.global,
        defaultErrorLog: startupLog)
} catch {
    stderrPrint("swiftginx: [emerg] \(error.description)")
    if opts.test { stderrPrint("swiftginx: configuration file \(configPath) test failed") }
    if let startupLog, startupLog != "stderr", let fd = try? FileSystem.openAppend(startupLog) {
        var line = "[emerg] \(error.description)\n"
        line.withUTF8 { FileSystem.writeAll(fd, UnsafeRawBufferPointer($0)) }
        FileSystem.close(fd)
    }
    exit(1)
}

if let request = opts.explain {
    print(RouteExplainer.explain(request, config: config, prefix: prefix))
    exit(0)
}

if opts.test {
    // As nginx -t, certificates and keys are loaded too.
    do {
        let tls = try Server.buildTLS(config)
        // As nginx, warnings are printed even with -q (it only silences the success lines).
        for w in config.warnings { stderrPrint("swiftginx: [warn] \(w)") }
        for w in tls.warnings { stderrPrint("swiftginx: [warn] \(w)") }
    } catch {
        stderrPrint("swiftginx: [emerg] \(error.description)")
        stderrPrint("swiftginx: configuration file \(configPath) test failed")
        exit(1)
    }
    if !opts.quiet {
        // Beyond nginx: what this configuration asks for that does nothing here.
        for line in config.acceptedWithoutEffect { stderrPrint("swiftginx: [notice] \(line)") }
    }
    if !opts.quiet || opts.dump {
        stderrPrint("swiftginx: the configuration file \(configPath) syntax is ok")
        stderrPrint("swiftginx: configuration file \(configPath) test is successful")
    }
    if opts.dump {
        for w in config.locationWarnings { stderrPrint("swiftginx: [warn] \(w)") }
        for source in config.sources {
            print("# configuration file \(source.path):")
            print(source.text)
        }
    }
    exit(0)
}

if let signal = opts.signal {
    let pidPath = config.main.pidPath
    guard let bytes = FileSystem.readFile(pidPath) else {
        stderrPrint("swiftginx: [error] open() \"\(pidPath)\" failed (2: No such file or directory)")
        exit(1)
    }
    let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
    guard let pid = Int32(text), pid > 0 else {
        stderrPrint("swiftginx: [error] invalid PID number \"\(text)\" in \"\(pidPath)\"")
        exit(1)
    }
    do { try ProcessControl.kill(pid, SignalName.number(signal)!) } catch {
        stderrPrint(
            "swiftginx: [alert] kill(\(pid), \(SignalName.number(signal)!)) failed (\(error.errno): \(SystemError.message(error.errno)))"
        )
        exit(1)
    }
    exit(0)
}

let server = Server(
    options: ServerOptions(
        configPath: configPath, prefix: prefix, globalDirectives: opts.global, startupErrorLog: startupLog))
do {
    exit(try server.run(config))
} catch {
    stderrPrint("swiftginx: [emerg] \(error.description)")
    exit(1)
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
