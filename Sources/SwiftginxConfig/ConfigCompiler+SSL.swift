// Handlers of the ssl module's directives (http and server levels): values checked
// with nginx's messages, paths resolved against the directory of the file that holds
// the directive, settings merged into the server's SSLSettings.

import SwiftginxRouting

extension ConfigCompiler {
    /// Handles an `ssl_*` directive; false when `d` is not one.
    func sslDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        guard d.name.hasPrefix("ssl_") else { return false }
        func set(_ f: @escaping (inout SSLSettings) -> Void) { level.serverSetters.append { f(&$0.ssl) } }
        func path(_ i: Int = 0, variables: Bool = false) throws(ConfigError) -> String {
            let text = d.args[i]
            if text.hasPrefix("data:") { return text }
            if text.contains("$") {
                guard variables else { throw d.error("variables in \"\(d.name)\" are not supported") }
                try checkHandshakeVariables(text, d)
            }
            // An OpenSSL store URI (`store:file:/path`) is not a path.
            if text.hasPrefix("store:") { return text }
            return ConfigFiles.resolve(text, against: ConfigFiles.directory(of: d.file))
        }
        switch d.name {
        case "ssl_certificate":
            let p = try path(variables: true)
            level.sslCertificates = (level.sslCertificates ?? []) + [p]
        case "ssl_certificate_key":
            let p = try path(variables: true)
            level.sslCertificateKeys = (level.sslCertificateKeys ?? []) + [p]
        case "ssl_password_file":
            let p = try path()
            set { $0.passwordFile = p }
        case "ssl_protocols":
            let v = try ConfigCompiler.sslProtocols(d)
            set { $0.protocols = v }
        case "ssl_ciphers":
            let v = d.args[0]
            set { $0.ciphers = v }
        case "ssl_prefer_server_ciphers":
            let v = try ConfigValues.flag(d)
            set { $0.preferServerCiphers = v }
        case "ssl_ecdh_curve":
            let v = d.args[0]
            set { $0.ecdhCurve = v }
        case "ssl_dhparam":
            let p = try path()
            set { $0.dhparam = p }
        case "ssl_session_cache":
            var cache = SSLSessionCache.none
            for a in d.args {
                if a == "off" || a == "none" {
                    guard d.args.count == 1 else { throw d.error("invalid session cache \"\(a)\"") }
                    cache = a == "off" ? .off : .none
                } else if a == "builtin" {
                    cache = .builtin(size: 20480)
                } else if a.hasPrefix("builtin:") {
                    guard let n = ConfigValues.number(String(a.dropFirst(8))), n > 0 else {
                        throw d.error("invalid session cache \"\(a)\"")
                    }
                    cache = .builtin(size: n)
                } else if a.hasPrefix("shared:") {
                    let parts = a.split(separator: ":", omittingEmptySubsequences: false)
                    guard parts.count == 3, !parts[1].isEmpty, let size = ConfigValues.size(String(parts[2])),
                        size >= 8192
                    else { throw d.error("invalid session cache \"\(a)\"") }
                    // About 4000 sessions per megabyte, as nginx estimates.
                    cache = .shared(name: String(parts[1]), size: max(1, size / 256))
                } else {
                    throw d.error("invalid session cache \"\(a)\"")
                }
            }
            set { $0.sessionCache = cache }
        case "ssl_session_timeout":
            let v = try ConfigValues.sec(d)
            set { $0.sessionTimeout = v }
        case "ssl_session_tickets":
            let v = try ConfigValues.flag(d)
            set { $0.sessionTickets = v }
        case "ssl_session_ticket_key":
            let p = try path()
            level.sslTicketKeys = (level.sslTicketKeys ?? []) + [p]
        case "ssl_client_certificate":
            let p = try path()
            set { $0.clientCertificate = p }
        case "ssl_trusted_certificate":
            let p = try path()
            set { $0.trustedCertificate = p }
        case "ssl_verify_client":
            let v = try ConfigValues.choice(
                d,
                ["off": SSLVerifyClient.off, "on": .on, "optional": .optional, "optional_no_ca": .optionalNoCA])
            set { $0.verifyClient = v }
        case "ssl_verify_depth":
            let v = try ConfigValues.num(d)
            set { $0.verifyDepth = v }
        case "ssl_crl":
            let p = try path()
            set { $0.crl = p }
        case "ssl_reject_handshake":
            let v = try ConfigValues.flag(d)
            set { $0.rejectHandshake = v }
        case "ssl_conf_command":
            let pair = (d.args[0], d.args[1])
            level.sslConfCommands = (level.sslConfCommands ?? []) + [pair]
            let dir = d.file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            set { $0.confDirectory = dir }
        case "ssl_ocsp":
            let v = try ConfigValues.choice(d, ["off": SSLOCSPMode.off, "on": .on, "leaf": .leaf])
            set { $0.ocsp = v }
        case "ssl_ocsp_responder":
            let v = d.args[0]
            set { $0.ocspResponder = v }
        case "ssl_ocsp_cache":
            var cache: (name: String, size: Int)? = nil
            for a in d.args where a != "off" {
                let parts = a.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 3, parts[0] == "shared", !parts[1].isEmpty,
                    let size = ConfigValues.size(String(parts[2])), size >= 8192
                else { throw d.error("invalid parameter \"\(a)\"") }
                cache = (String(parts[1]), size)
            }
            set { $0.ocspCache = cache }
        case "ssl_certificate_cache":
            let v = try certificateCache(d)
            set { $0.certificateCache = v }
        case "ssl_certificate_compression":
            let v = try ConfigValues.flag(d)
            set { $0.certificateCompression = v }
        case "ssl_stapling":
            let v = try ConfigValues.flag(d)
            set { $0.stapling = v }
        case "ssl_early_data":
            let v = try ConfigValues.flag(d)
            set { $0.earlyData = v }
        case "ssl_buffer_size":
            let v = try ConfigValues.size(d)
            set { $0.bufferSize = v }
        case "ssl_stapling_file":
            let p = try path()
            set { $0.staplingFile = p }
        case "ssl_stapling_responder":
            let v = d.args[0]
            set { $0.staplingResponder = v }
        case "ssl_stapling_verify":
            let v = try ConfigValues.flag(d)
            set { $0.staplingVerify = v }
        default:
            try genericSlot(d, level: level)
        }
        return true
    }

    /// `ssl_certificate` / `ssl_certificate_key` with variables are evaluated during the
    /// handshake, where only the client's server name and address are known:
    /// `$ssl_server_name` and `geo` variables.
    func checkHandshakeVariables(_ text: String, _ d: ConfigDirective) throws(ConfigError) {
        let value: ComplexValue
        do { value = try ComplexValue.parse(text, customNames: geoNames) } catch { throw d.error(error.message) }
        for case .variable(let v) in value.segments where v != .ssl(.serverName) {
            if case .custom(let name) = v, geoNames.contains(name) { continue }
            throw d.error(
                "only $ssl_server_name can be used in \"\(d.name)\" (the value is evaluated during the handshake)")
        }
    }
}

extension ConfigCompiler {
    /// nginx's check of an `ssl` address: its default server needs a certificate unless it
    /// rejects handshakes; then every other server of the address needs one or rejects
    /// too (a server without either would have nothing to answer with). Otherwise a
    /// server without certificates of its own is served with the default server's.
    func checkSSLCertificates(
        _ servers: [ServerBuilder], default first: ServerBuilder, _ built: [ObjectIdentifier: VirtualServer]
    ) throws(ConfigError) {
        func ready(_ b: ServerBuilder) -> (certificates: Bool, rejects: Bool) {
            let ssl = built[ObjectIdentifier(b)]!.settings.ssl
            return (!ssl.certificates.isEmpty, ssl.rejectHandshake)
        }
        let main = ready(first)
        if main.certificates { return }
        if !main.rejects {
            throw first.directive.error("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive")
        }
        for b in servers where b !== first {
            let r = ready(b)
            if !r.certificates && !r.rejects {
                throw b.directive.error("no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive")
            }
        }
    }

    /// Every `ssl_certificate` needs its `ssl_certificate_key`.
    func checkCertificateKeys(_ ssl: SSLSettings) throws(ConfigError) {
        if ssl.certificateKeys.count < ssl.certificates.count {
            let cert = ssl.certificates[ssl.certificateKeys.count]
            throw ConfigError("no \"ssl_certificate_key\" is defined for certificate \"\(cert)\"")
        }
    }
}

extension ConfigCompiler {
    /// `proxy_ssl_*` / `uwsgi_ssl_*` (`name` without the prefix and "ssl_"): TLS to upstreams.
    func upstreamSSLDirective(
        _ d: ConfigDirective, _ name: String, set: (@escaping (inout UpstreamSSLSettings) -> Void) -> Void
    ) throws(ConfigError) {
        let dir = d.file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        func path() -> String {
            d.args[0].hasPrefix("data:") ? d.args[0] : ConfigFiles.resolve(d.args[0], against: dir + "/")
        }
        switch name {
        case "server_name":
            let v = try ConfigValues.flag(d)
            set { $0.serverName = v }
        case "name":
            let v = try value(d.args[0], d)
            set { $0.name = v }
        case "verify":
            let v = try ConfigValues.flag(d)
            set { $0.verify = v }
        case "verify_depth":
            let v = try ConfigValues.num(d)
            set { $0.verifyDepth = v }
        case "trusted_certificate":
            let p = path()
            set { $0.trustedCertificate = p }
        case "crl":
            let p = path()
            set { $0.crl = p }
        case "password_file":
            let p = path()
            set { $0.passwordFile = p }
        case "certificate", "certificate_key":
            // With variables the value is evaluated per connection (relative results are
            // resolved then); "" means no certificate.
            let text = d.args[0]
            let v: ComplexValue
            if text.isEmpty || text.hasPrefix("data:") || !text.contains("$") {
                v = ComplexValue(literal: text.isEmpty ? "" : path())
            } else {
                v = try value(text, d)
            }
            if name == "certificate" {
                set {
                    $0.certificate = v
                    $0.certificateDirectory = dir
                }
            } else {
                set { $0.certificateKey = v }
            }
        case "protocols":
            let v = try ConfigCompiler.sslProtocols(d)
            set { $0.protocols = v }
        case "ciphers":
            let v = d.args[0]
            set { $0.ciphers = v }
        case "session_reuse":
            let v = try ConfigValues.flag(d)
            set { $0.sessionReuse = v }
        case "conf_command":
            let pair = (d.args[0], d.args[1])
            set {
                $0.confCommands.append(pair)
                $0.confDirectory = dir
            }
        case "certificate_cache":
            let v = try certificateCache(d)
            set { $0.certificateCache = v }
        default:
            try genericSlot(d, level: nil)
        }
    }

    /// `ssl_certificate_cache off | max=N [inactive=time] [valid=time]`.
    func certificateCache(_ d: ConfigDirective) throws(ConfigError) -> CertificateCacheSpec? {
        if d.args == ["off"] { return nil }
        var max: Int? = nil
        var inactive = 10_000
        var valid = 60_000
        for a in d.args {
            if a.hasPrefix("max="), let n = ConfigValues.number(String(a.dropFirst(4))), n > 0 {
                max = n
            } else if a.hasPrefix("inactive="), let t = ConfigValues.time(String(a.dropFirst(9)), isSeconds: true) {
                inactive = t * 1000
            } else if a.hasPrefix("valid="), let t = ConfigValues.time(String(a.dropFirst(6)), isSeconds: true) {
                valid = t * 1000
            } else {
                throw d.error("invalid parameter \"\(a)\"")
            }
        }
        guard let max else { throw d.error("\"\(d.name)\" must have \"max\" parameter") }
        return CertificateCacheSpec(max: max, inactive: inactive, valid: valid)
    }
}

extension ConfigCompiler {
    /// `ssl_protocols` / `proxy_ssl_protocols`: nginx's protocol names, checked.
    static func sslProtocols(_ d: ConfigDirective) throws(ConfigError) -> Set<String> {
        let known = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
        for a in d.args where !known.contains(a) { throw d.error("invalid value \"\(a)\"") }
        return Set(d.args)
    }
}
