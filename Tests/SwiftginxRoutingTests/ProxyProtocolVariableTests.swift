// `$proxy_protocol_*` names: the address and port variables, and the TLV names nginx
// knows (named, hex with leading zeros, fields of the SSL TLV, unknown ones).

import Testing

@testable import SwiftginxRouting

@Suite struct ProxyProtocolVariableTests {
    func tlv(_ name: String) -> ProxyProtocolTLVKey? {
        if case .proxyProtocolTLV(let k)? = Variable(name: "proxy_protocol_tlv_" + name) { return k }
        return nil
    }

    @Test func addressVariables() {
        #expect(Variable(name: "proxy_protocol_addr") == .proxyProtocol(.addr))
        #expect(Variable(name: "PROXY_PROTOCOL_PORT") == .proxyProtocol(.port))
        #expect(Variable(name: "proxy_protocol_server_addr") == .proxyProtocol(.serverAddr))
        #expect(Variable(name: "proxy_protocol_server_port") == .proxyProtocol(.serverPort))
        #expect(Variable(name: "proxy_protocol_nothing") == nil)
        #expect(Variable(name: "proxy_protocol_tlv_") == nil)
    }

    @Test func tlvNames() {
        #expect(tlv("alpn")?.type == 0x01 && tlv("alpn")?.inSSL == false)
        #expect(tlv("authority")?.type == 0x02)
        #expect(tlv("unique_id")?.type == 0x05)
        #expect(tlv("ssl")?.type == 0x20)
        #expect(tlv("netns")?.type == 0x30)
        #expect(tlv("0x000ae")?.type == 0xAE)
        #expect(tlv("0x3")?.type == 0x03)
        #expect(tlv("ssl_version")?.type == 0x21 && tlv("ssl_version")?.inSSL == true)
        #expect(tlv("ssl_key_alg")?.type == 0x25)
        #expect(tlv("ssl_0x22")?.type == 0x22)
        #expect(tlv("ssl_verify")?.isVerify == true)
        #expect(tlv("crc32c")?.type == nil)
        #expect(tlv("0xzz")?.type == nil)
        #expect(tlv("ssl_alpn")?.type == nil)
    }
}
