#!/usr/bin/python3
"""An HTTP/2 (h2c) upstream for the integration tests that answers every stream with
":status 200", a DATA frame "SEE-THIS" that ends the stream, then RESETS RST_STREAM
frames with NO_ERROR for the same stream (frames written by hand: the point is frames a
well-behaved library would not send). With "goaway" instead of a count, a connection
answers its first stream only: the next one gets GOAWAY (last stream: the first) and
the connection closes, as a server that stops keeping connections does.

usage: h2_reset_backend.py PORT RESETS|goaway
"""

import socket
import struct
import sys
import threading


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def serve(conn, mode):
    resets = int(mode) if mode.isdigit() else 0
    first = 0
    buf = b""
    preface = False
    sent_settings = False
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            if not preface:
                if len(buf) < 24:
                    continue
                buf = buf[24:]
                preface = True
            if not sent_settings:
                conn.sendall(frame(4, 0, 0))
                sent_settings = True
            while len(buf) >= 9:
                length = int.from_bytes(buf[0:3], "big")
                if len(buf) < 9 + length:
                    break
                ftype, flags = buf[3], buf[4]
                sid = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                buf = buf[9 + length :]
                if ftype == 4 and not flags & 1:
                    conn.sendall(frame(4, 1, 0))
                elif ftype == 1 and flags & 1 and mode == "goaway" and first:
                    conn.sendall(frame(7, 0, 0, struct.pack(">II", first, 0)))
                    return
                elif ftype == 1 and flags & 1:
                    first = first or sid
                    out = frame(1, 4, sid, b"\x88") + frame(0, 1, sid, b"SEE-THIS")
                    out += b"".join(frame(3, 0, sid, struct.pack(">I", 0)) for _ in range(resets))
                    conn.sendall(out)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
