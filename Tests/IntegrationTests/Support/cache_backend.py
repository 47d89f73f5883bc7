#!/usr/bin/env python3
"""A counting HTTP/1.1 upstream for the cache tests: it reports how many requests it got.

usage: cache_backend.py PORT

  /count                  the number of other requests received so far (not counted)
  anything else           counted; 200 "n=<count> path=<target>" unless the query says:
                            cc=VALUE      Cache-Control: VALUE
                            vary=NAME     Vary: NAME (the body then shows that request field)
                            cookie=1      Set-Cookie: a=b
                            lm=1          Last-Modified (fixed); a conditional request gets 304
                            ms=N          wait N ms before answering
                            size=N        a body of N bytes; with part=1 half of it is sent, then
                                          the answer waits 10 s before the rest (a slow upstream)
"""
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

PORT = int(sys.argv[1])
LOCK = threading.Lock()
COUNT = [0]
LM = "Mon, 02 Mar 2015 17:20:58 GMT"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/count":
            body = str(COUNT[0]).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with LOCK:
            COUNT[0] += 1
            n = COUNT[0]
        if "ms" in q:
            time.sleep(int(q["ms"]) / 1000)
        if q.get("lm") and self.headers.get("If-Modified-Since") == LM:
            self.send_response(304)
            self.send_header("Last-Modified", LM)
            self.end_headers()
            return
        if "size" in q:
            body = bytes(i % 251 for i in range(int(q["size"])))
        else:
            text = "n=%d path=%s" % (n, self.path)
            if "vary" in q:
                text += " %s=%s" % (q["vary"], self.headers.get(q["vary"], ""))
            body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if "cc" in q:
            self.send_header("Cache-Control", q["cc"])
        if "vary" in q:
            self.send_header("Vary", q["vary"])
        if q.get("cookie"):
            self.send_header("Set-Cookie", "a=b")
        if q.get("lm"):
            self.send_header("Last-Modified", LM)
        self.end_headers()
        if self.command == "HEAD":
            return
        if q.get("part"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(10)
            self.wfile.write(body[len(body) // 2:])
        else:
            self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256


Server(("127.0.0.1", PORT), Handler).serve_forever()
