// Unit tests of HTTPStatus: nginx's status lines and error pages, byte for byte.

import Testing

@testable import SwiftginxHTTP

@Suite struct HTTPStatusTests {
    func str(_ b: [UInt8]?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

    @Test func statusLines() {
        #expect(str(HTTPStatus.statusLine(200)) == "HTTP/1.1 200 OK\r\n")
        #expect(str(HTTPStatus.statusLine(404)) == "HTTP/1.1 404 Not Found\r\n")
        #expect(str(HTTPStatus.statusLine(302)) == "HTTP/1.1 302 Moved Temporarily\r\n")
        #expect(str(HTTPStatus.statusLine(422)) == "HTTP/1.1 422 \r\n")
        #expect(str(HTTPStatus.statusLine(999)) == "HTTP/1.1 999 \r\n")
        #expect(HTTPStatus.reasonPhrase(413) == "Request Entity Too Large")
        #expect(HTTPStatus.reasonPhrase(414) == "Request-URI Too Large")
        #expect(HTTPStatus.reasonPhrase(416) == "Requested Range Not Satisfiable")
        #expect(HTTPStatus.reasonPhrase(405) == "Not Allowed")
        #expect(HTTPStatus.reasonPhrase(504) == "Gateway Time-out")
    }

    @Test func errorPages() {
        #expect(
            str(HTTPStatus.errorPageBody(404, signature: "nginx/1.31.5"))
                == "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
                + "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.31.5</center>\r\n</body>\r\n</html>\r\n"
        )
        #expect(
            str(HTTPStatus.errorPageBody(494, signature: "nginx"))
                == "<html>\r\n<head><title>400 Request Header Or Cookie Too Large</title></head>\r\n<body>\r\n"
                + "<center><h1>400 Bad Request</h1></center>\r\n<center>Request Header Or Cookie Too Large</center>\r\n"
                + "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
        #expect(
            str(HTTPStatus.errorPageBody(302, signature: "nginx"))?.contains("<title>302 Found</title>")
                == true)
        for code in [100, 101, 200, 204, 304, 422] {
            #expect(HTTPStatus.errorPageBody(code, signature: "nginx") == nil, "\(code)")
        }
    }
}
