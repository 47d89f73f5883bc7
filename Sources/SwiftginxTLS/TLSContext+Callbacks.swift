// The C callbacks OpenSSL calls during a handshake: SNI (switch or refuse), ALPN, session
// ticket keys and OCSP stapling. They find their Swift objects through the callback
// argument (the TLSContext, unretained: it outlives its SSL_CTX's use) or through the
// SSL's ex_data slot (the TLSConnection).

import COpenSSL
import CSwiftginxTLSShims
import Glibc

/// ex_data slot holding the unretained TLSContext of an SSL_CTX.
let contextExIndex: Int32 = swiftginx_SSL_CTX_get_ex_new_index()

/// ex_data slot holding the unretained TLSConnection of an SSL.
let connectionExIndex: Int32 = swiftginx_SSL_get_ex_new_index()

func connection(of ssl: OpaquePointer?) -> TLSConnection? {
    guard let ssl, let pointer = SSL_get_ex_data(ssl, connectionExIndex) else { return nil }
    return Unmanaged<TLSConnection>.fromOpaque(pointer).takeUnretainedValue()
}

/// SNI, decided in the ClientHello callback (before the protocol version is chosen, so a
/// server's `ssl_protocols` apply to handshakes that name it, as nginx 1.29.2+): the
/// server name extension is read from the ClientHello itself.
func clientHelloCallback(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?)
    -> Int32
{
    guard let ssl, let connection = connection(of: ssl), !connection.isClient else { return 1 }
    var data: UnsafePointer<UInt8>? = nil
    var length = 0
    var name: String? = nil
    if SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_server_name), &data, &length) == 1, let data {
        // A list of one host_name: list length, type 0, name length, name.
        let bytes = UnsafeBufferPointer(start: data, count: length)
        guard length >= 5, Int(bytes[0]) << 8 | Int(bytes[1]) + 2 == length,
            bytes[2] == UInt8(TLSEXT_NAMETYPE_host_name), Int(bytes[3]) << 8 | Int(bytes[4]) + 5 == length
        else {
            alert?.pointee = SSL_AD_DECODE_ERROR
            return 0
        }
        let host = bytes[5...]
        if host.count > 255 || host.contains(0) {
            alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
            return 0
        }
        name = String(decoding: host, as: UTF8.self)
    }
    let rc = chooseServer(ssl, connection.context, name, alert)
    connection.serverNameChosen = true
    return rc == SSL_TLSEXT_ERR_OK ? 1 : 0
}

func serverNameCallback(
    _ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let ssl, let arg else { return SSL_TLSEXT_ERR_NOACK }
    if connection(of: ssl)?.serverNameChosen == true { return SSL_TLSEXT_ERR_OK }
    let initial = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)).map { String(cString: $0) }
    return chooseServer(ssl, initial, name, alert)
}

/// Switches the handshake to the context of the server `name` chooses, or refuses it.
private func chooseServer(
    _ ssl: OpaquePointer, _ initial: TLSContext, _ name: String?, _ alert: UnsafeMutablePointer<Int32>?
) -> Int32 {
    var target = initial
    if let handler = initial.serverNameHandler {
        guard let chosen = handler(name) else {
            alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
            return SSL_TLSEXT_ERR_ALERT_FATAL
        }
        target = chosen
    }
    if target.rejectHandshake || target.isClient {
        alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    if target !== initial {
        // The connection keeps the new context alive: its callbacks point at it.
        connection(of: ssl)?.activeContext = target
        _ = SSL_set_SSL_CTX(ssl, target.ctx)
        // SSL_set_SSL_CTX takes the certificates; verification and options (the
        // protocols among them) were copied from the first context when the SSL was
        // made, so copy them again (as nginx).
        SSL_set_verify(ssl, SSL_CTX_get_verify_mode(target.ctx), SSL_CTX_get_verify_callback(target.ctx))
        SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(target.ctx))
        SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(target.ctx))
        SSL_set_options(ssl, SSL_CTX_get_options(target.ctx))
        // The named server's ssl_early_data decides (early data is accepted or refused
        // after this callback).
        _ = SSL_set_max_early_data(ssl, SSL_CTX_get_max_early_data(target.ctx))
    }
    return SSL_TLSEXT_ERR_OK
}

func alpnSelectCallback(
    _ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?
) -> Int32 {
    guard let out, let outLength, let offered, let arg else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    let context = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    // nginx refuses the handshake when nothing in common (no_application_protocol).
    return context.selectALPN(out, outLength, offered, offeredLength)
        ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL
}

/// `ssl_certificate` with variables: loads the files named for this handshake's server
/// name into the connection. A failure refuses the handshake; its message is kept on the
/// connection for the error log (nginx logs `cannot load certificate "…"`).
func certificateCallback(_ ssl: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg else { return 0 }
    let initial = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    let connection = connection(of: ssl)
    // After an SNI switch the named server's context decides.
    let context = connection?.activeContext ?? initial
    guard let provider = context.certificateProvider else { return 1 }
    let name = SSL_get_servername(ssl, Int32(TLSEXT_NAMETYPE_host_name)).map { String(cString: $0) }
    let pairs = provider(name, connection?.clientAddress ?? [])
    if pairs.isEmpty {
        connection?.certificateError = TLSError("invalid server name \"\(name ?? "")\" for \"ssl_certificate\"")
        return 0
    }
    do throws(TLSError) {
        for pair in pairs {
            try TLSContext.loadPair(
                into: .connection(ssl), pair.certificate, pair.key, passwords: context.passwords,
                cache: context.certificateFiles)
        }
        return 1
    } catch {
        connection?.certificateError = error
        return 0
    }
}

func statusCallback(_ ssl: OpaquePointer?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSContext>.fromOpaque(arg).takeUnretainedValue()
    // The staple of the certificate chosen for this handshake (RSA or ECDSA).
    guard let certificate = SSL_get_certificate(ssl),
        let staple = context.staples.first(where: { $0.certificate == certificate }),
        let response = staple.response(now: time(nil)),
        let copy = swiftginx_OPENSSL_malloc(response.count)
    else { return SSL_TLSEXT_ERR_NOACK }
    response.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: response.count) }
    // OpenSSL takes ownership of the copy.
    _ = swiftginx_SSL_set_tlsext_status_ocsp_resp(ssl, copy.assumingMemoryBound(to: UInt8.self), response.count)
    return SSL_TLSEXT_ERR_OK
}

/// One `ssl_session_ticket_key` file: 48 bytes (16 name, 16 HMAC, 16 AES-128) or
/// 80 bytes (16 name, 32 HMAC, 32 AES-256).
struct TicketKey: Sendable {
    let name: [UInt8]
    let hmacKey: [UInt8]
    let aesKey: [UInt8]

    /// A random 80-byte key (automatic rotation without key files).
    init(random: Void) throws(TLSError) {
        var bytes = [UInt8](repeating: 0, count: 80)
        guard RAND_bytes(&bytes, 80) == 1 else { throw TLSError.openSSL("RAND_bytes() failed") }
        name = Array(bytes[0..<16])
        hmacKey = Array(bytes[16..<48])
        aesKey = Array(bytes[48..<80])
    }

    init(path: String) throws(TLSError) {
        let bytes = try readFile(path, what: "ssl_session_ticket_key")
        switch bytes.count {
        case 48:
            name = Array(bytes[0..<16])
            hmacKey = Array(bytes[16..<32])
            aesKey = Array(bytes[32..<48])
        case 80:
            name = Array(bytes[0..<16])
            hmacKey = Array(bytes[16..<48])
            aesKey = Array(bytes[48..<80])
        default:
            throw TLSError("\"\(path)\" must be 48 or 80 bytes")
        }
    }

    var cipher: OpaquePointer? { aesKey.count == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc() }

    func setHMAC(_ hmac: OpaquePointer) -> Bool {
        var digest = Array("SHA256".utf8CString)
        var key = hmacKey
        return key.withUnsafeMutableBytes { keyBytes in
            digest.withUnsafeMutableBufferPointer { digestName in
                var parameters = [
                    OSSL_PARAM_construct_octet_string(
                        swiftginx_OSSL_MAC_PARAM_KEY, keyBytes.baseAddress, keyBytes.count),
                    OSSL_PARAM_construct_utf8_string(swiftginx_OSSL_MAC_PARAM_DIGEST, digestName.baseAddress, 0),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_MAC_CTX_set_params(hmac, &parameters) == 1
            }
        }
    }
}

/// Encrypt with the first key; decrypt with any, asking for a fresh ticket when the key
/// was not the first (nginx's rotation). Keys come from the context the connection
/// started on, which is the one whose tickets OpenSSL uses.
func ticketKeyCallback(
    _ ssl: OpaquePointer?, _ name: UnsafeMutablePointer<UInt8>?, _ iv: UnsafeMutablePointer<UInt8>?,
    _ cipherContext: OpaquePointer?, _ hmac: OpaquePointer?, _ encrypt: Int32
) -> Int32 {
    guard let name, let iv, let cipherContext, let hmac, let connection = connection(of: ssl) else { return -1 }
    let keys = connection.context.ticketKeys
    if encrypt == 1 {
        guard let key = keys.first, let cipher = key.cipher else { return -1 }
        let ivLength = EVP_CIPHER_get_iv_length(cipher)
        guard RAND_bytes(iv, ivLength) == 1 else { return -1 }
        key.name.withUnsafeBufferPointer { name.update(from: $0.baseAddress!, count: 16) }
        guard EVP_EncryptInit_ex(cipherContext, cipher, nil, key.aesKey, iv) == 1, key.setHMAC(hmac) else {
            return -1
        }
        return 1
    }
    for (index, key) in keys.enumerated() where key.name.elementsEqual(UnsafeBufferPointer(start: name, count: 16)) {
        guard let cipher = key.cipher, key.setHMAC(hmac),
            EVP_DecryptInit_ex(cipherContext, cipher, nil, key.aesKey, iv) == 1
        else { return -1 }
        return index == 0 ? 1 : 2
    }
    return 0
}
