#!/usr/bin/env python3
"""A small HTTP/1.1 upstream for the proxy tests: it reports what it received.

usage: echo_backend.py PORT NAME [ADDRESS]

ADDRESS is the loopback address to listen on (127.0.0.1 unless given).

Every answer carries X-Backend: NAME. Paths:
  /status/N         answer status N
  /slow?ms=N        wait N ms, then answer
  /hang             never answer (read timeouts)
  /drop             close the connection without answering
  /chunked?n=K      K chunks, Transfer-Encoding: chunked
  /close            HTTP/1.0-style body delimited by closing the connection
  /big?size=N       N bytes of (i % 251), with Content-Length
  /stream?n=K&ms=M  K chunks of "chunk i\\n", M ms apart (streaming)
  /redirect         302, Location: /target ; /redirect-abs: Location http://HOST/abs
  /cookies          two Set-Cookie headers with Domain and Path
  /accel?to=URI     X-Accel-Redirect: URI
  /ws               101 Switching Protocols, then echoes raw bytes
  /auth             auth_request's check: "Authorization: Bearer good" → 200 with
                    X-User: alice; "Bearer forbidden" → 403; otherwise 401 with
                    WWW-Authenticate; the request's method and Content-Length are echoed
                    in X-Seen-Method / X-Seen-Length
  /drop-next        answers, then drops the next request on the same connection unanswered
                    (an idle keep-alive connection closed just as it is reused)
  anything else     200, JSON: method, target, version, headers (in order), body sha256/length
"""
import hashlib
import json
import socketserver
import sys
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])
NAME = sys.argv[2] if len(sys.argv) > 2 else "b"
ADDRESS = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("X-Backend", NAME)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        url = urlsplit(self.path)
        q = parse_qs(url.query)
        path = url.path
        body = self.body()
        if getattr(self, "drop_next", False):
            self.close_connection = True
            self.connection.close()
            return
        if path == "/drop-next":
            self.drop_next = True
            return self.send(200, b"next one is dropped\n")
        if path == "/auth":
            token = self.headers.get("Authorization", "")
            seen = [("X-Seen-Method", self.command), ("X-Seen-Length", self.headers.get("Content-Length", "-"))]
            if token == "Bearer good":
                return self.send(200, b"allowed\n", [("X-User", "alice")] + seen)
            if token == "Bearer forbidden":
                return self.send(403, b"forbidden\n", seen)
            return self.send(401, b"who are you\n", [("WWW-Authenticate", 'Bearer realm="t"')] + seen)
        if path.startswith("/status/"):
            return self.send(int(path.split("/")[2]), b"status body\n", [("Content-Type", "text/plain")])
        if path == "/slow":
            time.sleep(int(q.get("ms", ["100"])[0]) / 1000)
            return self.send(200, b"slow done\n")
        if path == "/hang":
            time.sleep(30)
            return
        if path == "/drop":
            self.close_connection = True
            self.connection.close()
            return
        if path == "/chunked":
            self.send_response(200)
            self.send_header("X-Backend", NAME)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(int(q.get("n", ["3"])[0])):
                piece = ("chunk %d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(int(q.get("n", ["3"])[0])):
                piece = ("chunk %d\n" % i).encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
                time.sleep(int(q.get("ms", ["200"])[0]) / 1000)
            self.wfile.write(b"0\r\n\r\n")
            return
        if path == "/close":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Backend: " + NAME.encode() + b"\r\nConnection: close\r\n\r\n")
            self.wfile.write(b"until close\n" * 100)
            return
        if path == "/big":
            size = int(q.get("size", ["1048576"])[0])
            data = bytes(i % 251 for i in range(251)) * (size // 251 + 1)
            return self.send(200, data[:size], [("Content-Type", "application/octet-stream")])
        if path == "/redirect":
            return self.send(302, b"", [("Location", "/target")])
        if path == "/redirect-abs":
            host = self.headers.get("Host", "")
            return self.send(302, b"", [("Location", "http://%s/abs/x" % host)])
        if path == "/cookies":
            return self.send(200, b"c", [("Set-Cookie", "a=1; Domain=backend.local; Path=/app/x"),
                                        ("Set-Cookie", "b=2; Path=/app")])
        if path == "/accel":
            return self.send(200, b"ignored", [("X-Accel-Redirect", q.get("to", ["/protected/f.txt"])[0]),
                                              ("Content-Type", "application/x-special"),
                                              ("Content-Disposition", "attachment; filename=f.txt")])
        if path == "/ws":
            self.send_response(101)
            self.send_header("Upgrade", self.headers.get("Upgrade", "websocket"))
            self.send_header("Connection", "Upgrade")
            self.end_headers()
            self.wfile.flush()
            self.close_connection = True
            while True:
                data = self.connection.recv(65536)
                if not data:
                    return
                self.connection.sendall(data)
        report = {
            "backend": NAME,
            "method": self.command,
            "target": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "length": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        return self.send(200, json.dumps(report).encode(), [("Content-Type", "application/json")])

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server((ADDRESS, PORT), Handler).serve_forever()
