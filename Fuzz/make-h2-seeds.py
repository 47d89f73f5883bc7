#!/usr/bin/python3
"""Writes the seed corpus of the HTTP/2 connection fuzzer (Fuzz/h2-seeds/): valid frame
sequences a client sends after the connection preface (the fuzzer adds the preface),
with HPACK blocks from Python's hpack package (Debian's python3-hpack). They reach every
location of the fuzzer's configuration (Fuzz/HTTP2/HTTP2ConnectionFuzzer.swift) and
every frame type.

usage: Fuzz/make-h2-seeds.py [directory]   (default Fuzz/h2-seeds)
"""

import os
import struct
import sys

import hpack

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def settings(*pairs):
    return frame(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def request(enc, path, method="GET", extra=(), authority="localhost"):
    fields = [(":method", method), (":scheme", "http"), (":path", path), (":authority", authority)]
    return enc.encode(fields + list(extra))


def seeds():
    out = {}
    e = hpack.Encoder()
    out["get-index"] = settings() + frame(HEADERS, END_STREAM | END_HEADERS, 1, request(e, "/"))
    e = hpack.Encoder()
    out["three-streams"] = (
        settings((3, 100), (4, 65535))
        + frame(HEADERS, END_STREAM | END_HEADERS, 1, request(e, "/r"))
        + frame(HEADERS, END_STREAM | END_HEADERS, 3, request(e, "/t", extra=[("x-foo", "bar")]))
        + frame(HEADERS, END_STREAM | END_HEADERS, 5, request(e, "/a.txt", "HEAD"))
        + frame(SETTINGS, ACK, 0)
    )
    e = hpack.Encoder()
    out["post-body"] = (
        settings()
        + frame(HEADERS, END_HEADERS, 1, request(e, "/p", "POST", [("content-length", "11")]))
        + frame(DATA, 0, 1, b"hello ")
        + frame(DATA, END_STREAM, 1, b"world")
    )
    e = hpack.Encoder()
    out["streamed-body"] = (
        settings()
        + frame(HEADERS, END_HEADERS, 1, request(e, "/s", "PUT"))
        + frame(DATA, PADDED, 1, b"\x03abc\x00\x00\x00")
        + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 1000))
        + frame(HEADERS, END_STREAM | END_HEADERS, 1, e.encode([("x-trailer", "1")]))
    )
    e = hpack.Encoder()
    out["big-window"] = (
        settings((4, 1024), (5, 16384))
        + frame(HEADERS, END_STREAM | END_HEADERS, 1, request(e, "/big.bin", extra=[("range", "bytes=100-70000")]))
        + frame(HEADERS, END_STREAM | END_HEADERS, 3, request(e, "/gz", extra=[("accept-encoding", "gzip")]))
        + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 100000))
        + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 65535))
        + frame(RST_STREAM, 0, 3, struct.pack(">I", 8))
    )
    e = hpack.Encoder()
    block = request(e, "/a.txt", extra=[("if-none-match", '"x"'), ("cookie", "a=1"), ("cookie", "b=2")])
    out["continuation"] = (
        settings()
        + frame(HEADERS, END_STREAM, 1, block[:5])
        + frame(CONTINUATION, 0, 1, block[5:9])
        + frame(CONTINUATION, END_HEADERS, 1, block[9:])
    )
    e = hpack.Encoder()
    out["priority"] = (
        settings()
        + frame(PRIORITY, 0, 3, struct.pack(">IB", 0, 200))
        + frame(PRIORITY, 0, 5, struct.pack(">IB", 0x80000003, 15))
        + frame(HEADERS, END_STREAM | END_HEADERS | PRIO, 1, struct.pack(">IB", 5, 31) + request(e, "/big.bin"))
        + frame(HEADERS, END_STREAM | END_HEADERS, 3, request(e, "/index.html"))
        + frame(PING, 0, 0, b"12345678")
        + frame(GOAWAY, 0, 0, struct.pack(">II", 3, 0))
    )
    e = hpack.Encoder()
    out["websocket"] = (
        settings()
        + frame(
            HEADERS, END_HEADERS, 1,
            e.encode([(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/ws"),
                      (":authority", "localhost"), ("sec-websocket-version", "13")]),
        )
        + frame(DATA, 0, 1, b"\x81\x85abcd" + bytes(c ^ k for c, k in zip(b"hello", b"abcda")))
        + frame(RST_STREAM, 0, 1, struct.pack(">I", 0))
    )
    e = hpack.Encoder()
    out["bad-heads"] = (
        settings()
        + frame(HEADERS, END_STREAM | END_HEADERS, 1, request(e, "/e/missing", extra=[("Upper", "x")]))
        + frame(HEADERS, END_STREAM | END_HEADERS, 3, e.encode([(":method", "GET"), (":path", "noslash")]))
        + frame(HEADERS, END_STREAM | END_HEADERS, 5, request(e, "/r", extra=[("connection", "close")]))
        + frame(HEADERS, END_HEADERS, 7, request(e, "/r", "POST", [("content-length", "1")]))
        + frame(DATA, END_STREAM, 7, b"toolong")
    )
    out["settings-ping"] = (
        settings((1, 0), (2, 0), (3, 1), (4, 0x7FFFFFFF), (5, 16777215), (6, 100), (8, 1))
        + frame(PING, 0, 0, b"\x00" * 8)
        + frame(PING, ACK, 0, b"\x01" * 8)
        + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1))
        + frame(GOAWAY, 0, 0, struct.pack(">II", 0, 2) + b"debug")
    )
    e = hpack.Encoder()
    out["proxied"] = (
        settings((4, 8192))
        + frame(HEADERS, END_STREAM | END_HEADERS, 1, request(e, "/u", extra=[("te", "trailers")]))
        + frame(HEADERS, END_HEADERS, 3, request(e, "/ub", "POST"))
        + frame(DATA, 0, 3, b"x" * 1000)
        + frame(WINDOW_UPDATE, 0, 1, struct.pack(">I", 30000))
        + frame(DATA, END_STREAM, 3, b"y" * 100)
        + frame(WINDOW_UPDATE, 0, 3, struct.pack(">I", 60000))
    )
    e = hpack.Encoder()
    out["websocket-upstream"] = (
        settings()
        + frame(
            HEADERS, END_HEADERS, 1,
            e.encode([(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/uw"),
                      (":authority", "localhost"), ("sec-websocket-version", "13")]),
        )
        + frame(DATA, 0, 1, b"\x81\x85abcd" + bytes(c ^ k for c, k in zip(b"hello", b"abcda")))
        + frame(HEADERS, END_STREAM | END_HEADERS, 3, request(e, "/u"))
        + frame(DATA, END_STREAM, 1, b"\x88\x82abcd" + bytes(c ^ k for c, k in zip(b"\x03\xe8", b"ab")))
    )
    return out


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "h2-seeds")
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
