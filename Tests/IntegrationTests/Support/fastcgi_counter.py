# A minimal FastCGI responder for the keep-connection tests:
#   python3 fastcgi_counter.py PORT
# Each answer says which accepted connection served it ("connection N") and carries a
# Content-Length; REQUEST_URI /extra answers 2 bytes more than its Content-Length says.
# A connection is kept when BEGIN_REQUEST has FCGI_KEEP_CONN, else closed after the answer.
import socket
import struct
import sys
import threading

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(16)


def record(kind, content, padding=0):
    return struct.pack(">BBHHBx", 1, kind, 1, len(content), padding) + content + b"\0" * padding


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def pairs(data):
    params, i = {}, 0
    while i < len(data):
        lengths = []
        for _ in range(2):
            if data[i] & 0x80:
                lengths.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7FFFFFFF)
                i += 4
            else:
                lengths.append(data[i])
                i += 1
        k, v = lengths
        params[data[i:i + k].decode()] = data[i + k:i + k + v].decode()
        i += k + v
    return params


def serve(conn, number):
    try:
        while True:
            keep, params, raw = False, {}, b""
            while True:
                _, kind, _, length, padding = struct.unpack(">BBHHBx", read_exact(conn, 8))
                content = read_exact(conn, length + padding)[:length]
                if kind == 1:
                    keep = bool(content[2] & 1)
                elif kind == 4:
                    raw += content
                elif kind == 5 and length == 0:
                    break
            params = pairs(raw)
            body = ("connection %d" % number).encode()
            extra = b"xx" if params.get("REQUEST_URI") == "/extra" else b""
            head = b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)
            conn.sendall(record(6, head + body + extra, 3) + record(6, b"") + record(3, b"\0" * 8))
            if not keep:
                break
    except (EOFError, OSError):
        pass
    conn.close()


count = 0
while True:
    c, _ = server.accept()
    count += 1
    threading.Thread(target=serve, args=(c, count), daemon=True).start()
